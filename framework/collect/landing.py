"""The landing folder: deterministic file names, atomic writes, manifests and re-run planning.

Layout (read by tables/bronze/bars_raw.yaml and tables/bronze/nyse_sessions_raw.yaml)::

    <landing>/bars/<provider>_<YYYY-MM-DD>_b<NNN>.jsonl            one batch of symbols, one session
    <landing>/bars/<provider>_<YYYY-MM-DD>_b<NNN>_<SYMBOL>.jsonl   a symbol that failed, landed later
    <landing>/calendar/xnys_<YYYY-MM-DD>.jsonl                     the session's open/close
    <landing>/_manifests/<file stem>.json                          what each bars file holds

Why this shape:

* Names depend only on (provider, session, batch), so a re-run *replaces* a file instead of adding a
  second copy. Spark's file stream remembers names it has read and never re-reads a replaced file —
  harmless for a replay of the same data, but it means a gap must be filled in a *new* file. So when a
  batch file exists with symbols missing, the re-run fetches only those and lands each one in its own
  `_b<NNN>_<SYMBOL>` file; a complete batch is simply replaced.
* Writes are atomic (temp file named `.<name>.tmp` in the same folder, fsync, `os.replace`): the stream
  never sees half a file, and Spark ignores names starting with `.` or `_`.
* Manifests sit under `_manifests/` (ignored by Spark) and list the symbols landed, those missing, and
  every injected defect, so the checks job and tests can account for each line.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable

from framework.collect import calendar
from framework.collect.calendar import Session, rfc3339
from framework.collect.model import Bar

CALENDAR_FOLDER = "calendar"
MANIFEST_FOLDER = "_manifests"
FILL_NAME = re.compile(r"^(?P<stem>.+_b\d{3})_(?P<symbol>[A-Z][A-Z0-9.\-]*)\.jsonl$")


def batch_file_name(provider: str, session_date: date, batch: int, symbol: str | None = None) -> str:
    """`synthetic_2026-11-27_b000.jsonl`, or `..._b000_AAPL.jsonl` for a symbol filled in later."""
    stem = f"{provider}_{session_date.isoformat()}_b{batch:03d}"
    return f"{stem}_{symbol}.jsonl" if symbol else f"{stem}.jsonl"


def calendar_file_name(session_date: date) -> str:
    return f"xnys_{session_date.isoformat()}.jsonl"


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


@dataclass
class Landing:
    """The landing folder of one environment."""

    root: Path
    bars_folder: str = "bars"
    _listing: dict[str, str | None] | None = field(default=None, init=False, repr=False)
    _fills: dict[str, dict[str, str]] = field(default_factory=dict, init=False, repr=False)

    @property
    def bars(self) -> Path:
        return self.root / self.bars_folder

    @property
    def calendar(self) -> Path:
        return self.root / CALENDAR_FOLDER

    @property
    def manifests(self) -> Path:
        return self.root / MANIFEST_FOLDER

    def manifest_path(self, file_name: str) -> Path:
        return self.manifests / f"{Path(file_name).stem}.json"

    def read_manifest(self, file_name: str) -> dict[str, Any] | None:
        path = self.manifest_path(file_name)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def write_calendar(self, session: Session) -> Path:
        """The session's calendar line; an identical existing file is left alone (no rewrite, no fsync)."""
        path = self.calendar / calendar_file_name(session.date)
        text = json.dumps(session.to_record()) + "\n"
        try:
            if path.read_text(encoding="utf-8") == text:
                return path
        except OSError:
            pass
        atomic_write(path, text)
        return path

    def write_bars(self, name: str, text: str) -> Path:
        path = self.bars / name
        atomic_write(path, text)
        self._remember(name)
        return path

    def write_manifest(self, name: str, content: dict[str, Any]) -> None:
        atomic_write(self.manifest_path(name), json.dumps(content, indent=2) + "\n", durable=False)

    def exists(self, name: str) -> bool:
        return name in self._index()

    def _index(self) -> dict[str, str | None]:
        """Bars file names -> their batch stem if they are fill files (else None), listed once per run and
        kept current by write_bars/remove: a folder of years of sessions is too big to scan per batch."""
        if self._listing is None:
            names = [p.name for p in self.bars.iterdir()] if self.bars.is_dir() else []
            self._listing = {}
            for name in names:
                self._remember(name)
        return self._listing

    def _remember(self, name: str) -> None:
        match = FILL_NAME.match(name)
        self._index()[name] = match.group("stem") if match else None
        if match:
            self._fills.setdefault(match.group("stem"), {})[match.group("symbol")] = name

    def _forget(self, name: str) -> None:
        stem = self._index().pop(name, None)
        if stem:
            self._fills.get(stem, {}).pop(FILL_NAME.match(name).group("symbol"), None)  # type: ignore[union-attr]

    def landed_symbols(self, file_name: str) -> set[str]:
        """Symbols a bars file holds: from its manifest, or by reading the file when the manifest is gone."""
        manifest = self.read_manifest(file_name)
        if manifest is not None:
            return set(manifest.get("symbols", []))
        symbols: set[str] = set()
        try:
            lines = (self.bars / file_name).read_text(encoding="utf-8").splitlines()
        except OSError:
            return symbols
        for line in lines:
            try:
                symbols.add(json.loads(line)["symbol"])
            except (ValueError, KeyError, TypeError):
                continue
        return symbols

    def fill_files(self, provider: str, session_date: date, batch: int) -> dict[str, Path]:
        """Existing `_b<NNN>_<SYMBOL>` files of a batch, by symbol."""
        stem = batch_file_name(provider, session_date, batch)[: -len(".jsonl")]
        self._index()
        return {symbol: self.bars / name for symbol, name in self._fills.get(stem, {}).items()}

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

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self.manifest_path(path.name).unlink(missing_ok=True)
        self._forget(path.name)


@dataclass
class BatchPlan:
    """What a run does for one (session, batch): replace the batch file, or fill in missing symbols."""

    batch: int
    symbols: tuple[str, ...]
    fetch: tuple[str, ...]
    fill: bool
    """True when the batch file exists but lacks `fetch`: land those in their own files."""
    existed: bool
    """The batch file was already complete: a failure now must not replace it with less."""
    stale_fills: dict[str, Path] = field(default_factory=dict)
    """Fill files to delete once a complete batch file holding their symbols is written."""

    @property
    def complete(self) -> bool:
        return self.existed and not self.fill


def plan_batch(landing: Landing, provider: str, session_date: date, batch: int,
               symbols: Iterable[str]) -> BatchPlan:
    symbols = tuple(symbols)
    name = batch_file_name(provider, session_date, batch)
    fills = landing.fill_files(provider, session_date, batch)
    if not landing.exists(name):
        return BatchPlan(batch, symbols, symbols, fill=False, existed=False, stale_fills=fills)
    landed = landing.landed_symbols(name) | set(fills)
    missing = tuple(s for s in symbols if s not in landed)
    if missing:
        return BatchPlan(batch, symbols, missing, fill=True, existed=True)
    return BatchPlan(batch, symbols, symbols, fill=False, existed=True, stale_fills=fills)


def manifest(*, file: str, provider: str, session: Session, batch: int, batch_id: str, timeframe: str,
             run_id: str, symbols: list[str], missing: dict[str, str], lines: int,
             defects: list[dict[str, Any]], written_at: datetime) -> dict[str, Any]:
    """The JSON manifest beside each bars file: enough to reconcile every line downstream."""
    counts: dict[str, int] = {}
    for defect in defects:
        counts[defect["kind"]] = counts.get(defect["kind"], 0) + 1
    return {
        "file": file,
        "provider": provider,
        "session_date": session.date.isoformat(),
        "batch": batch,
        "batch_id": batch_id,
        "timeframe": timeframe,
        "run_id": run_id,
        "written_at": rfc3339(written_at),
        "symbols": symbols,
        "missing": missing,
        "lines": lines,
        "clean_bars": lines - len(defects),
        "defects": counts,
        "defect_details": defects,
    }
