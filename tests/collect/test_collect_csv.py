"""The csv provider on real market data (bokeh_sampledata's daily stocks) and the other common layouts."""

from __future__ import annotations

import gzip
import json
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from bokeh_sampledata import package_path
from tests.collect.collect_testing import AFTER_THANKSGIVING_2025, read_records

from market.collect import calendar
from market.collect.errors import CollectError
from market.collect.runner import collect

STOCKS = package_path("stocks.csv.gz")  # Ticker,Date,Open,High,Low,Close,Volume,Adj Close (Quandl WIKI, 2000-2013)


@pytest.fixture(scope="module")
def stocks() -> pd.DataFrame:
    frame = pd.read_csv(STOCKS)
    assert list(frame.columns) == ["Ticker", "Date", "Open", "High", "Low", "Close", "Volume", "Adj Close"]
    return frame


def test_import_one_year_of_real_daily_bars(make_env, stocks: pd.DataFrame) -> None:
    env = make_env(provider="csv", csv_path=str(STOCKS))
    result = collect(env, start=date(2012, 1, 1), end=date(2012, 12, 31))
    expected = stocks[stocks["Date"].between("2012-01-01", "2012-12-31")]
    assert result.ok and result.timeframe == "1Day"
    assert len(result.sessions) == 250 == expected["Date"].nunique()  # 2012 had 250 sessions (Sandy closed 2 days)
    assert result.lines == len(expected)
    records = read_records(Path(env.landing_path) / "bars")
    landed = {(r["symbol"], r["ts"][:10]): r for r in records}
    assert len(landed) == len(expected)
    for row in expected.itertuples(index=False):
        record = landed[(row.Ticker, row.Date)]
        assert (record["open"], record["high"], record["low"], record["close"]) == (row.Open, row.High, row.Low,
                                                                                   row.Close)
        assert record["volume"] == row.Volume and isinstance(record["volume"], int)
    christmas_eve = [r for r in records if r["ts"].startswith("2012-12-24")]
    assert christmas_eve[0]["ts"] == "2012-12-24T05:00:00Z"  # New York midnight, EST
    assert christmas_eve[0]["session_close"] == "2012-12-24T18:00:00Z"  # 13:00 early close
    assert {r["timeframe"] for r in records} == {"1Day"} and {r["provider"] for r in records} == {"csv"}
    assert {r["symbol"] for r in records} == {"AAPL", "GOOG", "IBM", "MSFT", "FB"}
    assert all(r["trade_count"] is None and r["vwap"] is None for r in records)


@pytest.mark.slow
def test_every_row_of_the_sample_lands_once(make_env, stocks: pd.DataFrame) -> None:
    env = make_env(provider="csv", csv_path=str(STOCKS))
    result = collect(env, symbols=["IBM"], start=date(2000, 1, 1), end=date(2013, 12, 31))
    ibm = stocks[stocks["Ticker"] == "IBM"]
    assert result.lines == len(ibm) == 3270 and not result.skipped
    assert len(result.files) == len(result.calendar_files) == 14  # a file per year (2000-2013), not per session
    records = read_records(Path(env.landing_path) / "bars")
    assert [r["ts"][:10] for r in records] == sorted(ibm["Date"])
    assert sum(r["close"] for r in records) == pytest.approx(ibm["Close"].sum(), rel=1e-12)


def test_yahoo_download_layout_with_symbol_option_and_file_name(tmp_path: Path, make_env, stocks) -> None:
    aapl = stocks[(stocks["Ticker"] == "AAPL") & stocks["Date"].between("2013-02-01", "2013-02-28")]
    yahoo = aapl[["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"]]
    plain = tmp_path / "download.csv"
    yahoo.to_csv(plain, index=False)
    env = make_env(provider="csv")
    result = collect(env, csv_path=plain, csv_symbol="aapl")
    assert result.lines == len(yahoo) == 19 and {f.symbols for f in result.files} == {("AAPL",)}
    named = tmp_path / "MSFT.csv"
    yahoo.to_csv(named, index=False)
    by_name = collect(env, csv_path=named)
    assert {r["symbol"] for r in read_records(Path(env.landing_path) / "bars", "csv_*")} == {"AAPL", "MSFT"}
    assert by_name.lines == 19


def test_intraday_csv_in_exchange_time_and_with_offsets(tmp_path: Path, make_env) -> None:
    session = calendar.session(date(2025, 11, 28))
    rows = ["Datetime,Symbol,Open,High,Low,Close,Volume"]
    for i in range(session.minutes // 5):
        stamp = (session.open_utc + timedelta(minutes=5 * i)).astimezone(calendar.NEW_YORK)
        text = stamp.strftime("%Y-%m-%d %H:%M:%S") if i % 2 else stamp.isoformat()  # naive NY and with offset
        rows.append(f"{text},spy,600.{i:02d},601,599,600.5,{1000 + i}")
    path = tmp_path / "spy_5m.csv.gz"
    with gzip.open(path, "wt") as out:
        out.write("\n".join(rows) + "\n")
    env = make_env(provider="csv", csv_path=str(path))
    result = collect(env, at=AFTER_THANKSGIVING_2025)
    assert result.timeframe == "5Min" and result.sessions == [date(2025, 11, 28)]
    records = read_records(Path(env.landing_path) / "bars")
    assert len(records) == 42 and records[0]["ts"] == "2025-11-28T14:30:00Z"
    assert records[-1]["ts"] == "2025-11-28T17:55:00Z" and records[-1]["symbol"] == "SPY"
    assert all(r["session_close"] == "2025-11-28T18:00:00Z" for r in records)


def test_rows_on_non_sessions_are_skipped_with_a_message(tmp_path: Path, make_env) -> None:
    path = tmp_path / "XYZ.csv"
    path.write_text("Date,Open,High,Low,Close,Volume\n2025-11-26,10,11,9,10.5,100\n"
                    "2025-11-27,10,11,9,10.5,100\n2025-11-29,10,11,9,10.5,100\n")
    result = collect(make_env(provider="csv", csv_path=str(path)), at=AFTER_THANKSGIVING_2025)
    assert result.sessions == [date(2025, 11, 26)] and result.lines == 1
    assert [(s.day.day, s.reason) for s in result.skipped] == [
        (27, "not an NYSE session (market holiday)"), (29, "not an NYSE session (weekend)")]


@pytest.mark.parametrize("content,message", [
    ("Date,Open,High,Low,Volume\n2025-11-26,1,2,0.5,10\n", r"missing column\(s\) close"),
    ("Date,Open,High,Low,Close,Volume\n2025-11-26,1,2,0.5,abc,10\n", r"bad\.csv:2: close `abc` is not a number"),
    ("Date,Open,High,Low,Close,Volume\n2025-11-26,1,2,0.5,1,10\nyesterday,1,2,0.5,1,10\n",
     r"bad\.csv:3: `yesterday` is not a date"),
    ("Ticker,Date,Open,High,Low,Close,Volume\nnot a symbol!,2025-11-26,1,2,0.5,1,10\n", r"bad\.csv:2: .* not a ticker"),
    ("", "cannot read as CSV"),
])
def test_bad_csv_is_a_located_error(tmp_path: Path, make_env, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(CollectError, match=message):
        collect(make_env(provider="csv", csv_path=str(path)), csv_symbol="XYZ")


def test_csv_needs_a_path(make_env) -> None:
    with pytest.raises(CollectError, match="csv provider needs a file or folder"):
        collect(make_env(provider="csv"))
    with pytest.raises(CollectError, match="no such file or folder"):
        collect(make_env(provider="csv", csv_path="nowhere.csv"))


def test_folder_of_files(tmp_path: Path, make_env, stocks) -> None:
    for ticker in ("IBM", "MSFT"):
        part = stocks[(stocks["Ticker"] == ticker) & (stocks["Date"] >= "2013-02-20")]
        part.drop(columns=["Ticker"]).to_csv(tmp_path / f"{ticker}.csv", index=False)
    result = collect(make_env(provider="csv", csv_path=str(tmp_path)))
    assert result.lines == 16 and result.sessions[0] == date(2013, 2, 20)
    (written,) = result.files
    assert written.path.name == f"csv_1Day_2013-02-20_{result.sessions[-1]}_b000.jsonl"
    manifest = json.loads((Path(result.landing) / "_manifests" / f"{written.path.stem}.json").read_text())
    assert manifest["symbols"] == ["IBM", "MSFT"] and manifest["lines"] == 16
    assert manifest["sessions"] == [d.isoformat() for d in result.sessions] and len(result.sessions) == 8
