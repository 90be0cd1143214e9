"""Check results and the report the CLI prints: a terminal table, JSON, and an exit code."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITIES = ("critical", "warning", "info")
MAX_LISTED = 5
"""Missing items a check names in its text detail; `--format json` has all of them."""


def first_few(items: list[str], noun: str = "") -> str:
    """`: a, b, c` naming the first MAX_LISTED items, then how many more (all are in --format json)."""
    if not items:
        return ""
    text = ("; " if noun else ": ") + ("; " if noun else ", ").join(items[:MAX_LISTED])
    if len(items) > MAX_LISTED:
        text += f"{'; ' if noun else ', '}and {len(items) - MAX_LISTED} more {noun}".rstrip() + " (all in --format json)"
    return text


@dataclass(frozen=True)
class CheckResult:
    check: str
    target: str
    passed: bool
    severity: str
    observed: Any
    threshold: Any
    detail: str = ""
    """For people: what was observed, naming the first few missing items."""
    missing: Any = None
    """For tools: every missing item (e.g. the dates missing per key, the time ranges missing per day), JSON-ready."""

    @property
    def status(self) -> str:
        return "PASS" if self.passed else ("FAIL" if self.severity == "critical" else "WARN")


@dataclass
class CheckReport:
    env: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def critical_failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed and r.severity == "critical"]

    @property
    def exit_code(self) -> int:
        """1 when any critical check failed: the job's quality_checks task fails."""
        return 1 if self.critical_failures else 0

    def to_json(self) -> str:
        return json.dumps({
            "env": self.env,
            "ok": not self.critical_failures,
            "summary": {status: sum(r.status == status for r in self.results) for status in ("PASS", "WARN", "FAIL")},
            "results": [{**asdict(r), "status": r.status} for r in self.results],
        }, indent=2, default=str)
