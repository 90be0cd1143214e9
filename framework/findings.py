"""Findings: located, actionable messages about specs, shared by every check.

A finding always says where (file, line, column and the path inside the document), what is wrong,
and, when we can guess it, how to fix it. Validators never raise on bad input; they return findings.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    column: int
    message: str
    doc_path: str = ""
    hint: str = ""
    code: str = "invalid"
    severity: str = field(default="error", compare=False)

    def render(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        at = f" (at {self.doc_path})" if self.doc_path else ""
        hint = f"\n    hint: {self.hint}" if self.hint else ""
        return f"{where}: {self.severity}: {self.message}{at}{hint}"


_LONG_QUOTE = re.compile(r"`([^`]{80,})`")
MAX_MESSAGE = 600


def tidy(text: str, limit: int = MAX_MESSAGE) -> str:
    """Keep messages readable whatever a hostile file holds: long `quoted values` and long texts are cut."""
    if len(text) <= 120:
        return text
    text = _LONG_QUOTE.sub(lambda m: f"`{m.group(1)[:60]}…`", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A 'did you mean `x`?' hint for typos, or '' when nothing is close enough."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"did you mean `{matches[0]}`?" if matches else ""


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(set(findings), key=lambda f: (f.file, f.line, f.column, f.message))


def format_text(findings: Sequence[Finding]) -> str:
    return "\n".join(f.render() for f in findings)


def format_json(findings: Sequence[Finding]) -> str:
    return json.dumps({"valid": not any(f.severity == "error" for f in findings),
                       "findings": [asdict(f) for f in findings]}, indent=2)


def _escape_github(value: str, *, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def format_github(findings: Sequence[Finding]) -> str:
    """GitHub Actions workflow commands: annotations on the offending line of the PR diff."""
    lines = []
    for f in findings:
        text = f.message + (f" (at {f.doc_path})" if f.doc_path else "") + (f" — {f.hint}" if f.hint else "")
        lines.append(
            f"::{f.severity} file={_escape_github(f.file, prop=True)},line={f.line},col={f.column},"
            f"title={_escape_github(f.code, prop=True)}::{_escape_github(text)}"
        )
    return "\n".join(lines)
