"""Re-run planning: which landed files a run rewrites, and which new files fill the gaps. Pure logic.

The landing folder is thought of as *cells*: (session, symbol) pairs. A landed file holds the cells
`sessions x symbols` of its manifest (`symbols` are those that landed; failed ones are in `missing`).
A run asks for the cells `requested sessions x batch symbols` of one group (a batch in one period:
a session for intraday bars, a year for daily bars). Spark's file stream remembers every file by
path and never reads a path twice, which dictates the rules:

* Cells no landed file holds are fetched and landed under **new names**, which the stream reads in
  full: sessions where every symbol of the batch is missing go to a batch file per run of consecutive
  requested sessions (a backfill: one file; a later wider backfill: one before and one after what
  landed); the remaining missing cells go to one file per symbol and run. No cell is ever landed
  twice, and no landed file is ever rewritten with different cells (its new content would never be
  read — this is also why a symbol filled in later is never merged into its batch's file).
* Landed files are left alone (`unchanged`) while the group has gaps — a gap-filling run fetches only
  the gaps — and under `--missing-only`.
* When nothing is missing, a re-run **rewrites the landed files it asks for in full under their own
  names with the same cells** (byte for byte for the deterministic synthetic provider): the stream
  does not read them again and needs not, they hold nothing new. A file the run asks for only in part
  (one day of a year file) is left alone; a file whose re-fetch fails for any symbol is kept as it was,
  never replaced by less.

New names cannot collide with landed ones: a name states the first session it holds and, for a
symbol file, the symbol; a landed file with that name would already hold that cell. The one exception
— a batch whose symbols all changed (the list was reordered) — falls back to per-symbol files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Sequence

from market.collect.layout import bars_file_name, consecutive_runs
from market.collect.errors import CollectError


@dataclass(frozen=True)
class LandedFile:
    """A bars file already in the landing folder and the cells it holds."""

    name: str
    sessions: tuple[date, ...]
    symbols: frozenset[str]


@dataclass(frozen=True)
class FilePlan:
    """One file the run writes: its name and the cells (sessions x symbols) it is to hold."""

    name: str
    sessions: tuple[date, ...]
    symbols: tuple[str, ...]
    rewrite: bool = False
    """True: an existing file rewritten with the same cells (kept as it was if a re-fetch fails)."""


@dataclass
class GroupPlan:
    """What a run does for one batch in one period."""

    batch: int
    symbols: tuple[str, ...]
    files: list[FilePlan] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    """Landed files of the requested sessions left alone (asked for in part, or --missing-only)."""

    def fetches(self) -> list[tuple[tuple[date, ...], tuple[str, ...]]]:
        """The provider calls the plan needs: one per distinct set of sessions, with every symbol it wants."""
        wanted: dict[tuple[date, ...], dict[str, None]] = {}
        for plan in self.files:
            wanted.setdefault(plan.sessions, {}).update(dict.fromkeys(plan.symbols))
        return [(sessions, tuple(symbols)) for sessions, symbols in wanted.items()]


def plan_group(*, provider: str, timeframe: str, batch: int, symbols: Sequence[str], sessions: Sequence[date],
               landed: Sequence[LandedFile], missing_only: bool = False,
               taken: Callable[[str], bool] = lambda name: False) -> GroupPlan:
    """Plan one batch over `sessions` (sorted, one period) against the files that already landed.

    `landed` are the group's files holding any of `sessions`; `taken(name)` says whether a name is in
    use in the landing folder (a last guard: the rules above already make a collision impossible).
    """
    symbols = tuple(symbols)
    requested = set(sessions)
    plan = GroupPlan(batch, symbols)
    landed = sorted((f for f in landed if requested.intersection(f.sessions)), key=lambda f: f.name)
    held = {(day, symbol) for file in landed for day in file.sessions if day in requested for symbol in file.symbols}
    missing = {(day, symbol) for day in sessions for symbol in symbols} - held
    for file in landed:
        if missing or missing_only or not set(file.sessions) <= requested:
            plan.unchanged.append(file.name)
        else:
            plan.files.append(FilePlan(file.name, file.sessions, tuple(s for s in symbols if s in file.symbols)
                                       + tuple(sorted(file.symbols.difference(symbols))), rewrite=True))
    whole = tuple(day for day in sessions if all((day, s) in missing for s in symbols))
    used = {f.name for f in plan.files} | set(plan.unchanged)

    def free(name: str) -> bool:
        return name not in used and not taken(name)

    for run in consecutive_runs(sessions, set(whole)):
        name = bars_file_name(provider, timeframe, run, batch)
        if free(name):
            plan.files.append(FilePlan(name, run, symbols))
            missing -= {(day, s) for day in run for s in symbols}
    for symbol in symbols:
        for run in consecutive_runs(sessions, {day for day, s in missing if s == symbol}):
            name = bars_file_name(provider, timeframe, run, batch, symbol)
            if not free(name):  # cannot happen (see the module docstring); never overwrite a landed file
                raise CollectError(f"landing file {name} exists but its manifest says it does not hold "
                                   f"{symbol} on {run[0]}: move it aside and re-run")
            plan.files.append(FilePlan(name, run, (symbol,)))
    return plan

