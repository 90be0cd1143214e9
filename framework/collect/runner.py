"""`collect()`: one collection run — sessions x batches of symbols -> landing files, manifests, calendar.

The loop, per session: plan each batch against what already landed (replace a complete batch, or fill
in only the missing symbols), fetch it from the provider, turn bars into records, let the synthetic
provider plant its defects across the session's files, then write every file atomically with its
manifest, and the session's calendar line. A symbol that fails is reported and the others land.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence

from framework.collect import defects as defect_injection
from framework.collect.calendar import Session, now_utc
from framework.collect.config import CollectConfig, load_config
from framework.collect.dates import Skipped, select_sessions
from framework.collect.defects import Draft, Entry
from framework.collect.landing import BatchPlan, Landing, bar_record, batch_file_name, manifest, plan_batch, sync_folder
from framework.collect.model import FetchError, Provider, ProviderResult
from framework.collect.providers import make_provider
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
    path: Path
    session: date
    batch: int
    symbols: tuple[str, ...]
    lines: int
    defects: dict[str, int]


@dataclass(frozen=True)
class Failure:
    symbol: str
    session: date
    message: str


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
    failures: list[Failure] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    """Complete files left untouched because re-fetching them failed this time."""
    unchanged: list[Path] = field(default_factory=list)
    """Complete files not re-fetched (missing_only)."""
    removed: list[Path] = field(default_factory=list)
    """Fill files superseded by a complete batch file."""
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
            out[f.session] = out.get(f.session, 0) + f.lines
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
            "files": [{"path": str(f.path), "session": f.session.isoformat(), "batch": f.batch,
                       "symbols": list(f.symbols), "lines": f.lines, "defects": f.defects} for f in self.files],
            "calendar_files": [str(p) for p in self.calendar_files],
            "lines": self.lines, "defects": self.defect_counts(),
            "failures": [{"symbol": f.symbol, "session": f.session.isoformat(), "message": f.message}
                         for f in self.failures],
            "skipped": [{"date": s.day.isoformat(), "reason": s.reason} for s in self.skipped],
            "kept": [str(p) for p in self.kept], "unchanged": [str(p) for p in self.unchanged],
            "removed": [str(p) for p in self.removed], "requests": self.requests, "retries": self.retries,
        }


def collect(env: Environment, provider: str | None = None, dates: Iterable[date] | None = None, *,
            start: date | None = None, end: date | None = None, sessions: int | None = None,
            missing_only: bool = False, at: datetime | None = None, progress: Progress | None = None,
            **overrides: Any) -> CollectResult:
    """Collect bars into `env`'s landing folder and return what happened.

    `dates`, `start`/`end` and `sessions` choose the sessions (default: the environment's
    `collect.sessions` last completed ones; for csv, every date in the input). `overrides` are the
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


class _Run:
    def __init__(self, config: CollectConfig, provider: Provider, progress: Progress) -> None:
        self.config = config
        self.provider = provider
        self.progress = progress
        self.timeframe: str = getattr(provider, "timeframe", None) or config.timeframe or "1Min"
        self.symbols: tuple[str, ...] = config.symbols or tuple(getattr(provider, "symbols", ()))
        self.landing = Landing(config.landing_path, config.bars_folder)
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
        batches = _chunks(self.symbols, self.config.batch_size)
        self.progress.start(len(chosen) * len(self.symbols))
        for session in chosen:
            self._session(session, batches, missing_only)
        for folder in (self.landing.bars, self.landing.calendar, self.landing.manifests):
            sync_folder(folder)
        self.result.requests = getattr(getattr(self.provider, "client", None), "requests", 0)
        self.result.retries = getattr(getattr(self.provider, "client", None), "retries", 0)
        return self.result

    def _session(self, session: Session, batches: list[tuple[str, ...]], missing_only: bool) -> None:
        drafts: list[tuple[Draft, BatchPlan, tuple[str, ...]]] = []
        for index, symbols in enumerate(batches):
            plan = plan_batch(self.landing, self.provider.name, session.date, index, symbols)
            if missing_only and plan.complete:
                name = batch_file_name(self.provider.name, session.date, index)
                self.result.unchanged.append(self.landing.bars / name)
            else:
                drafts.extend(self._batch(session, plan))
            self.progress.advance(len(symbols), f"{session.date} b{index:03d}")
        if self.config.provider == "synthetic":
            defect_injection.inject([d for d, _, _ in drafts], self.config.defect_rate, self.config.seed,
                                    session, self.timeframe)
        for draft, plan, landed in drafts:
            self._write(session, draft, plan, landed)
        self.result.calendar_files.append(self.landing.write_calendar(session))

    def _batch(self, session: Session, plan: BatchPlan) -> list[tuple[Draft, BatchPlan, tuple[str, ...]]]:
        """Fetch a batch; return the drafts to write (one batch file, or one fill file per symbol)."""
        fetched = self._fetch(plan.fetch, session)
        for symbol, message in fetched.failures.items():
            self.result.failures.append(Failure(symbol, session.date, message))
            log.warning("%s %s: %s", symbol, session.date, message)
        landed = tuple(s for s in plan.fetch if s in fetched.bars)
        name = batch_file_name(self.provider.name, session.date, plan.batch)
        if plan.fill:
            return [(self._draft(batch_file_name(self.provider.name, session.date, plan.batch, s), fetched, (s,)),
                     plan, (s,)) for s in landed if fetched.bars[s]]
        if plan.existed and fetched.failures:
            self.result.kept.append(self.landing.bars / name)
            return []
        return [(self._draft(name, fetched, landed), plan, landed)] if landed else []

    def _fetch(self, symbols: Sequence[str], session: Session) -> ProviderResult:
        try:
            return self.provider.fetch(symbols, session)
        except FetchError as exc:  # providers report per symbol; this is the safety net
            return ProviderResult(failures={s: str(exc) for s in symbols})

    def _draft(self, name: str, fetched: ProviderResult, symbols: tuple[str, ...]) -> Draft:
        batch_id = name[: -len(".jsonl")]
        records = (bar_record(bar, self.provider.name, batch_id) for s in symbols for bar in fetched.bars[s])
        return Draft(name, [Entry(r) for r in records])

    def _write(self, session: Session, draft: Draft, plan: BatchPlan, symbols: tuple[str, ...]) -> None:
        if not draft.entries:
            return
        draft.number_lines()
        path = self.landing.bars / draft.name
        failed = {f.symbol: f.message for f in self.result.failures
                  if f.session == session.date and f.symbol in plan.symbols}
        details = [d.to_dict() for d in draft.defects]
        self.landing.write_bars(draft.name, "".join(entry.text() + "\n" for entry in draft.entries))
        info = manifest(file=f"{self.config.bars_folder}/{draft.name}", provider=self.provider.name, session=session,
                        batch=plan.batch, batch_id=draft.name[: -len(".jsonl")], timeframe=self.timeframe,
                        run_id=self.result.run_id, symbols=list(symbols), missing=failed,
                        lines=len(draft.entries), defects=details, written_at=now_utc())
        self.landing.write_manifest(draft.name, info)
        counts = info["defects"]
        self.result.files.append(WrittenFile(path, session.date, plan.batch, symbols, len(draft.entries), counts))
        if not plan.fill:
            for symbol, stale in plan.stale_fills.items():
                if symbol in symbols:
                    self.landing.remove(stale)
                    self.result.removed.append(stale)


def _chunks(symbols: Sequence[str], size: int) -> list[tuple[str, ...]]:
    """Batches in the configured order: stable for a given symbol list (append new symbols at the end)."""
    return [tuple(symbols[i:i + size]) for i in range(0, len(symbols), size)]
