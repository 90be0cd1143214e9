"""`collect()`: one collection run — sessions x batches of symbols -> landing files, manifests, calendar.

The loop: land the calendar lines of the chosen sessions, then cut the sessions into periods (one
session for intraday bars, a calendar year for daily bars: layout.py) and, per period, plan each batch
against what already landed (planning.py: rewrite files asked for in full, land missing cells under
new names), fetch what the plan needs from the provider (one call per batch and period), turn bars into
records, let the synthetic provider plant its defects across the period's files, and write every file
atomically with its manifest. A symbol that fails is reported and the others land.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence

from market.collect import defects as defect_injection
from market.collect.calendar import Session, new_york_date, now_utc
from market.collect.config import CollectConfig, load_config
from market.collect.dates import Skipped, select_sessions
from market.collect.defects import Draft, Entry
from market.collect.landing import Landing, bar_record, manifest, sync_folder
from market.collect.layout import DAILY, group_by_period
from market.collect.model import Provider, ProviderResult
from market.collect.errors import FetchError
from market.collect.planning import FilePlan, GroupPlan, plan_group
from market.collect.providers import make_provider
from framework.spec.environment import Environment

log = logging.getLogger("medallion.collect")


class Progress(Protocol):
    """What the runner reports as it goes (the CLI draws a rich progress bar from it)."""

    def start(self, total: int) -> None: ...

    def advance(self, count: int, label: str) -> None: ...


class _Silent:
    def start(self, total: int) -> None:
        pass

    def advance(self, count: int, label: str) -> None:
        pass


@dataclass(frozen=True)
class WrittenFile:
    """A bars file this run wrote: the cells it holds (sessions x symbols) and its lines."""

    path: Path
    sessions: tuple[date, ...]
    batch: int
    symbols: tuple[str, ...]
    lines: int
    defects: dict[str, int]
    session_lines: dict[date, int] = field(default_factory=dict)
    """Lines per session (defects included)."""


@dataclass(frozen=True)
class Failure:
    """A symbol that could not be fetched for `session` (through `until`, when it was a range)."""

    symbol: str
    session: date
    message: str
    until: date | None = None

    @property
    def label(self) -> str:
        return f"{self.session}..{self.until}" if self.until else self.session.isoformat()


@dataclass
class CollectResult:
    """Everything a run did; `ok` is False when any symbol failed (the command then exits 1)."""

    provider: str
    timeframe: str
    landing: Path
    run_id: str
    sessions: list[date] = field(default_factory=list)
    files: list[WrittenFile] = field(default_factory=list)
    calendar_files: list[Path] = field(default_factory=list)
    """Calendar files written by this run (sessions no calendar file held yet)."""
    failures: list[Failure] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    """Landed files left untouched because re-fetching them failed this time."""
    unchanged: list[Path] = field(default_factory=list)
    """Landed files left alone: the run filled gaps beside them, asked for only some of their sessions, or
    ran with missing_only."""
    requests: int = 0
    retries: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files)

    def lines_by_session(self) -> dict[date, int]:
        out: dict[date, int] = {d: 0 for d in self.sessions}
        for f in self.files:
            for day, count in f.session_lines.items():
                out[day] = out.get(day, 0) + count
        return out

    def defect_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            for kind, count in f.defects.items():
                out[kind] = out.get(kind, 0) + count
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "provider": self.provider, "timeframe": self.timeframe, "run_id": self.run_id,
            "landing": str(self.landing), "sessions": [d.isoformat() for d in self.sessions],
            "files": [{"path": str(f.path), "first_session": f.sessions[0].isoformat(),
                       "last_session": f.sessions[-1].isoformat(), "session_count": len(f.sessions),
                       "batch": f.batch, "symbols": list(f.symbols), "lines": f.lines, "defects": f.defects}
                      for f in self.files],
            "calendar_files": [str(p) for p in self.calendar_files],
            "lines": self.lines, "defects": self.defect_counts(),
            "failures": [{"symbol": f.symbol, "session": f.session.isoformat(),
                          "until": f.until.isoformat() if f.until else None, "message": f.message}
                         for f in self.failures],
            "skipped": [{"date": s.day.isoformat(), "reason": s.reason} for s in self.skipped],
            "kept": [str(p) for p in self.kept], "unchanged": [str(p) for p in self.unchanged],
            "requests": self.requests, "retries": self.retries,
        }


def collect(env: Environment, provider: str | None = None, dates: Iterable[date] | None = None, *,
            start: date | None = None, end: date | None = None, sessions: int | None = None,
            missing_only: bool = False, at: datetime | None = None, progress: Progress | None = None,
            **overrides: Any) -> CollectResult:
    """Collect bars into `env`'s landing folder and return what happened.

    `dates`, `start`/`end` and `sessions` choose the sessions (default: the environment's
    `tasks.collect.sessions` last completed ones; for csv, every date in the input). `overrides` are the
    `load_config` settings (symbols, timeframe, seed, defect_rate, csv_path, csv_symbol, base_url,
    feed, requests_per_minute, batch_size, timeout, retry, landing_path). `at` fixes "now" for tests.
    Raises CollectError for bad settings; per-symbol failures are in the result, never raised.
    """
    config = load_config(env, provider=provider, **overrides)
    source = make_provider(config)
    try:
        return _Run(config, source, progress or _Silent()).run(dates, start, end, sessions, missing_only, at)
    finally:
        source.close()


@dataclass
class _Pending:
    """A file drafted and waiting to be written (after the period's defects are planted)."""

    draft: Draft
    plan: FilePlan
    batch: int
    landed: tuple[str, ...]
    missing: dict[str, str]


class _Run:
    def __init__(self, config: CollectConfig, provider: Provider, progress: Progress) -> None:
        self.config = config
        self.provider = provider
        self.progress = progress
        self.timeframe: str = getattr(provider, "timeframe", None) or config.timeframe or "1Min"
        self.symbols: tuple[str, ...] = config.symbols or tuple(getattr(provider, "symbols", ()))
        self.landing = Landing(config.landing_path, config.bars_folder)
        self.inject = config.provider == "synthetic" and config.defect_rate > 0
        run_id = f"{now_utc().strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:6]}"
        self.result = CollectResult(config.provider, self.timeframe, config.landing_path, run_id)

    def run(self, dates: Iterable[date] | None, start: date | None, end: date | None, last: int | None,
            missing_only: bool, at: datetime | None) -> CollectResult:
        available = self.provider.dates() if hasattr(self.provider, "dates") else None
        chosen, skipped = select_sessions(dates=list(dates) if dates is not None else None, start=start, end=end,
                                          last=last, available=available, default_last=self.config.sessions, at=at)
        self.result.skipped = skipped
        self.result.sessions = [s.date for s in chosen]
        for day in skipped:
            log.info("skipped %s: %s", day.day, day.reason)
        for path in self.landing.sweep_temporary():
            log.info("removed %s, left by an interrupted run", path.name)
        self.result.calendar_files = self.landing.write_calendar(chosen)
        batches = _chunks(self.symbols, self.config.batch_size)
        by_date = {s.date: s for s in chosen}
        self.progress.start(len(chosen) * len(self.symbols))
        for period, days in group_by_period(self.timeframe, sorted(by_date)):
            self._period(period, [by_date[d] for d in days], batches, missing_only)
        for folder in (self.landing.bars, self.landing.calendar, self.landing.manifests):
            sync_folder(folder)
        self.result.requests = getattr(getattr(self.provider, "client", None), "requests", 0)
        self.result.retries = getattr(getattr(self.provider, "client", None), "retries", 0)
        return self.result

    def _period(self, period: str, sessions: list[Session], batches: list[tuple[str, ...]],
                missing_only: bool) -> None:
        """Every batch over one period's sessions; defects (synthetic) are planted across the period's files."""
        days = [s.date for s in sessions]
        pending: list[_Pending] = []
        for index, symbols in enumerate(batches):
            landed = self.landing.landed_files(self.provider.name, self.timeframe, index, days)
            plan = plan_group(provider=self.provider.name, timeframe=self.timeframe, batch=index, symbols=symbols,
                              sessions=days, landed=landed, missing_only=missing_only, taken=self.landing.exists)
            self.result.unchanged.extend(self.landing.bars / name for name in plan.unchanged)
            drafted = self._drafts(plan, sessions)
            if self.inject:
                pending.extend(drafted)
            else:
                for item in drafted:
                    self._write(item)
            self.progress.advance(len(symbols) * len(sessions), f"{period} b{index:03d}")
        if pending:
            defect_injection.inject([p.draft for p in pending], self.config.defect_rate, self.config.seed, period,
                                    self.timeframe, None if self.timeframe == DAILY else sessions[0])
            for item in pending:
                self._write(item)

    def _drafts(self, plan: GroupPlan, sessions: list[Session]) -> list[_Pending]:
        """Fetch what the plan needs (one provider call per distinct set of sessions) and draft its files."""
        by_date = {s.date: s for s in sessions}
        drafted: list[_Pending] = []
        for days, symbols in plan.fetches():
            fetched = self._fetch(symbols, [by_date[d] for d in days])
            for symbol, message in fetched.failures.items():
                self.result.failures.append(Failure(symbol, days[0], message, days[-1] if len(days) > 1 else None))
                log.warning("%s %s: %s", symbol, self.result.failures[-1].label, message)
            for file in (f for f in plan.files if f.sessions == days):
                missing = {s: fetched.failures[s] for s in file.symbols if s in fetched.failures}
                if file.rewrite and missing:
                    self.result.kept.append(self.landing.bars / file.name)
                    continue
                landed = tuple(s for s in file.symbols if s in fetched.bars)
                draft = self._draft(file.name, fetched, landed, set(days))
                if draft.entries:
                    drafted.append(_Pending(draft, file, plan.batch, landed, missing))
        return drafted

    def _fetch(self, symbols: Sequence[str], sessions: list[Session]) -> ProviderResult:
        try:
            return self.provider.fetch(symbols, sessions)
        except FetchError as exc:  # providers report per symbol; this is the safety net
            return ProviderResult(failures={s: str(exc) for s in symbols})

    def _draft(self, name: str, fetched: ProviderResult, symbols: tuple[str, ...], days: set[date]) -> Draft:
        """The file's lines: every bar of its symbols on its sessions (nothing a provider sent beyond them)."""
        batch_id = name[: -len(".jsonl")]
        records = (bar_record(bar, self.provider.name, batch_id) for s in symbols for bar in fetched.bars[s]
                   if new_york_date(bar.ts) in days)
        return Draft(name, [Entry(r) for r in records])

    def _write(self, item: _Pending) -> None:
        draft, file = item.draft, item.plan
        draft.number_lines()
        path = self.landing.write_bars(draft.name, "".join(entry.text() + "\n" for entry in draft.entries))
        details = [d.to_dict() for d in draft.defects]
        info = manifest(file=f"{self.config.bars_folder}/{draft.name}", provider=self.provider.name,
                        timeframe=self.timeframe, batch=item.batch, batch_id=draft.name[: -len(".jsonl")],
                        run_id=self.result.run_id, sessions=file.sessions, symbols=list(item.landed),
                        missing=item.missing, lines=len(draft.entries), defects=details, written_at=now_utc())
        self.landing.write_manifest(draft.name, info)
        self.result.files.append(WrittenFile(path, file.sessions, item.batch, item.landed, len(draft.entries),
                                             info["defects"], _session_lines(draft, file.sessions)))


def _session_lines(draft: Draft, sessions: tuple[date, ...]) -> dict[date, int]:
    """Lines per session. A multi-session file holds daily bars, stamped at New York midnight (04:00 or
    05:00 UTC): the date of their UTC timestamp is their session."""
    if len(sessions) == 1:
        return {sessions[0]: len(draft.entries)}
    counts: dict[date, int] = {}
    for entry in draft.entries:
        day = date.fromisoformat(entry.record["ts"][:10])
        counts[day] = counts.get(day, 0) + 1
    return counts


def _chunks(symbols: Sequence[str], size: int) -> list[tuple[str, ...]]:
    """Batches in the configured order: stable for a given symbol list (append new symbols at the end)."""
    return [tuple(symbols[i:i + size]) for i in range(0, len(symbols), size)]
