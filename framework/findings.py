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


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {"error": "error", "warning": "warning"}
"""Finding severity -> SARIF `result.level` (anything else is a `note`)."""


def format_sarif(findings: Sequence[Finding], *, version: str = "", strict: bool = False) -> str:
    """SARIF 2.1.0, the log GitHub code scanning (and other viewers) show as alerts on the offending line.

    One run of the `medallion` tool; one rule per finding code (`ruleId`, with `ruleIndex` into the driver's
    rules); each result is located by its file, relative to the project root (`uriBaseId: %SRCROOT%`, so a
    project in a sub-folder is uploaded with `checkout_path`), and a region with startLine and startColumn.
    With `strict`, warnings are reported at level error, as `--strict` fails on them.
    """
    codes = sorted({f.code for f in findings})
    index = {code: i for i, code in enumerate(codes)}
    rules = [{"id": code, "name": code, "shortDescription": {"text": f"medallion validate: {code}"}}
             for code in codes]
    results = []
    for f in findings:
        level = SARIF_LEVELS.get(f.severity, "note")
        if strict and level == "warning":
            level = "error"
        text = f.message + (f" (at {f.doc_path})" if f.doc_path else "") + (f"\nhint: {f.hint}" if f.hint else "")
        results.append({
            "ruleId": f.code, "ruleIndex": index[f.code], "level": level, "message": {"text": text},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": f.file, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": max(f.line, 1), "startColumn": max(f.column, 1)}}}],
        })
    driver: dict[str, object] = {"name": "medallion", "rules": rules}
    if version:
        driver["version"] = version
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0",
           "runs": [{"tool": {"driver": driver}, "columnKind": "unicodeCodePoints", "results": results}]}
    return json.dumps(log, indent=2, ensure_ascii=False)


_NOT_XML = re.compile("[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")
"""Characters XML 1.0 cannot hold at all (control characters a hostile file may put in a message)."""


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def format_junit(findings: Sequence[Finding], *, checked: Sequence[str] = (), strict: bool = False) -> str:
    """JUnit XML, the test report GitLab, Jenkins, Azure DevOps and most CI servers display.

    One test case per checked file (and per other file a finding is about): it passes when the file has no
    error, else it fails with every finding of the file, located `file:line:column`. Warnings fail the case
    only with `strict`; otherwise they are listed in its `system-out`.
    """
    import xml.etree.ElementTree as ET

    by_file: dict[str, list[Finding]] = {name: [] for name in checked}
    for f in findings:
        by_file.setdefault(f.file, []).append(f)
    failed_cases = 0
    suite = ET.Element("testsuite", name="medallion validate")
    for file in sorted(by_file):
        case = ET.SubElement(suite, "testcase", classname="medallion.validate", name=_xml(file), file=_xml(file))
        found = by_file[file]
        failing = [f for f in found if f.severity == "error" or strict]
        if failing:
            failed_cases += 1
            first = failing[0]
            failure = ET.SubElement(case, "failure", message=_xml(tidy(f"{first.file}:{first.line}:{first.column}: "
                                                                       f"{first.message}", 300)), type=_xml(first.code))
            failure.text = _xml("\n".join(f.render() for f in failing))
        rest = [f for f in found if f not in failing]
        if rest:
            ET.SubElement(case, "system-out").text = _xml("\n".join(f.render() for f in rest))
    counts = {"tests": str(len(by_file)), "failures": str(failed_cases), "errors": "0", "skipped": "0"}
    suite.attrib.update(counts)
    root = ET.Element("testsuites", name="medallion", **counts)
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")


def fails(findings: Sequence[Finding], strict: bool = False) -> bool:
    """True when the findings fail a check: any error, or with `strict` (CI's `--strict`) any finding at all."""
    return any(f.severity == "error" or strict for f in findings)
