"""The landing folder: atomic writes, manifests, and what already landed (read once per run).

Layout (read by tables/bronze/bars_raw.yaml and tables/bronze/nyse_sessions_raw.yaml; names in layout.py)::

    <landing>/bars/<provider>_<timeframe>_<first>[_<last>]_b<NNN>[_<SYMBOL>].jsonl
    <landing>/calendar/xnys_<first>[_<last>].jsonl
    <landing>/_manifests/<bars file stem>.json          what each bars file holds

Why this shape:

* Writes are atomic (temp file named `.<name>.<random>.tmp` in the same folder, fsync, `os.replace`):
  the stream never sees half a file, and Spark ignores names starting with `.` or `_`.
* Manifests sit under `_manifests/` (ignored by Spark) and list the sessions and symbols a file holds,
  the symbols that failed, and every injected defect: re-runs plan from them (planning.py) and the
  checks job and tests can account for each line.
* The folder is listed once per run and indexed by (provider, batch, year), so planning a group reads
  only the manifests of files whose names overlap the sessions asked for — not a folder of years.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable, Sequence

from market.collect import calendar
from market.collect.calendar import Session, new_york_date, rfc3339
from market.collect.layout import (BarsName, calendar_file_name, consecutive_runs, group_by_year,
                                      parse_bars_name, parse_calendar_name)
from market.collect.model import Bar
from market.collect.planning import LandedFile

CALENDAR_FOLDER = "calendar"
MANIFEST_FOLDER = "_manifests"


def atomic_write(path: Path, text: str, *, durable: bool = True) -> None:
    """Write `text` so that readers see either the old file or the whole new one, never a part.

    `durable` fsyncs the data before the rename, so a crash cannot leave an empty file under the final
    name (which the stream would ingest). Manifests skip it: they are advisory and re-derivable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def sync_folder(folder: Path) -> None:
    """fsync a folder so the renames in it survive a crash (best effort: not every filesystem allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _number(value: float | int | None) -> float | int | None:
    """JSON has no NaN or infinity: a missing value lands as null."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value


def bar_record(bar: Bar, provider: str, batch_id: str) -> dict[str, Any]:
    """The landed JSON object of one bar (the contract with tables/bronze/bars_raw.yaml)."""
    session = calendar.session_of(bar.ts)
    return {
        "symbol": bar.symbol,
        "ts": rfc3339(bar.ts),
        "timeframe": bar.timeframe,
        "open": _number(bar.open),
        "high": _number(bar.high),
        "low": _number(bar.low),
        "close": _number(bar.close),
        "volume": _number(bar.volume),
        "trade_count": None if bar.trade_count is None else int(bar.trade_count),
        "vwap": _number(bar.vwap),
        "session_open": rfc3339(session.open_utc) if session else None,
        "session_close": rfc3339(session.close_utc) if session else None,
        "provider": provider,
        "batch_id": batch_id,
    }


def manifest(*, file: str, provider: str, timeframe: str, batch: int, batch_id: str, run_id: str,
             sessions: Sequence[date], symbols: list[str], missing: dict[str, str], lines: int,
             defects: list[dict[str, Any]], written_at: datetime) -> dict[str, Any]:
    """The JSON manifest beside each bars file: the cells it holds (sessions x symbols) and every line's story."""
    counts: dict[str, int] = {}
    for defect in defects:
        counts[defect["kind"]] = counts.get(defect["kind"], 0) + 1
    return {
        "file": file,
        "provider": provider,
        "timeframe": timeframe,
        "batch": batch,
        "batch_id": batch_id,
        "run_id": run_id,
        "written_at": rfc3339(written_at),
        "sessions": [day.isoformat() for day in sessions],
        "symbols": symbols,
        "missing": missing,
        "lines": lines,
        "clean_bars": lines - len(defects),
        "defects": counts,
        "defect_details": defects,
    }


@dataclass(frozen=True)
class _Listed:
    """A bars file of the folder listing and what its name says."""

    name: str
    parsed: BarsName


@dataclass
class Landing:
    """The landing folder of one environment, as one run sees it."""

    root: Path
    bars_folder: str = "bars"
    _bars: dict[tuple[str, int, int], list[_Listed]] | None = field(default=None, init=False, repr=False)
    _names: set[str] = field(default_factory=set, init=False, repr=False)
    _held: dict[str, tuple[LandedFile, str] | None] = field(default_factory=dict, init=False, repr=False)
    """File name -> the cells it holds and its timeframe, read on first use."""
    _calendar: dict[int, list[tuple[str, date, date]]] | None = field(default=None, init=False, repr=False)

    @property
    def bars(self) -> Path:
        return self.root / self.bars_folder

    @property
    def calendar(self) -> Path:
        return self.root / CALENDAR_FOLDER

    @property
    def manifests(self) -> Path:
        return self.root / MANIFEST_FOLDER

    # --- bars --------------------------------------------------------------------------------------

    def manifest_path(self, file_name: str) -> Path:
        return self.manifests / f"{Path(file_name).stem}.json"

    def read_manifest(self, file_name: str) -> dict[str, Any] | None:
        try:
            content = json.loads(self.manifest_path(file_name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return content if isinstance(content, dict) else None

    def exists(self, name: str) -> bool:
        self._index()
        return name in self._names

    def landed_files(self, provider: str, timeframe: str, batch: int, sessions: Sequence[date]) -> list[LandedFile]:
        """Files of (provider, timeframe, batch) that hold any of `sessions`, with the cells each holds."""
        wanted = set(sessions)
        first, last = min(wanted), max(wanted)
        found = []
        for year in sorted({day.year for day in wanted}):
            for listed in self._index().get((provider, batch, year), []):
                name = listed.parsed
                if name.last < first or name.first > last or name.timeframe not in (timeframe, None):
                    continue
                held = self._holds(listed.name, timeframe)
                if held is not None and wanted.intersection(held.sessions):
                    found.append(held)
        return found

    def _holds(self, name: str, timeframe: str) -> LandedFile | None:
        """The cells a file holds (None when it holds another timeframe's bars): manifest, else the file itself."""
        if name not in self._held:
            self._held[name] = self._from_manifest(name) or self._from_lines(name)
        found = self._held[name]
        return found[0] if found is not None and found[1] == timeframe else None

    def _from_manifest(self, name: str) -> tuple[LandedFile, str] | None:
        content = self.read_manifest(name)
        if content is None:
            return None
        try:
            days = content["sessions"] if "sessions" in content else [content["session_date"]]
            held = LandedFile(name, tuple(sorted(date.fromisoformat(d) for d in days)),
                              frozenset(content.get("symbols", [])))
            return held, str(content["timeframe"])
        except (KeyError, TypeError, ValueError):
            return None

    def _from_lines(self, name: str) -> tuple[LandedFile, str] | None:
        """No usable manifest: read the file (sessions from the bars' New York dates, symbols and timeframe)."""
        try:
            lines = (self.bars / name).read_text(encoding="utf-8").splitlines()
        except OSError:
            return None
        days: set[date] = set()
        symbols: set[str] = set()
        timeframes: set[str] = set()
        for line in lines:
            try:
                record = json.loads(line)
                ts = datetime.fromisoformat(record["ts"].replace("Z", "+00:00"))
                days.add(new_york_date(ts))
                symbols.add(record["symbol"])
                timeframes.add(record["timeframe"])
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
        if not days or len(timeframes) != 1:
            return None
        return LandedFile(name, tuple(sorted(days)), frozenset(symbols)), timeframes.pop()

    def _index(self) -> dict[tuple[str, int, int], list[_Listed]]:
        """Bars files by (provider, batch, year of their first session), listed once per run and kept
        current by write_bars: a folder of years of sessions is too big to scan per group."""
        if self._bars is None:
            self._bars = defaultdict(list)
            names = [p.name for p in self.bars.iterdir()] if self.bars.is_dir() else []
            for name in names:
                self._remember(name)
        return self._bars

    def _remember(self, name: str) -> None:
        index = self._index()
        if name in self._names:
            return
        self._names.add(name)
        parsed = parse_bars_name(name)
        if parsed is not None:
            index[(parsed.provider, parsed.batch, parsed.year)].append(_Listed(name, parsed))

    def write_bars(self, name: str, text: str) -> Path:
        path = self.bars / name
        atomic_write(path, text)
        self._remember(name)
        self._held.pop(name, None)
        return path

    def write_manifest(self, name: str, content: dict[str, Any]) -> None:
        atomic_write(self.manifest_path(name), json.dumps(content, indent=2) + "\n", durable=False)

    # --- calendar ----------------------------------------------------------------------------------

    def landed_sessions(self, days: Iterable[date]) -> set[date]:
        """Which of `days` some calendar file already holds."""
        wanted = set(days)
        if not wanted:
            return set()
        first, last = min(wanted), max(wanted)
        found: set[date] = set()
        for year in sorted({day.year for day in wanted}):
            for name, start, end in self._calendar_index().get(year, []):
                if end >= first and start <= last:
                    found.update(self._calendar_days(name) & wanted)
        return found

    def _calendar_days(self, name: str) -> set[date]:
        days: set[date] = set()
        try:
            lines = (self.calendar / name).read_text(encoding="utf-8").splitlines()
        except OSError:
            return days
        for line in lines:
            try:
                days.add(date.fromisoformat(json.loads(line)["session_date"]))
            except (ValueError, KeyError, TypeError):
                continue
        return days

    def _calendar_index(self) -> dict[int, list[tuple[str, date, date]]]:
        if self._calendar is None:
            self._calendar = defaultdict(list)
            for path in self.calendar.iterdir() if self.calendar.is_dir() else ():
                span = parse_calendar_name(path.name)
                if span is not None:
                    self._calendar[span[0].year].append((path.name, *span))
        return self._calendar

    def write_calendar(self, sessions: Sequence[Session]) -> list[Path]:
        """Land the calendar lines of `sessions` no calendar file holds yet: a file per year and run of
        consecutive sessions (as for bars files).

        Landed calendar files are never rewritten: the stream would not read them again, and a session's
        line does not change (a closure announced later is a session that never gets collected).
        """
        by_day = {s.date: s for s in sessions}
        held = self.landed_sessions(by_day)
        written = []
        for year in group_by_year(sorted(by_day)):
            for days in consecutive_runs(year, set(year) - held):
                name = calendar_file_name(days)
                path = self.calendar / name
                atomic_write(path, "".join(json.dumps(by_day[d].to_record()) + "\n" for d in days))
                self._calendar_index()[days[0].year].append((name, days[0], days[-1]))
                written.append(path)
        return written

    # --- housekeeping ------------------------------------------------------------------------------

    def sweep_temporary(self, older_than_seconds: float = 3600) -> list[Path]:
        """Delete `.<name>.*.tmp` files a crashed run left behind (never a running writer's: they are young)."""
        cutoff = time.time() - older_than_seconds
        swept = []
        for folder in (self.bars, self.calendar, self.manifests):
            for path in folder.glob(".*.tmp") if folder.is_dir() else ():
                try:
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                        swept.append(path)
                except FileNotFoundError:
                    continue
        return swept
