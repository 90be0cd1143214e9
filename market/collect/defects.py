"""Injected defects: realistic bad data in the synthetic landing files, each one recorded in a manifest.

The quality path (silver expectations, de-duplication, the checks job) must count every bad row in the
right place. So the synthetic provider can plant defects at a chosen rate and list every one of them
(kind, symbol, ts, file, line) in the file's manifest; tests downstream compare the counts.

Each defect touches exactly one bar and exactly one silver rule, so counts never overlap:

=================  =====================================================  ==============================
kind               what the landed line looks like                        where silver counts it
=================  =====================================================  ==============================
duplicate          an extra, identical copy of a clean bar, in the same   de-duplicated on (symbol, ts,
                   file or in another file of the same period (session   timeframe)
                   or, for daily bars, year)
null_field         one of open/high/low/close/volume is null              quarantined (prices_positive
                                                                          or volume_non_negative)
high_below_low     high and low swapped past each other (high < low,      quarantined (high_not_below_low
                   high < open/close, low > open/close)                   and the two covers rules)
negative_volume    volume < 0                                             quarantined (volume_non_negative)
out_of_session     an extra copy of a bar moved to pre-market (before     dropped (in_session)
                   the open) or post-market (from the close, before
                   17:00 New York); intraday timeframes only
malformed          the bar's JSON line cut short (not parseable)          quarantined (well_formed)
=================  =====================================================  ==============================

`duplicate` and `out_of_session` add a line; the other kinds replace a clean bar's line (so that minute
is missing downstream, as with real bad data). Lines in a file = clean bars + defects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from market.collect.calendar import Session, rfc3339
from market.collect.model import TIMEFRAME_MINUTES
from market.collect.providers.synthetic import stable_int

DEFECT_KINDS = ("duplicate", "null_field", "high_below_low", "negative_volume", "out_of_session", "malformed")
NULLABLE_FIELDS = ("open", "high", "low", "close", "volume")
DOWNSTREAM = {
    "duplicate": "deduplicated",
    "null_field": "quarantined",
    "high_below_low": "quarantined",
    "negative_volume": "quarantined",
    "out_of_session": "dropped",
    "malformed": "quarantined",
}
"""Where silver (tables/silver/bars.yaml) accounts for each kind."""


@dataclass
class Defect:
    kind: str
    symbol: str
    ts: str
    line: int = 0
    field: str | None = None
    copy_of: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "symbol": self.symbol, "ts": self.ts, "line": self.line}
        if self.field:
            out["field"] = self.field
        if self.copy_of:
            out["copy_of"] = self.copy_of
        return out


@dataclass
class Entry:
    """One line-to-be: a record (serialised on write) or a raw text line, and its defect if any."""

    record: dict[str, Any]
    raw: str | None = None
    defect: Defect | None = None

    def text(self) -> str:
        return self.raw if self.raw is not None else json.dumps(self.record)


@dataclass
class Draft:
    """A landing file before it is written: its name and its lines in order."""

    name: str
    entries: list[Entry] = field(default_factory=list)

    @property
    def defects(self) -> list[Defect]:
        return [e.defect for e in self.entries if e.defect is not None]

    def number_lines(self) -> None:
        for number, entry in enumerate(self.entries, start=1):
            if entry.defect is not None:
                entry.defect.line = number


def inject(drafts: list[Draft], rate: float, seed: int, period: str, timeframe: str,
           session: Session | None = None) -> None:
    """Turn about `rate` of the clean bars of one period's files into defects (deterministically).

    `period` (a session date, or a year for daily bars) seeds the choices, so a re-run of the same
    files plants the same defects. `session` is the intraday session the files hold (out-of-session
    copies are placed around it); daily bars have no out-of-session defects.
    """
    if rate <= 0 or not drafts:
        return
    rng = np.random.default_rng(stable_int(seed, "defects", period, timeframe))
    kinds = [k for k in DEFECT_KINDS if session is not None or k != "out_of_session"]
    extras: list[tuple[int, Entry]] = []
    taken: set[tuple[str, str]] = set()
    for index, draft in enumerate(drafts):
        hits = np.flatnonzero(rng.random(len(draft.entries)) < rate)
        for position, kind_index in zip(hits.tolist(), rng.integers(0, len(kinds), len(hits)).tolist()):
            entry = draft.entries[position]
            kind = kinds[kind_index]
            if kind == "duplicate":
                target = _other_file(rng, index, len(drafts))
                extras.append((target, Entry(dict(entry.record), defect=_defect(kind, entry, copy_of=draft.name))))
            elif kind == "out_of_session":
                assert session is not None  # only intraday periods draw this kind
                moved = _out_of_session(rng, entry.record, session, timeframe, taken)
                if moved is not None:
                    extras.append((index, Entry(moved, defect=Defect(kind, moved["symbol"], moved["ts"]))))
            else:
                draft.entries[position] = _corrupt(rng, kind, entry)
    for target, entry in extras:
        entries = drafts[target].entries
        entries.insert(int(rng.integers(0, len(entries) + 1)), entry)


def _defect(kind: str, entry: Entry, **extra: Any) -> Defect:
    return Defect(kind, entry.record["symbol"], entry.record["ts"], **extra)


def _other_file(rng: np.random.Generator, index: int, files: int) -> int:
    """Half the duplicates land in another file of the same period (when there is one)."""
    if files == 1 or rng.random() < 0.5:
        return index
    return int((index + rng.integers(1, files)) % files)


def _corrupt(rng: np.random.Generator, kind: str, entry: Entry) -> Entry:
    record = dict(entry.record)
    if kind == "null_field":
        name = NULLABLE_FIELDS[int(rng.integers(0, len(NULLABLE_FIELDS)))]
        record[name] = None
        return Entry(record, defect=_defect(kind, entry, field=name))
    if kind == "high_below_low":
        high, low = record["high"], record["low"]
        record["high"], record["low"] = round(low * 0.998, 4), round(high * 1.002, 4)
        return Entry(record, defect=_defect(kind, entry))
    if kind == "negative_volume":
        record["volume"] = -max(1, abs(record["volume"]))
        return Entry(record, defect=_defect(kind, entry))
    text = json.dumps(record)
    return Entry(record, raw=text[: int(rng.integers(10, len(text) - 1))], defect=_defect(kind, entry))


def _out_of_session(rng: np.random.Generator, record: dict[str, Any], session: Session, timeframe: str,
                    taken: set[tuple[str, str]]) -> dict[str, Any] | None:
    """A copy of the bar moved before the open (up to 90 min) or to [close, close + 59 min]."""
    step = timedelta(minutes=TIMEFRAME_MINUTES[timeframe] or 60)
    for _ in range(8):
        if rng.random() < 0.5:
            ts: datetime = session.open_utc - step * int(rng.integers(1, max(2, 90 // (step.seconds // 60) + 1)))
        else:
            ts = session.close_utc + step * int(rng.integers(0, max(1, 60 // (step.seconds // 60))))
        key = (record["symbol"], rfc3339(ts))
        if key not in taken:
            taken.add(key)
            return {**record, "ts": key[1]}
    return None
