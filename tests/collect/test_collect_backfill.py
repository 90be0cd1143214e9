"""Daily backfills land a file per batch and year, from every provider; re-runs replace, gap fills add only
what is missing, and every (symbol, session) lands exactly once."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd
from bokeh_sampledata import package_path
from tests.collect.collect_testing import AFTER_THANKSGIVING_2025, FAST_RETRY, read_records
from tests.collect.market_server import ALPACA_PATH, YAHOO_PREFIX, MarketServer

from market.collect import calendar
from market.collect.landing import bar_record
from market.collect.providers.synthetic import session_bars
from market.collect.runner import collect

SYMBOLS = ["AAPL", "MSFT", "AMZN", "GOOGL", "META", "NVDA", "TSLA", "JPM", "V", "JNJ", "XOM", "PG"]
KEY, SECRET = "AKTEST0123456789", "sk-test-abcdefghijklmnop"


def sessions(first: date, last: date) -> list[date]:
    return [s.date for s in calendar.sessions_between(first, last)]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def cells(landing: Path) -> Counter:
    """(symbol, New York date) of every landed daily bar, counted: each must be 1."""
    return Counter((r["symbol"], r["ts"][:10]) for r in read_records(landing / "bars"))


def manifests(landing: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((landing / "_manifests").iterdir())}


def test_synthetic_backfill_lands_a_file_per_batch_and_year(make_env) -> None:
    env = make_env(provider="synthetic", symbols=SYMBOLS, seed=3, timeframe="1Day")
    result = collect(env, start=date(2023, 11, 1), end=date(2025, 11, 28), at=AFTER_THANKSGIVING_2025)
    landing = Path(env.landing_path)
    days = sessions(date(2023, 11, 1), date(2025, 11, 28))
    assert result.ok and result.sessions == days and len(days) == 521
    spans = ["2023-11-01_2023-12-29", "2024-01-02_2024-12-31", "2025-01-02_2025-11-28"]
    assert sorted(p.name for p in (landing / "bars").iterdir()) == [
        f"synthetic_1Day_{span}_b00{b}.jsonl" for span in spans for b in (0, 1)]
    assert sorted(p.name for p in (landing / "calendar").iterdir()) == [f"xnys_{span}.jsonl" for span in spans]
    calendar_days = [json.loads(line)["session_date"] for p in sorted((landing / "calendar").iterdir())
                     for line in p.read_text().splitlines()]
    assert calendar_days == [d.isoformat() for d in days]
    assert cells(landing) == Counter({(s, d.isoformat()): 1 for s in SYMBOLS for d in days})
    assert result.lines == 12 * 521 and result.lines_by_session() == {d: 12 for d in days}
    by_name = manifests(landing)
    year = by_name["synthetic_1Day_2024-01-02_2024-12-31_b001"]
    assert year["sessions"] == [d.isoformat() for d in days if d.year == 2024] and len(year["sessions"]) == 252
    assert (year["symbols"], year["lines"], year["timeframe"], year["missing"]) == (["XOM", "PG"], 504, "1Day", {})
    record = read_records(landing / "bars", "synthetic_1Day_2024-01-02_2024-12-31_b001.jsonl")[0]
    assert record["batch_id"] == "synthetic_1Day_2024-01-02_2024-12-31_b001"
    bar = session_bars(3, "XOM", calendar.session(date(2024, 1, 2)), "1Day")[0]
    assert record == bar_record(bar, "synthetic", record["batch_id"]), "the same bar a per-session run lands"


def test_rerun_of_a_backfill_rewrites_the_same_bytes_under_the_same_names(make_env) -> None:
    env = make_env(provider="synthetic", symbols=SYMBOLS, seed=3, timeframe="1Day", defect_rate=0.05)
    first = collect(env, start=date(2024, 10, 1), end=date(2025, 3, 31), at=AFTER_THANKSGIVING_2025)
    landing = Path(env.landing_path)
    bars, calendar_files = snapshot(landing / "bars"), snapshot(landing / "calendar")
    again = collect(env, start=date(2024, 10, 1), end=date(2025, 3, 31), at=AFTER_THANKSGIVING_2025)
    assert snapshot(landing / "bars") == bars and snapshot(landing / "calendar") == calendar_files
    assert sorted(f.path.name for f in again.files) == sorted(f.path.name for f in first.files) == sorted(bars)
    assert again.calendar_files == [] and again.defect_counts() == first.defect_counts() != {}
    part = collect(env, start=date(2025, 2, 3), end=date(2025, 2, 7), at=AFTER_THANKSGIVING_2025)
    assert part.files == [] and sorted(p.name for p in part.unchanged) == [
        "synthetic_1Day_2025-01-02_2025-03-31_b000.jsonl", "synthetic_1Day_2025-01-02_2025-03-31_b001.jsonl"]
    assert snapshot(landing / "bars") == bars


def test_a_wider_backfill_lands_only_the_missing_sessions(make_env) -> None:
    env = make_env(provider="synthetic", symbols=SYMBOLS[:4], seed=3, timeframe="1Day")
    landing = Path(env.landing_path)
    collect(env, start=date(2025, 3, 1), end=date(2025, 6, 30), at=AFTER_THANKSGIVING_2025)
    before = snapshot(landing / "bars")
    wider = collect(env, start=date(2024, 12, 1), end=date(2025, 11, 28), at=AFTER_THANKSGIVING_2025)
    assert snapshot(landing / "bars").items() >= before.items(), "landed files are left as they were"
    assert [f.path.name for f in wider.files] == [
        "synthetic_1Day_2024-12-02_2024-12-31_b000.jsonl", "synthetic_1Day_2025-01-02_2025-02-28_b000.jsonl",
        "synthetic_1Day_2025-07-01_2025-11-28_b000.jsonl"]
    assert [p.name for p in wider.unchanged] == ["synthetic_1Day_2025-03-03_2025-06-30_b000.jsonl"]
    days = sessions(date(2024, 12, 1), date(2025, 11, 28))
    assert cells(landing) == Counter({(s, d.isoformat()): 1 for s in SYMBOLS[:4] for d in days})
    assert [p.name for p in wider.calendar_files] == [
        "xnys_2024-12-02_2024-12-31.jsonl", "xnys_2025-01-02_2025-02-28.jsonl", "xnys_2025-07-01_2025-11-28.jsonl"]
    calendar_days = Counter(json.loads(line)["session_date"] for p in (landing / "calendar").iterdir()
                            for line in p.read_text().splitlines())
    assert calendar_days == Counter({d.isoformat(): 1 for d in days}), "each session's calendar line once"
    # the daily increment on top: one new session, one new file per batch
    daily = collect(env, dates=[date(2025, 12, 1)], at=datetime(2025, 12, 1, 23, tzinfo=timezone.utc))
    assert [f.path.name for f in daily.files] == ["synthetic_1Day_2025-12-01_b000.jsonl"]
    assert [p.name for p in daily.calendar_files] == ["xnys_2025-12-01.jsonl"]


def test_a_lost_manifest_is_rebuilt_from_the_file(make_env) -> None:
    env = make_env(provider="synthetic", symbols=SYMBOLS[:3], seed=3, timeframe="1Day")
    landing = Path(env.landing_path)
    collect(env, start=date(2025, 3, 1), end=date(2025, 3, 31), at=AFTER_THANKSGIVING_2025)
    (landing / "_manifests" / "synthetic_1Day_2025-03-03_2025-03-31_b000.json").unlink()
    wider = collect(env, start=date(2025, 2, 1), end=date(2025, 4, 30), at=AFTER_THANKSGIVING_2025)
    assert [f.path.name for f in wider.files] == ["synthetic_1Day_2025-02-03_2025-02-28_b000.jsonl",
                                                  "synthetic_1Day_2025-04-01_2025-04-30_b000.jsonl"]
    assert set(cells(landing).values()) == {1}


def test_timeframes_of_one_session_never_share_a_file(make_env) -> None:
    """Before the timeframe was in the name, a 5Min run replaced the 1Min file of the session (and the
    stream, which had read that name, never read the 5Min bars)."""
    env = make_env(provider="synthetic", symbols=SYMBOLS[:2], seed=3)
    landing = Path(env.landing_path)
    day = [date(2025, 11, 26)]
    minutes = collect(env, dates=day, timeframe="1Min", at=AFTER_THANKSGIVING_2025)
    first = snapshot(landing / "bars")
    fives = collect(env, dates=day, timeframe="5Min", at=AFTER_THANKSGIVING_2025)
    daily = collect(env, dates=day, timeframe="1Day", at=AFTER_THANKSGIVING_2025)
    assert [f.path.name for f in minutes.files + fives.files + daily.files] == [
        "synthetic_1Min_2025-11-26_b000.jsonl", "synthetic_5Min_2025-11-26_b000.jsonl",
        "synthetic_1Day_2025-11-26_b000.jsonl"]
    assert snapshot(landing / "bars").items() >= first.items()
    assert Counter(r["timeframe"] for r in read_records(landing / "bars")) == {"1Min": 780, "5Min": 156, "1Day": 2}


def _legacy(landing: Path, day: date, timeframe: str, symbols: list[str]) -> str:
    """A file and manifest as the previous version landed them (`<provider>_<date>_b<NNN>`, `session_date`)."""
    name = f"synthetic_{day}_b000.jsonl"
    bars = [b for s in symbols for b in session_bars(3, s, calendar.session(day), timeframe)]
    (landing / "bars").mkdir(parents=True, exist_ok=True)
    (landing / "_manifests").mkdir(parents=True, exist_ok=True)
    (landing / "bars" / name).write_text("".join(json.dumps(bar_record(b, "synthetic", name[:-6])) + "\n"
                                                 for b in bars))
    (landing / "_manifests" / f"{name[:-6]}.json").write_text(json.dumps({
        "file": f"bars/{name}", "provider": "synthetic", "session_date": day.isoformat(), "batch": 0,
        "batch_id": name[:-6], "timeframe": timeframe, "run_id": "old", "written_at": "2025-11-26T22:00:00Z",
        "symbols": symbols, "missing": {}, "lines": len(bars), "clean_bars": len(bars), "defects": {},
        "defect_details": []}))
    return name


def test_files_under_legacy_names_count_as_landed(make_env) -> None:
    env = make_env(provider="synthetic", symbols=SYMBOLS[:2], seed=3)
    landing = Path(env.landing_path)
    minute = _legacy(landing, date(2025, 11, 24), "1Min", SYMBOLS[:2])
    daily = [_legacy(landing, d, "1Day", SYMBOLS[:2]) for d in (date(2025, 11, 25), date(2025, 11, 26))]
    before = snapshot(landing / "bars")
    again = collect(env, dates=[date(2025, 11, 24)], timeframe="1Min", at=AFTER_THANKSGIVING_2025)
    assert [f.path.name for f in again.files] == [minute], "rewritten under its own (legacy) name"
    assert snapshot(landing / "bars") == before, "same bars, same bytes"
    backfill = collect(env, start=date(2025, 11, 24), end=date(2025, 11, 28), timeframe="1Day",
                       at=AFTER_THANKSGIVING_2025)
    assert [f.path.name for f in backfill.files] == ["synthetic_1Day_2025-11-24_b000.jsonl",
                                                     "synthetic_1Day_2025-11-28_b000.jsonl"]
    assert sorted(p.name for p in backfill.unchanged) == daily
    daily_cells = Counter((r["symbol"], r["ts"][:10]) for r in read_records(landing / "bars")
                          if r["timeframe"] == "1Day")
    assert daily_cells == Counter({(s, f"2025-11-{d}"): 1 for s in SYMBOLS[:2] for d in (24, 25, 26, 28)})


def test_csv_import_of_real_daily_bars_lands_a_file_per_year(make_env) -> None:
    stocks = pd.read_csv(package_path("stocks.csv.gz"))
    env = make_env(provider="csv", csv_path=str(package_path("stocks.csv.gz")))
    result = collect(env, symbols=["AAPL", "IBM"], start=date(2010, 1, 1), end=date(2012, 12, 31))
    landing = Path(env.landing_path)
    assert result.ok and [f.path.name for f in result.files] == [
        "csv_1Day_2010-01-04_2010-12-31_b000.jsonl", "csv_1Day_2011-01-03_2011-12-30_b000.jsonl",
        "csv_1Day_2012-01-03_2012-12-31_b000.jsonl"]
    expected = stocks[stocks["Ticker"].isin(["AAPL", "IBM"]) & stocks["Date"].between("2010-01-01", "2012-12-31")]
    assert cells(landing) == Counter({(t, d): 1 for t, d in zip(expected["Ticker"], expected["Date"])})
    bars = snapshot(landing / "bars")
    again = collect(env, symbols=["AAPL", "IBM"], start=date(2010, 1, 1), end=date(2012, 12, 31))
    assert snapshot(landing / "bars") == bars and len(again.files) == 3
    # GOOG added later: it goes to the same batch, filled in per symbol and year
    more = collect(env, symbols=["AAPL", "IBM", "GOOG"], start=date(2012, 1, 1), end=date(2012, 12, 31))
    assert [f.path.name for f in more.files] == ["csv_1Day_2012-01-03_2012-12-31_b000_GOOG.jsonl"]
    assert set(cells(landing).values()) == {1}


def test_yfinance_backfill_asks_once_per_symbol_and_year_and_fills_a_failed_symbol(make_env,
                                                                                   server: MarketServer) -> None:
    env = make_env(provider="yfinance", symbols=["AAPL", "MSFT"], base_url=server.url, requests_per_minute=60_000,
                   timeframe="1Day")
    landing = Path(env.landing_path)
    server.fault("status", match=lambda r: r.symbols == ["MSFT"], times=None, status=503)
    first = collect(env, start=date(2024, 11, 1), end=date(2025, 2, 28), retry=FAST_RETRY,
                    at=AFTER_THANKSGIVING_2025)
    assert [(f.symbol, f.label) for f in first.failures] == [("MSFT", "2024-11-01..2024-12-31"),
                                                             ("MSFT", "2025-01-02..2025-02-28")]
    assert [f.path.name for f in first.files] == ["yfinance_1Day_2024-11-01_2024-12-31_b000.jsonl",
                                                  "yfinance_1Day_2025-01-02_2025-02-28_b000.jsonl"]
    assert manifests(landing)["yfinance_1Day_2024-11-01_2024-12-31_b000"]["missing"]["MSFT"].startswith(
        "server error (HTTP 503)")
    aapl = [r for r in server.served(YAHOO_PREFIX) if r.symbols == ["AAPL"]]
    assert [(r.query["period1"], r.query["period2"]) for r in aapl] == [
        (str(int(calendar.session(date(2024, 11, 1)).midnight_utc.timestamp())),
         str(int(datetime(2025, 1, 1, 5, tzinfo=timezone.utc).timestamp()))),
        (str(int(calendar.session(date(2025, 1, 2)).midnight_utc.timestamp())),
         str(int(datetime(2025, 3, 1, 5, tzinfo=timezone.utc).timestamp())))]

    server.faults.clear()
    server.requests.clear()
    second = collect(env, start=date(2024, 11, 1), end=date(2025, 2, 28), retry=FAST_RETRY,
                     at=AFTER_THANKSGIVING_2025)
    assert second.ok and [f.path.name for f in second.files] == [
        "yfinance_1Day_2024-11-01_2024-12-31_b000_MSFT.jsonl", "yfinance_1Day_2025-01-02_2025-02-28_b000_MSFT.jsonl"]
    assert [r.symbols for r in server.served(YAHOO_PREFIX)] == [["MSFT"], ["MSFT"]], "only the gap is fetched"
    days = sessions(date(2024, 11, 1), date(2025, 2, 28))
    assert cells(landing) == Counter({(s, d.isoformat()): 1 for s in ("AAPL", "MSFT") for d in days})
    landed = {(r["symbol"], r["ts"], r["close"]) for r in read_records(landing / "bars")}
    assert landed == {(b.symbol, calendar.rfc3339(b.ts), b.close) for s in ("AAPL", "MSFT")
                      for b in server.bars(s, "1Day", calendar.session(days[0]).midnight_utc,
                                           calendar.session(days[-1]).midnight_utc)}
    bars = snapshot(landing / "bars")
    third = collect(env, start=date(2024, 11, 1), end=date(2025, 2, 28), retry=FAST_RETRY, at=AFTER_THANKSGIVING_2025)
    assert third.ok and len(third.files) == 4 and snapshot(landing / "bars") == bars


def test_alpaca_backfill_asks_once_per_batch_and_year(make_env, server: MarketServer, monkeypatch) -> None:
    server.key, server.secret = KEY, SECRET
    monkeypatch.setenv("TEST_ALPACA_KEY", KEY)
    monkeypatch.setenv("TEST_ALPACA_SECRET", SECRET)
    env = make_env(provider="alpaca", symbols=["AAPL", "MSFT", "XOM"], base_url=server.url,
                   key_env="TEST_ALPACA_KEY", secret_env="TEST_ALPACA_SECRET", requests_per_minute=60_000,
                   timeframe="1Day")
    result = collect(env, start=date(2024, 12, 2), end=date(2025, 1, 31), batch_size=2, retry=FAST_RETRY,
                     at=AFTER_THANKSGIVING_2025)
    assert result.ok and [f.path.name for f in result.files] == [
        "alpaca_1Day_2024-12-02_2024-12-31_b000.jsonl", "alpaca_1Day_2024-12-02_2024-12-31_b001.jsonl",
        "alpaca_1Day_2025-01-02_2025-01-31_b000.jsonl", "alpaca_1Day_2025-01-02_2025-01-31_b001.jsonl"]
    assert [(r.query["symbols"], r.query["start"], r.query["end"]) for r in server.served(ALPACA_PATH)] == [
        ("AAPL,MSFT", "2024-12-02T05:00:00Z", "2025-01-01T04:59:59Z"),
        ("XOM", "2024-12-02T05:00:00Z", "2025-01-01T04:59:59Z"),
        ("AAPL,MSFT", "2025-01-02T05:00:00Z", "2025-02-01T04:59:59Z"),
        ("XOM", "2025-01-02T05:00:00Z", "2025-02-01T04:59:59Z")]
    days = sessions(date(2024, 12, 2), date(2025, 1, 31))
    landing = Path(env.landing_path)
    assert cells(landing) == Counter({(s, d.isoformat()): 1 for s in ("AAPL", "MSFT", "XOM") for d in days})
    assert {r["ts"][11:] for r in read_records(landing / "bars")} == {"05:00:00Z"}  # New York midnight (EST)
    assert all(r["trade_count"] and r["vwap"] for r in read_records(landing / "bars"))
