"""Landing files: contract fields, deterministic names, atomic writes, re-runs, injected defects vs manifests."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest
from tests.collect.collect_testing import AFTER_THANKSGIVING_2025, read_lines, read_records

from market.collect import calendar
from market.collect.defects import DEFECT_KINDS, NULLABLE_FIELDS
from market.collect.landing import atomic_write
from market.collect.runner import collect

SYMBOLS = ["AAPL", "MSFT", "AMZN", "GOOGL", "META", "NVDA", "TSLA", "JPM", "V", "JNJ", "XOM", "PG"]
WEEK = [date(2025, 11, 24), date(2025, 11, 25), date(2025, 11, 26), date(2025, 11, 27), date(2025, 11, 28)]
CONTRACT_KEYS = ["symbol", "ts", "timeframe", "open", "high", "low", "close", "volume", "trade_count", "vwap",
                 "session_open", "session_close", "provider", "batch_id"]


def test_clean_run_lands_the_contract(make_env) -> None:
    env = make_env(provider="synthetic", symbols=SYMBOLS, seed=42, defect_rate=0)
    result = collect(env, dates=WEEK, at=AFTER_THANKSGIVING_2025)
    landing = Path(env.landing_path)
    assert result.ok and result.sessions == [d for d in WEEK if d.day != 27]
    assert [(s.day, s.reason) for s in result.skipped] == [(date(2025, 11, 27), "not an NYSE session (market holiday)")]
    names = sorted(p.name for p in (landing / "bars").iterdir())
    assert names == [f"synthetic_1Min_2025-11-{d}_b00{b}.jsonl" for d in (24, 25, 26, 28) for b in (0, 1)]
    assert [p.name for p in result.calendar_files] == ["xnys_2025-11-24_2025-11-28.jsonl"]
    assert sorted(p.name for p in (landing / "calendar").iterdir()) == ["xnys_2025-11-24_2025-11-28.jsonl"]
    days = [json.loads(line) for line in (landing / "calendar" / "xnys_2025-11-24_2025-11-28.jsonl").read_text()
            .splitlines()]
    assert [d["session_date"] for d in days] == ["2025-11-24", "2025-11-25", "2025-11-26", "2025-11-28"]
    assert days[-1] == {"session_date": "2025-11-28", "open_utc": "2025-11-28T14:30:00Z",
                        "close_utc": "2025-11-28T18:00:00Z", "early_close": True}
    records = read_records(landing / "bars")
    assert len(records) == result.lines == 12 * (3 * 390 + 210)
    assert all(list(r) == CONTRACT_KEYS for r in records)
    half_day = [r for r in records if r["ts"].startswith("2025-11-28")]
    assert max(r["ts"] for r in half_day) == "2025-11-28T17:59:00Z"  # 12:59 New York
    assert {(r["session_open"], r["session_close"]) for r in half_day} == {("2025-11-28T14:30:00Z",
                                                                             "2025-11-28T18:00:00Z")}
    first = read_lines(landing / "bars", "synthetic_1Min_2025-11-24_b001.jsonl")[0]
    assert json.loads(first)["batch_id"] == "synthetic_1Min_2025-11-24_b001"
    assert {r["symbol"] for r in read_records(landing / "bars", "*_b001.jsonl")} == {"XOM", "PG"}
    manifest = json.loads((landing / "_manifests" / "synthetic_1Min_2025-11-24_b000.json").read_text())
    assert manifest["symbols"] == SYMBOLS[:10] and manifest["lines"] == manifest["clean_bars"] == 3900
    assert manifest["sessions"] == ["2025-11-24"] and manifest["timeframe"] == "1Min"
    assert manifest["defects"] == {} and manifest["missing"] == {}
    assert not [p for p in landing.rglob(".*")], "no temp files left behind"


def test_rerun_replaces_files_byte_for_byte(make_env) -> None:
    env = make_env(provider="synthetic", symbols=SYMBOLS[:4], seed=1, defect_rate=0.01)
    collect(env, dates=WEEK[:3], at=AFTER_THANKSGIVING_2025)
    bars = Path(env.landing_path) / "bars"
    before = {p.name: p.read_bytes() for p in bars.iterdir()}
    again = collect(env, dates=WEEK[2:3], at=AFTER_THANKSGIVING_2025)  # one session, alone
    after = {p.name: p.read_bytes() for p in bars.iterdir()}
    assert before == after
    assert [f.path.name for f in again.files] == ["synthetic_1Min_2025-11-26_b000.jsonl"]
    assert again.calendar_files == [], "the session's calendar line had landed"


def test_batches_are_chunks_of_the_symbol_list(make_env) -> None:
    env = make_env(provider="synthetic", symbols=SYMBOLS, seed=1)
    result = collect(env, dates=[WEEK[0]], batch_size=5, at=AFTER_THANKSGIVING_2025)
    assert [f.symbols for f in result.files] == [tuple(SYMBOLS[:5]), tuple(SYMBOLS[5:10]), tuple(SYMBOLS[10:])]
    assert [f.path.name[-10:] for f in result.files] == ["b000.jsonl", "b001.jsonl", "b002.jsonl"]


def test_atomic_write_leaves_old_content_when_the_rename_fails(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "bars" / "x.jsonl"
    atomic_write(target, "old\n")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in target.parent.iterdir()] == ["x.jsonl"]


def test_temp_files_are_hidden_from_spark_while_written(tmp_path: Path, monkeypatch) -> None:
    seen: list[str] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        seen.append(Path(src).name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    atomic_write(tmp_path / "bars" / "synthetic_2025-11-24_b000.jsonl", "{}\n")
    assert seen and seen[0].startswith(".synthetic_2025-11-24_b000.jsonl.") and seen[0].endswith(".tmp")


def _defects_found(records_by_file: dict[str, list[str]]) -> Counter:
    """Recount every defect kind from the landed lines alone, the way the pipeline would see them."""
    found: Counter = Counter()
    seen: Counter = Counter()
    for lines in records_by_file.values():
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                found["malformed"] += 1
                continue
            seen[(record["symbol"], record["ts"], record["timeframe"])] += 1
            if any(record[f] is None for f in NULLABLE_FIELDS):
                found["null_field"] += 1
            elif record["volume"] < 0:
                found["negative_volume"] += 1
            elif record["high"] < record["low"]:
                found["high_below_low"] += 1
            elif record["timeframe"] != "1Day" and not record["session_open"] <= record["ts"] < record["session_close"]:
                found["out_of_session"] += 1
    found["duplicate"] = sum(n - 1 for n in seen.values() if n > 1)
    return found


def test_injected_defects_match_the_manifests(make_env) -> None:
    env = make_env(provider="synthetic", symbols=SYMBOLS, seed=42, defect_rate=0.01)
    result = collect(env, dates=WEEK, at=AFTER_THANKSGIVING_2025)
    landing = Path(env.landing_path)
    manifests = [json.loads(p.read_text()) for p in sorted((landing / "_manifests").iterdir())]
    from_manifests: Counter = Counter()
    for m in manifests:
        from_manifests.update(m["defects"])
        assert m["lines"] == m["clean_bars"] + sum(m["defects"].values())
        assert len(m["defect_details"]) == sum(m["defects"].values())
    assert dict(from_manifests) == result.defect_counts()
    assert set(from_manifests) == set(DEFECT_KINDS), "every kind shows up at 1% of 17,000 bars"
    for day in result.sessions:  # duplicates can cross files, so recount per session
        files = {p.name: p.read_text().splitlines() for p in (landing / "bars").glob(f"*_{day}_*.jsonl")}
        expected = Counter()
        for m in manifests:
            if m["sessions"] == [day.isoformat()]:
                expected.update(m["defects"])
        assert _defects_found(files) == expected + Counter(), day
    clean = sum(m["clean_bars"] for m in manifests)
    assert clean + sum(from_manifests.values()) == result.lines


def test_defect_details_point_at_their_lines(make_env) -> None:
    env = make_env(provider="synthetic", symbols=SYMBOLS[:6], seed=5, defect_rate=0.02)
    collect(env, dates=[WEEK[0]], at=AFTER_THANKSGIVING_2025)
    landing = Path(env.landing_path)
    manifest = json.loads((landing / "_manifests" / "synthetic_1Min_2025-11-24_b000.json").read_text())
    lines = (landing / "bars" / "synthetic_1Min_2025-11-24_b000.jsonl").read_text().splitlines()
    session = calendar.session(WEEK[0])
    for detail in manifest["defect_details"]:
        line = lines[detail["line"] - 1]
        if detail["kind"] == "malformed":
            with pytest.raises(ValueError):
                json.loads(line)
            assert line.startswith('{"symbol"')
            continue
        record = json.loads(line)
        assert (record["symbol"], record["ts"]) == (detail["symbol"], detail["ts"])
        if detail["kind"] == "null_field":
            assert record[detail["field"]] is None
        if detail["kind"] == "out_of_session":
            ts = datetime.fromisoformat(record["ts"].replace("Z", "+00:00"))
            assert ts < session.open_utc or session.close_utc <= ts < session.complete_at
        if detail["kind"] == "duplicate":
            assert detail["copy_of"].startswith("synthetic_1Min_2025-11-24_b00")


def test_defects_are_deterministic_and_daily_bars_get_no_out_of_session(make_env) -> None:
    env = make_env(provider="synthetic", symbols=SYMBOLS, seed=3, defect_rate=0.3, timeframe="1Day")
    sessions = calendar.sessions_between(date(2025, 9, 1), date(2025, 11, 28))
    first = collect(env, dates=[s.date for s in sessions], at=AFTER_THANKSGIVING_2025)
    second = collect(env, dates=[s.date for s in sessions], at=AFTER_THANKSGIVING_2025)
    assert first.defect_counts() == second.defect_counts()
    assert "out_of_session" not in first.defect_counts()
    assert set(first.defect_counts()) == set(DEFECT_KINDS) - {"out_of_session"}
    records = [json.loads(line) for line in read_lines(Path(env.landing_path) / "bars") if line.endswith("}")]
    assert {r["ts"][11:] for r in records} <= {"04:00:00Z", "05:00:00Z"}  # New York midnight


def test_make_run_default_collects_ten_sessions_of_minute_bars(make_env) -> None:
    """`make run` collects the local environment's default: 12 symbols x 10 sessions of minute bars.
    (How fast is a benchmark's question: bench/, not a timed test.)"""
    env = make_env(provider="synthetic", symbols=SYMBOLS, sessions=10, timeframe="1Min", seed=42,
                   defect_rate=0.002)
    result = collect(env, at=AFTER_THANKSGIVING_2025)
    assert len(result.sessions) == 10 and result.sessions[-1] == date(2025, 12, 2)
    assert 44_000 < result.lines < 48_000


def test_progress_reports_every_symbol_of_every_session(make_env) -> None:
    class Recorder:
        total = 0
        steps: list[tuple[int, str]] = []

        def start(self, total: int) -> None:
            self.total = total

        def advance(self, count: int, label: str) -> None:
            self.steps.append((count, label))

    recorder = Recorder()
    env = make_env(provider="synthetic", symbols=SYMBOLS, seed=1)
    collect(env, dates=WEEK[:2], batch_size=5, progress=recorder, at=AFTER_THANKSGIVING_2025)
    assert recorder.total == 24 == sum(c for c, _ in recorder.steps)
    assert recorder.steps[:3] == [(5, "2025-11-24 b000"), (5, "2025-11-24 b001"), (2, "2025-11-24 b002")]


@pytest.mark.parametrize("settings,message", [
    ({"provider": "bloomberg"}, "unknown provider `bloomberg`"),
    ({"timeframe": "2Min"}, "unknown timeframe `2Min`"),
    ({"defect_rate": 1.5}, "defect rate must be between 0 and 1"),
    ({"symbols": []}, "no symbols to collect"),
])
def test_bad_settings_are_clear_errors(make_env, settings: dict, message: str) -> None:
    from market.collect.errors import CollectError

    env = make_env(**{"provider": "synthetic", "symbols": ["AAPL"], **settings})
    with pytest.raises(CollectError, match=message):
        collect(env, dates=[WEEK[0]])


def test_temp_files_of_an_interrupted_run_are_swept(make_env) -> None:
    env = make_env(provider="synthetic", symbols=["AAPL"], seed=1)
    bars = Path(env.landing_path) / "bars"
    bars.mkdir(parents=True)
    old, young = bars / ".synthetic_2025-11-24_b000.jsonl.abc.tmp", bars / ".synthetic_2025-11-24_b000.jsonl.def.tmp"
    old.write_text('{"symbol": "AAPL"')
    young.write_text('{"symbol": "AAPL"')
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    collect(env, dates=[WEEK[0]], at=AFTER_THANKSGIVING_2025)
    assert not old.exists() and young.exists(), "only files older than an hour (a crashed run's) go"
