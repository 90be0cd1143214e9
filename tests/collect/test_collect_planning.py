"""Re-run planning on cells (session x symbol), without any I/O: what is rewritten, left alone, or landed new."""

from __future__ import annotations

from datetime import date

import pytest

from market.collect.layout import bars_file_name, group_by_period, parse_bars_name
from market.collect.errors import CollectError
from market.collect.planning import LandedFile, plan_group

SYMBOLS = ("AAPL", "MSFT", "XOM")
DAYS = tuple(date(2025, 3, d) for d in (3, 4, 5, 6, 7, 10, 11))


def plan(landed=(), sessions=DAYS, symbols=SYMBOLS, **options):
    return plan_group(provider="synthetic", timeframe="1Day", batch=0, symbols=symbols, sessions=sessions,
                      landed=list(landed), **options)


def landed(days, symbols=SYMBOLS, symbol=None) -> LandedFile:
    return LandedFile(bars_file_name("synthetic", "1Day", days, 0, symbol), tuple(days), frozenset(symbols))


def test_nothing_landed_is_one_file_for_the_whole_range() -> None:
    result = plan()
    assert [(f.name, f.sessions, f.symbols, f.rewrite) for f in result.files] == [
        ("synthetic_1Day_2025-03-03_2025-03-11_b000.jsonl", DAYS, SYMBOLS, False)]
    assert result.fetches() == [(DAYS, SYMBOLS)]


def test_a_wider_request_lands_only_the_sessions_around_what_landed() -> None:
    middle = landed(DAYS[2:5])
    result = plan([middle])
    assert [f.name for f in result.files] == ["synthetic_1Day_2025-03-03_2025-03-04_b000.jsonl",
                                              "synthetic_1Day_2025-03-10_2025-03-11_b000.jsonl"]
    assert result.unchanged == [middle.name], "a gap-filling run leaves landed files alone"
    assert [f.sessions for f in result.files] == [DAYS[:2], DAYS[5:]]


def test_failed_symbols_are_filled_in_their_own_files() -> None:
    partial = landed(DAYS, symbols=("AAPL", "XOM"))
    result = plan([partial])
    assert [(f.name, f.symbols) for f in result.files] == [
        ("synthetic_1Day_2025-03-03_2025-03-11_b000_MSFT.jsonl", ("MSFT",))]
    # and once filled, the group is complete: a re-run rewrites both files with the same cells
    fill = landed(DAYS, symbols=("MSFT",), symbol="MSFT")
    again = plan([partial, fill])
    assert sorted((f.name, f.symbols, f.rewrite) for f in again.files) == [
        (partial.name, ("AAPL", "XOM"), True), (fill.name, ("MSFT",), True)]
    assert again.fetches() == [(DAYS, ("AAPL", "XOM", "MSFT"))], "one provider call for both"


def test_mixed_gaps_whole_sessions_and_one_symbol() -> None:
    partial = landed(DAYS[:3], symbols=("AAPL", "XOM"))
    result = plan([partial])
    assert [(f.name, f.sessions, f.symbols) for f in result.files] == [
        ("synthetic_1Day_2025-03-06_2025-03-11_b000.jsonl", DAYS[3:], SYMBOLS),
        ("synthetic_1Day_2025-03-03_2025-03-05_b000_MSFT.jsonl", DAYS[:3], ("MSFT",))]
    cells = {(d, s) for f in result.files for d in f.sessions for s in f.symbols}
    held = {(d, s) for d in partial.sessions for s in partial.symbols}
    assert cells.isdisjoint(held) and cells | held == {(d, s) for d in DAYS for s in SYMBOLS}


def test_complete_group_rewrites_files_asked_for_in_full_and_leaves_the_rest() -> None:
    year_part, day = landed(DAYS[:5]), landed(DAYS[5:6])
    last = landed(DAYS[6:])
    result = plan([year_part, day, last], sessions=DAYS[5:])
    assert [(f.name, f.rewrite) for f in result.files] == [(day.name, True), (last.name, True)]
    assert result.unchanged == [] and plan([year_part], sessions=DAYS[1:3]).unchanged == [year_part.name]
    assert plan([year_part, day, last], missing_only=True).files == []


def test_a_name_in_use_is_never_overwritten() -> None:
    # the batch's symbols all changed (list reordered): the whole-batch name is taken by other symbols
    other = landed(DAYS, symbols=("NVDA",))
    result = plan([other], symbols=("AAPL",), taken=lambda name: name == other.name)
    assert [f.name for f in result.files] == ["synthetic_1Day_2025-03-03_2025-03-11_b000_AAPL.jsonl"]
    with pytest.raises(CollectError, match="move it aside"):
        plan([], symbols=("AAPL",), taken=lambda name: True)


def test_names_round_trip_and_legacy_names_are_recognised() -> None:
    name = bars_file_name("alpaca", "1Day", DAYS, 12, "BRK.B")
    assert name == "alpaca_1Day_2025-03-03_2025-03-11_b012_BRK.B.jsonl"
    parsed = parse_bars_name(name)
    assert (parsed.provider, parsed.timeframe, parsed.first, parsed.last, parsed.batch, parsed.symbol) == (
        "alpaca", "1Day", DAYS[0], DAYS[-1], 12, "BRK.B")
    assert bars_file_name("synthetic", "1Min", DAYS[:1], 0) == "synthetic_1Min_2025-03-03_b000.jsonl"
    legacy = parse_bars_name("synthetic_2025-11-24_b003_AAPL.jsonl")
    assert (legacy.timeframe, legacy.first, legacy.last, legacy.batch, legacy.symbol) == (
        None, date(2025, 11, 24), date(2025, 11, 24), 3, "AAPL")
    assert parse_bars_name("notes.txt") is None and parse_bars_name("synthetic_b000.jsonl") is None


def test_periods_are_years_for_daily_bars_and_sessions_otherwise() -> None:
    days = [date(2024, 12, 30), date(2024, 12, 31), date(2025, 1, 2)]
    assert group_by_period("1Day", days) == [("2024", days[:2]), ("2025", days[2:])]
    assert group_by_period("1Min", days) == [(d.isoformat(), [d]) for d in days]
