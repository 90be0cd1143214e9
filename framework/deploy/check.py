"""`check_bundle(project)`: everything offline CI can know about the Databricks bundle, as findings.

1. drift — the committed databricks.yml and resources/*.yml equal a fresh in-memory render of
   environments/ (skipped while the project itself has errors: it cannot be rendered reliably);
2. the official JSON Schema — the merged bundle, located at the offending line of the file holding it;
3. rules beyond the schema (framework.deploy.rules).

Called by `medallion validate` and `medallion bundle check`. Never starts a JVM; the schema validator
is compiled on first use only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from framework import templates
from framework.deploy import names
from framework.deploy.bundle import load_bundle
from framework.deploy.render import RenderError, render_bundle, stale_files
from framework.deploy.rules import check_rules
from framework.deploy.schema import validate_bundle
from framework.findings import Finding, sort_findings

if TYPE_CHECKING:
    from framework.spec.project import Project

RENDER = "run `medallion bundle render`"


def check_bundle(project: Project, schema_path: Path | None = None) -> list[Finding]:
    """Drift, official-schema and rule findings for the project's bundle ([] when it has none).

`schema_path`: another copy of the official schema to validate against (default: the vendored one).

    A project without `databricks.yml` has no bundle yet (`medallion bundle render` creates it), so
    there is nothing to check — even if some environments already target Databricks.
    """
    if not (project.root / names.ROOT_FILE).exists():
        return []
    findings = check_drift(project) if project.ok else []
    bundle = load_bundle(project.root)
    if bundle is None:
        return sort_findings(findings)
    findings.extend(bundle.findings)
    findings.extend(validate_bundle(bundle, schema_path))
    findings.extend(check_rules(project, bundle))
    return sort_findings(findings)


def check_drift(project: Project) -> list[Finding]:
    """One finding per bundle file that differs from a fresh render (missing, changed or stale)."""
    try:
        rendered = render_bundle(project)
    except RenderError as exc:
        return [Finding(templates.display(project.root, "bundle"), 1, 1, str(exc), code="bundle-render")]
    findings = []
    for relative, expected in rendered.items():
        path = project.root / relative
        if not path.is_file():
            findings.append(Finding(relative, 1, 1, f"{relative} is missing; it is rendered from environments/",
                                    hint=RENDER, code="bundle-drift"))
            continue
        actual = path.read_text("utf-8", errors="replace")
        if actual != expected:
            line, found, wanted = first_difference(actual, expected)
            findings.append(Finding(relative, line, 1, f"{relative} is out of date with environments/: line {line} "
                                    f"is {found}, a fresh render has {wanted}", hint=RENDER, code="bundle-drift"))
    for relative in stale_files(project.root, rendered):
        findings.append(Finding(relative, 1, 1, f"{relative} was generated for an environment that no longer renders",
                                hint=f"{RENDER} (it removes the file)", code="bundle-drift"))
    return findings


def first_difference(actual: str, expected: str) -> tuple[int, str, str]:
    """(1-based line, actual line, expected line) of the first difference, quoted for a message."""
    a, e = actual.splitlines(), expected.splitlines()
    for i in range(max(len(a), len(e))):
        left = a[i] if i < len(a) else None
        right = e[i] if i < len(e) else None
        if left != right:
            return i + 1, _quote(left), _quote(right)
    return max(len(a), 1), "the end of the file", "a final newline"


def _quote(line: str | None) -> str:
    if line is None:
        return "the end of the file"
    text = line.strip()
    return f"`{text if len(text) <= 80 else text[:79] + '…'}`"
