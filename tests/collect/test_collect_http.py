"""yfinance and alpaca providers over real HTTP on 127.0.0.1: shapes, pagination, retries, failures, limits."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from tests.collect.collect_testing import AFTER_THANKSGIVING_2025, FAST_RETRY, read_records
from tests.collect.market_server import ALPACA_PATH, YAHOO_PREFIX, MarketServer

from market.collect import calendar
from market.collect.http import RateLimiter, RetryPolicy, retry_after_seconds
from market.collect.errors import CollectError
from market.collect.runner import collect

WEDNESDAY, HALF_DAY = date(2025, 11, 26), date(2025, 11, 28)
KEY, SECRET = "AKTEST0123456789", "sk-test-abcdefghijklmnop"


@pytest.fixture
def alpaca_env(make_env, server: MarketServer, monkeypatch):
    server.key, server.secret = KEY, SECRET
    monkeypatch.setenv("TEST_ALPACA_KEY", KEY)
    monkeypatch.setenv("TEST_ALPACA_SECRET", SECRET)

    def build(symbols=("AAPL", "MSFT", "XOM"), **collect_settings):
        return make_env(provider="alpaca", symbols=list(symbols), base_url=server.url, key_env="TEST_ALPACA_KEY",
                        secret_env="TEST_ALPACA_SECRET", feed="iex", requests_per_minute=60_000, **collect_settings)

    return build


def expected(server: MarketServer, symbols, day: date, timeframe: str = "1Min") -> set[tuple]:
    session = calendar.session(day)
    first, last = (session.midnight_utc, session.midnight_utc) if timeframe == "1Day" else (
        session.open_utc, session.close_utc - timedelta(seconds=1))
    return {(b.symbol, calendar.rfc3339(b.ts), b.open, b.high, b.low, b.close, b.volume)
            for s in symbols for b in server.bars(s, timeframe, first, last)}


def landed(env) -> list[tuple]:
    return [(r["symbol"], r["ts"], r["open"], r["high"], r["low"], r["close"], r["volume"])
            for r in read_records(Path(env.landing_path) / "bars")]


# --- alpaca ------------------------------------------------------------------------------------------


def test_alpaca_follows_pages_including_an_empty_one(alpaca_env, server: MarketServer) -> None:
    server.page_size, server.empty_page_after = 500, 1
    env = alpaca_env()
    result = collect(env, dates=[WEDNESDAY, HALF_DAY], retry=FAST_RETRY, at=AFTER_THANKSGIVING_2025)
    rows = landed(env)
    assert result.ok and len(rows) == len(set(rows)) == 3 * (390 + 210)
    assert set(rows) == expected(server, ["AAPL", "MSFT", "XOM"], WEDNESDAY) | expected(
        server, ["AAPL", "MSFT", "XOM"], HALF_DAY)
    requests = server.served(ALPACA_PATH)
    # 1170 bars = 3 pages of 500 + the empty page; 630 bars = 2 pages + the empty page
    assert len(requests) == 7 and result.requests == 7
    first = requests[0].query
    assert first == {"symbols": "AAPL,MSFT,XOM", "timeframe": "1Min", "start": "2025-11-26T14:30:00Z",
                     "end": "2025-11-26T20:59:59Z", "limit": "10000", "feed": "iex", "adjustment": "raw",
                     "sort": "asc"}
    assert all("page_token" in r.query for r in requests[1:4]) and "page_token" not in requests[4].query
    record = read_records(Path(env.landing_path) / "bars")[0]
    assert record["provider"] == "alpaca" and record["trade_count"] >= 1 and record["vwap"] > 0


def test_alpaca_daily_bars_at_new_york_midnight(alpaca_env, server: MarketServer) -> None:
    env = alpaca_env(timeframe="1Day")
    result = collect(env, dates=[WEDNESDAY, HALF_DAY], retry=FAST_RETRY, at=AFTER_THANKSGIVING_2025)
    assert sorted({r[1] for r in landed(env)}) == ["2025-11-26T05:00:00Z", "2025-11-28T05:00:00Z"]
    (request,) = server.served(ALPACA_PATH)  # both sessions in one request
    assert (request.query["start"], request.query["end"]) == ("2025-11-26T05:00:00Z", "2025-11-29T04:59:59Z")
    assert [f.path.name for f in result.files] == ["alpaca_1Day_2025-11-26_2025-11-28_b000.jsonl"]


def test_alpaca_honours_retry_after_on_429(alpaca_env, server: MarketServer) -> None:
    server.fault("status", status=429, retry_after="1", body={"message": "too many requests"})
    started = time.monotonic()
    result = collect(alpaca_env(), dates=[WEDNESDAY], retry=FAST_RETRY, at=AFTER_THANKSGIVING_2025)
    requests = server.served(ALPACA_PATH)
    assert result.ok and result.retries == 1 and [r.fault for r in requests] == ["status", None]
    assert requests[1].at - requests[0].at >= 0.95, "waited for Retry-After, not the 0.05 s backoff"
    assert time.monotonic() - started < 15


def test_alpaca_retries_5xx_timeout_and_truncated_json(alpaca_env, server: MarketServer) -> None:
    server.fault("status", status=503)
    server.fault("slow", delay=2.5)
    server.fault("truncate")
    retry = RetryPolicy(max_attempts=5, initial_backoff=0.05, max_backoff=1.0)
    result = collect(alpaca_env(), dates=[WEDNESDAY], retry=retry, timeout=1.0, at=AFTER_THANKSGIVING_2025)
    assert result.ok and result.lines == 1170
    assert [r.fault for r in server.served(ALPACA_PATH)] == ["status", "slow", "truncate", None]
    assert result.retries == 3


def test_a_failing_symbol_is_reported_and_a_rerun_fills_the_gap(alpaca_env, server: MarketServer) -> None:
    env = alpaca_env(symbols=("AAPL", "BAD", "MSFT"))
    server.fault("status", match=lambda r: "BAD" in r.symbols, times=None, status=500)
    retry = RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.1)
    first = collect(env, dates=[WEDNESDAY], retry=retry, at=AFTER_THANKSGIVING_2025)
    assert not first.ok
    assert [(f.symbol, f.session) for f in first.failures] == [("BAD", WEDNESDAY)]
    message = first.failures[0].message
    assert "server error (HTTP 500)" in message and "gave up after 2 attempts" in message
    # the batch failed twice, then each symbol was asked alone: AAPL once, BAD twice, MSFT once
    assert Counter(r.query["symbols"] for r in server.served(ALPACA_PATH)) == {
        "AAPL,BAD,MSFT": 2, "AAPL": 1, "BAD": 2, "MSFT": 1}
    bars = Path(env.landing_path) / "bars"
    assert [p.name for p in bars.iterdir()] == ["alpaca_1Min_2025-11-26_b000.jsonl"]
    manifest = (Path(env.landing_path) / "_manifests" / "alpaca_1Min_2025-11-26_b000.json").read_text()
    assert '"BAD": "server error (HTTP 500)' in manifest

    server.faults.clear()
    server.requests.clear()
    second = collect(env, dates=[WEDNESDAY], retry=retry, at=AFTER_THANKSGIVING_2025)
    assert second.ok and [f.path.name for f in second.files] == ["alpaca_1Min_2025-11-26_b000_BAD.jsonl"]
    assert [r.query["symbols"] for r in server.served(ALPACA_PATH)] == ["BAD"], "only the gap is fetched"
    rows = landed(env)
    assert len(rows) == len(set(rows)) == 3 * 390
    assert set(rows) == expected(server, ["AAPL", "BAD", "MSFT"], WEDNESDAY)

    # complete: both files are rewritten under their own names with the same bars, nothing new lands
    # (a fill file is never merged into the batch file: the stream would not re-read the batch file)
    before = {p.name: p.read_bytes() for p in bars.iterdir()}
    third = collect(env, dates=[WEDNESDAY], retry=retry, at=AFTER_THANKSGIVING_2025)
    assert third.ok and sorted(f.path.name for f in third.files) == sorted(before) == [
        "alpaca_1Min_2025-11-26_b000.jsonl", "alpaca_1Min_2025-11-26_b000_BAD.jsonl"]
    assert {p.name: p.read_bytes() for p in bars.iterdir()} == before
    assert sorted(landed(env)) == sorted(rows)


def test_a_complete_file_is_kept_when_its_refetch_fails(alpaca_env, server: MarketServer) -> None:
    env = alpaca_env(symbols=("AAPL", "MSFT"))
    collect(env, dates=[WEDNESDAY], retry=FAST_RETRY, at=AFTER_THANKSGIVING_2025)
    before = (Path(env.landing_path) / "bars" / "alpaca_1Min_2025-11-26_b000.jsonl").read_bytes()
    server.fault("status", match=lambda r: "MSFT" in r.symbols, times=None, status=502)
    again = collect(env, dates=[WEDNESDAY], retry=FAST_RETRY, at=AFTER_THANKSGIVING_2025)
    assert not again.ok and [p.name for p in again.kept] == ["alpaca_1Min_2025-11-26_b000.jsonl"]
    assert (Path(env.landing_path) / "bars" / "alpaca_1Min_2025-11-26_b000.jsonl").read_bytes() == before
    skipped = collect(env, dates=[WEDNESDAY], missing_only=True, retry=FAST_RETRY, at=AFTER_THANKSGIVING_2025)
    assert skipped.ok and [p.name for p in skipped.unchanged] == ["alpaca_1Min_2025-11-26_b000.jsonl"]


def test_alpaca_rejected_credentials_fail_all_symbols_at_once(alpaca_env, server: MarketServer) -> None:
    server.secret = "a-different-secret"
    result = collect(alpaca_env(), dates=[WEDNESDAY], retry=FAST_RETRY, at=AFTER_THANKSGIVING_2025)
    assert [f.symbol for f in result.failures] == ["AAPL", "MSFT", "XOM"]
    assert result.failures[0].message == "credentials rejected (HTTP 403): forbidden."
    assert len(server.served(ALPACA_PATH)) == 1, "no retries and no per-symbol requests on 403"
    assert not (Path(result.landing) / "bars").exists()


def test_alpaca_missing_credentials_is_a_clear_error(alpaca_env, monkeypatch) -> None:
    monkeypatch.delenv("TEST_ALPACA_SECRET")
    with pytest.raises(CollectError, match="Alpaca API secret key is not set: export TEST_ALPACA_SECRET"):
        collect(alpaca_env(), dates=[WEDNESDAY])


def test_an_error_body_echoing_the_key_is_redacted(alpaca_env, server: MarketServer) -> None:
    server.fault("status", times=None, status=400, body={"message": f"invalid key {KEY} / {SECRET}"})
    result = collect(alpaca_env(symbols=["AAPL"]), dates=[WEDNESDAY], retry=FAST_RETRY, at=AFTER_THANKSGIVING_2025)
    assert result.failures[0].message == "request refused (HTTP 400): invalid key *** / ***"


# --- yfinance ----------------------------------------------------------------------------------------


def yahoo_env(make_env, server: MarketServer, symbols=("AAPL", "MSFT"), **settings):
    return make_env(provider="yfinance", symbols=list(symbols), base_url=server.url, requests_per_minute=60_000,
                    **settings)


def test_yahoo_chart_minutes_skip_null_points(make_env, server: MarketServer) -> None:
    env = yahoo_env(make_env, server)
    result = collect(env, dates=[WEDNESDAY], retry=FAST_RETRY, at=AFTER_THANKSGIVING_2025)
    assert result.ok and result.lines == 2 * 389  # the all-null minute is dropped, as yfinance does
    full = expected(server, ["AAPL", "MSFT"], WEDNESDAY)
    assert set(landed(env)) < full and len(full - set(landed(env))) == 2
    requests = server.served(YAHOO_PREFIX)
    assert [r.path for r in requests] == [YAHOO_PREFIX + "AAPL", YAHOO_PREFIX + "MSFT"]
    session = calendar.session(WEDNESDAY)
    assert requests[0].query == {"period1": str(int(session.open_utc.timestamp())),
                                 "period2": str(int(session.close_utc.timestamp())), "interval": "1m",
                                 "includePrePost": "false"}
    record = read_records(Path(env.landing_path) / "bars")[0]
    assert record["provider"] == "yfinance" and record["trade_count"] is None and record["vwap"] is None


def test_yahoo_daily_points_are_restamped_at_new_york_midnight(make_env, server: MarketServer) -> None:
    env = yahoo_env(make_env, server, timeframe="1Day")
    collect(env, dates=[WEDNESDAY, HALF_DAY], retry=FAST_RETRY, at=AFTER_THANKSGIVING_2025)
    assert set(landed(env)) == expected(server, ["AAPL", "MSFT"], WEDNESDAY, "1Day") | expected(
        server, ["AAPL", "MSFT"], HALF_DAY, "1Day")
    assert server.served(YAHOO_PREFIX)[0].query["interval"] == "1d"


def test_yahoo_unknown_symbol_fails_alone_without_retries(make_env, server: MarketServer) -> None:
    server.fault("status", match=lambda r: r.symbols == ["MSFT"], times=1, status=503)
    env = yahoo_env(make_env, server, symbols=("AAPL", "NOPE", "MSFT"))
    result = collect(env, dates=[WEDNESDAY], retry=FAST_RETRY, at=AFTER_THANKSGIVING_2025)
    assert [(f.symbol, f.message) for f in result.failures] == [
        ("NOPE", "request refused (HTTP 404): No data found, symbol may be delisted")]
    assert Counter(r.symbols[0] for r in server.served(YAHOO_PREFIX)) == {"AAPL": 1, "NOPE": 1, "MSFT": 2}
    assert {r[0] for r in landed(env)} == {"AAPL", "MSFT"}


def test_yahoo_body_always_truncated_gives_up_with_a_clear_message(make_env, server: MarketServer) -> None:
    server.fault("truncate", match=lambda r: r.symbols == ["AAPL"], times=None)
    result = collect(yahoo_env(make_env, server), dates=[WEDNESDAY], retry=FAST_RETRY, at=AFTER_THANKSGIVING_2025)
    assert [f.symbol for f in result.failures] == ["AAPL"]
    assert result.failures[0].message.startswith("invalid JSON in the response (truncated body?)")
    assert result.failures[0].message.endswith("(gave up after 3 attempts)")
    assert {r[0] for r in landed(yahoo_env(make_env, server))} == {"MSFT"}


def test_yahoo_connection_refused_is_retried_then_reported(make_env) -> None:
    with MarketServer() as gone:
        url = gone.url
    env = make_env(provider="yfinance", symbols=["AAPL"], base_url=url)
    retry = RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.1)
    result = collect(env, dates=[WEDNESDAY], retry=retry, at=AFTER_THANKSGIVING_2025)
    assert result.failures[0].message.startswith("connection failed")
    assert result.retries == 1


# --- rate limiting -----------------------------------------------------------------------------------


def test_requests_are_spaced_by_the_rate_limit(make_env, server: MarketServer) -> None:
    env = make_env(provider="yfinance", symbols=["AAPL", "MSFT", "XOM", "JPM"], base_url=server.url,
                   requests_per_minute=300)
    collect(env, dates=[WEDNESDAY], retry=FAST_RETRY, at=AFTER_THANKSGIVING_2025)
    times = [r.at for r in server.served(YAHOO_PREFIX)]
    assert len(times) == 4
    # 300/min = one request per 0.2 s (unlimited, these requests are ~5 ms apart). The server sees the
    # limiter's spacing plus scheduling noise, so allow some slack on a loaded machine.
    assert times[-1] - times[0] >= 0.55
    assert min(b - a for a, b in zip(times, times[1:])) >= 0.12


def test_rate_limiter_spacing_with_a_fake_clock() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(120, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limiter.acquire()
    assert slept == [0.5, 0.5]
    now[0] += 2
    limiter.acquire()
    assert slept == [0.5, 0.5], "no wait after an idle spell"
    assert RateLimiter(None).interval == 0


def test_retry_after_forms() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    in_two = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=2), usegmt=True)
    assert 0 < retry_after_seconds(in_two) <= 2.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


# --- credentials -------------------------------------------------------------------------------------


def test_secret_values_do_not_print_themselves(monkeypatch) -> None:
    from market.collect import secrets

    monkeypatch.setenv("SOME_KEY", "value-that-must-not-leak")
    secret = secrets.resolve("SOME_KEY")
    assert secret.reveal() == "value-that-must-not-leak"
    assert "value-that-must-not-leak" not in f"{secret} {secret!r} {[secret]}"
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    with pytest.raises(CollectError, match="export OTHER_KEY"):
        secrets.resolve("OTHER_KEY", scope="medallion-dev")
