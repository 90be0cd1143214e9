"""Load a Medallion project: environments and table specs, validated, as one `Project`.

This is the front door every command uses (validate, list, run, bundle, docs): files are read once,
checked against the JSON Schemas, built into the model, then checked as a whole (names, references,
cycles, layers, SQL, variables). Loading never raises on bad specs; it returns findings.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterable

from framework.errors import DocumentError
from framework.findings import Finding, did_you_mean, sort_findings
from framework.spec.documents import Document, read_document
from framework.spec.environment import DEFAULTS, Environment, deep_merge
from framework.spec.model import SqlSource, TablesSource, TableSpec, build_table
from framework.spec.project import Project
from framework.spec.project_file import PROJECT_FILE, build_project_settings
from framework.validation.project_file import check_project_settings
from framework.validation.schema import validate_document
from framework.validation.semantic import check_project
from framework.validation.sql import check_select

__all__ = ["ENVIRONMENTS_DIR", "PROJECT_FILE", "TABLES_DIR", "Project", "find_project_root", "load_project", "spec_files", "upstream_names"]

TABLES_DIR = "tables"
ENVIRONMENTS_DIR = "environments"


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder (upwards) that has medallion.yaml or a tables/ folder, else the current folder."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if ((candidate / TABLES_DIR).is_dir() or (candidate / ENVIRONMENTS_DIR).is_dir()
                or (candidate / PROJECT_FILE).is_file()):
            return candidate
    return here


def spec_files(root: Path, paths: Iterable[Path] | None = None) -> list[Path]:
    """YAML files to validate: the given files/folders, or everything under tables/."""
    targets = list(paths) if paths else [root / TABLES_DIR]
    files: list[Path] = []
    for target in targets:
        if target.is_dir():
            files.extend(p for p in target.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        else:
            files.append(target)
    return sorted(dict.fromkeys(files))


def _read(path: Path, project: Project, findings: list[Finding]) -> Document | None:
    try:
        return read_document(path, project.relative(path))
    except DocumentError as exc:
        findings.append(exc.finding)
        return None


def load_project_file(project: Project) -> None:
    """Read medallion.yaml, if the project has one; an invalid file leaves the defaults (and its findings)."""
    path = project.root / PROJECT_FILE
    if not path.is_file():
        return
    doc = _read(path, project, project.findings)
    if doc is None:
        return
    schema_findings = validate_document(doc, "project")
    project.findings.extend(schema_findings)
    if not schema_findings:
        project.settings = build_project_settings(doc.data, doc, project.root)
    elif isinstance(doc.data, dict) and isinstance(doc.data.get("check_kinds"), dict):
        # The file's own finding is the one error: the specs using a declared (if malformed) kind are not.
        project.settings = replace(project.settings, check_kinds={str(k): str(v) for k, v in doc.data["check_kinds"].items()})


def load_environments(project: Project) -> None:
    """Read environments/*.yaml, resolve `extends` chains and merge each over the defaults."""
    documents: dict[str, Document] = {}
    folder = project.root / ENVIRONMENTS_DIR
    for path in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
        doc = _read(path, project, project.findings)
        if doc is None:
            continue
        schema_findings = validate_document(doc, "environment")
        project.findings.extend(schema_findings)
        if schema_findings:
            continue
        if doc.data["name"] != path.stem:
            project.findings.append(doc.finding(("name",), f"environment name `{doc.data['name']}` does not match "
                                                f"its file name `{path.name}`", hint=f"use name: {path.stem}"))
            continue
        documents[path.stem] = doc
    for name in documents:
        chain = _extends_chain(name, documents, project.findings)
        if chain is None:
            continue
        settings = dict(DEFAULTS)
        for ancestor in reversed(chain):
            settings = deep_merge(settings, {k: v for k, v in documents[ancestor].data.items() if k != "extends"})
        settings["name"] = name
        project.environments[name] = Environment(name, settings, project.root,
                                                 tuple(documents[n] for n in chain))


def _extends_chain(name: str, documents: dict[str, Document], findings: list[Finding]) -> list[str] | None:
    chain = [name]
    while "extends" in documents[chain[-1]].data:
        parent = documents[chain[-1]].data["extends"]
        doc = documents[chain[-1]]
        if parent not in documents:
            findings.append(doc.finding(("extends",), f"extends unknown environment `{parent}`",
                                        hint=did_you_mean(parent, documents) or f"known: {', '.join(sorted(documents))}"))
            return None
        if parent in chain:
            findings.append(doc.finding(("extends",), "environments extend each other in a cycle: "
                                        + " -> ".join(chain + [parent])))
            return None
        chain.append(parent)
    return chain


def upstream_names(spec: TableSpec) -> tuple[str, ...]:
    """The tables a spec reads: listed in `source.tables`, or named in `source.sql`."""
    if isinstance(spec.source, TablesSource):
        return spec.source.tables
    if isinstance(spec.source, SqlSource):
        return check_select(spec.source.sql).tables
    return ()


def load_tables(project: Project, paths: Iterable[Path] | None = None) -> None:
    for path in spec_files(project.root, paths):
        doc = _read(path, project, project.findings)
        if doc is None:
            continue
        schema_findings = validate_document(doc, "table")
        project.findings.extend(schema_findings)
        if schema_findings:
            continue
        spec = build_table(doc.data, doc)
        spec.upstreams = upstream_names(spec)
        if spec.name in project.tables:
            first = project.tables[spec.name]
            project.findings.append(doc.finding(("name",), f"table name `{spec.name}` is already used by {first.file}",
                                                hint="table names are unique across all layers"))
            continue
        project.tables[spec.name] = spec


def load_project(root: Path | None = None, paths: Iterable[Path] | None = None,
                 env: str | None = None) -> Project:
    """Load and validate everything. `env` limits variable checks to one environment."""
    project = Project(root=(root or find_project_root()).resolve())
    load_project_file(project)
    load_environments(project)
    load_tables(project, [Path(p).resolve() for p in paths] if paths else None)
    project.findings.extend(check_project(project, env))
    project.findings.extend(check_project_settings(project))
    project.findings = sort_findings(project.findings)
    return project
