"""The quality checks a table spec declares (`checks:`), typed, and the environment's defaults per kind.

What is checked is declared where the table is, as dbt declares source freshness and tests: a spec's
`checks:` names the kinds (freshness, volume, unique, reconciliation, and project kinds under `custom`);
an environment's `checks:` gives only defaults (severities, thresholds). Three kinds stay implicit
because the spec already says what they need: `unique` on `keys` (silver and gold), `reconciliation`
of a table streamed from one upstream, and the pass rate of every expectation. Declaring one of those
changes its columns or severity, or turns it off (`enabled: false`).

The documents passed the JSON Schema before they get here; what the schema cannot say (columns that
exist, durations that parse, kinds the project declares) is checked by framework/validation/checks.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Mapping

from framework.findings import did_you_mean

FRESHNESS, VOLUME, UNIQUE, RECONCILIATION, EXPECTATIONS = (
    "freshness", "volume", "unique", "reconciliation", "expectations")
BUILTIN_KINDS: tuple[str, ...] = (FRESHNESS, VOLUME, UNIQUE, RECONCILIATION, EXPECTATIONS)
"""The kinds the framework runs, in the order it runs them (project kinds follow)."""

BUILTIN_DEFAULTS: dict[str, dict[str, Any]] = {
    FRESHNESS: {"enabled": True, "severity": "critical"},
    VOLUME: {"enabled": True, "severity": "critical"},
    UNIQUE: {"enabled": True, "severity": "critical", "max_duplicates": 0},
    RECONCILIATION: {"enabled": True, "severity": "critical"},
    EXPECTATIONS: {"enabled": True, "severity": "warning", "min_pass_rate": 0.99},
}
"""Defaults of the built-in kinds; an environment's `checks.<kind>` overrides them, a spec's entry both."""

DEFAULT_FRESHNESS_COLUMN = "_ingested_at"
"""The column freshness reads when a spec names none: every table read from files has it."""

RESERVED_PARAMETERS = ("kind", "enabled")
"""Keys of a custom entry the framework reads itself (not passed to the kind's function)."""

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*")
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86_400, "week": 604_800}


def parse_duration(text: str) -> timedelta:
    """`26 hours`, `90 minutes`, `2 days`, `1 week` -> a timedelta; ValueError saying how to write one."""
    match = _DURATION.fullmatch(str(text).lower())
    unit = match.group(2).removesuffix("s") if match else ""
    if match is None or unit not in _UNITS:
        close = did_you_mean(match.group(2), [f"{u}s" for u in _UNITS]) if match else ""
        raise ValueError(f"`{text}` is not a duration like `26 hours`" + (f" ({close})" if close else "")
                         + ": a number and one of seconds, minutes, hours, days, weeks")
    seconds = float(match.group(1)) * _UNITS[unit]
    if seconds <= 0:
        raise ValueError(f"`{text}` is not a positive duration")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class FreshnessCheck:
    max_age: str
    """As written (`26 hours`); `age` parses it (validation reports a bad one at its line)."""
    column: str = DEFAULT_FRESHNESS_COLUMN
    severity: str | None = None

    @property
    def age(self) -> timedelta:
        return parse_duration(self.max_age)


@dataclass(frozen=True)
class VolumeCheck:
    min_rows: int | None = None
    max_drop: float | None = None
    severity: str | None = None


@dataclass(frozen=True)
class UniqueCheck:
    columns: tuple[str, ...] = ()
    """Empty: the table's `keys`."""
    max_duplicates: int | None = None
    severity: str | None = None
    enabled: bool = True


@dataclass(frozen=True)
class ReconciliationCheck:
    severity: str | None = None
    enabled: bool = True


@dataclass(frozen=True)
class CustomCheck:
    """`- kind: <name>` and its parameters (every key but `kind` and `enabled`)."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    index: int = 0
    """Its position in `checks.custom` (to locate findings)."""


@dataclass(frozen=True)
class TableChecks:
    freshness: FreshnessCheck | None = None
    volume: VolumeCheck | None = None
    unique: UniqueCheck | None = None
    reconciliation: ReconciliationCheck | None = None
    custom: tuple[CustomCheck, ...] = ()

    @property
    def declared(self) -> bool:
        return any((self.freshness, self.volume, self.unique, self.reconciliation, self.custom))


def build_checks(raw: Mapping[str, Any] | None) -> TableChecks:
    """The typed `checks:` of a spec that passed the JSON Schema."""
    raw = raw or {}
    freshness = raw.get(FRESHNESS)
    volume = raw.get(VOLUME)
    unique = raw.get(UNIQUE)
    reconciliation = raw.get(RECONCILIATION)
    return TableChecks(
        freshness=FreshnessCheck(str(freshness["max_age"]), freshness.get("column", DEFAULT_FRESHNESS_COLUMN),
                                 freshness.get("severity")) if freshness is not None else None,
        volume=VolumeCheck(volume.get("min_rows"), volume.get("max_drop"), volume.get("severity"))
        if volume is not None else None,
        unique=UniqueCheck(tuple(unique.get("columns", ())), unique.get("max_duplicates"), unique.get("severity"),
                           bool(unique.get("enabled", True))) if unique is not None else None,
        reconciliation=ReconciliationCheck(reconciliation.get("severity"), bool(reconciliation.get("enabled", True)))
        if reconciliation is not None else None,
        custom=tuple(CustomCheck(entry["kind"], {k: v for k, v in entry.items() if k not in RESERVED_PARAMETERS},
                                 bool(entry.get("enabled", True)), i)
                     for i, entry in enumerate(raw.get("custom", ()))),
    )


def check_defaults(kind: str, environment_checks: Mapping[str, Any] | None) -> dict[str, Any]:
    """A kind's defaults in an environment: the built-in ones (none for a project kind), then the
    environment's `checks.<kind>`."""
    return {**BUILTIN_DEFAULTS.get(kind, {"enabled": True}), **((environment_checks or {}).get(kind) or {})}
