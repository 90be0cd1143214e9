"""Project -> Catalog: everything the documentation pages show, as plain data.

The templates only lay this out; they never look at specs, environments or the file system. Keeping
all decisions here (order, which path a landing folder has in the chosen environment, the qualified
name of a table in every environment) makes them testable without HTML and keeps pages deterministic:
every collection is in graph order or sorted.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from framework.naming import TableRef
from framework.lineage.columns import ColumnLineage
from framework.project import Project
from framework.spec.environment import Environment, substitute
from framework.spec.model import LAYERS, FilesSource, TablesSource, TableSpec

CHECKS_NODE = "quality checks"
"""The job step after gold that reads silver/gold tables and the event log (see framework/checks)."""
UNOWNED = "no owner"
"""The domain of tables whose spec names no owner."""


@dataclass(frozen=True)
class Landing:
    """A landing folder that bronze tables stream files from."""

    id: str
    """`landing-<n>`, numbered in path order: stable as long as the set of folders is."""
    path: str
    """The folder in the documented environment, as written in its settings (never machine-specific)."""
    spec_path: str
    """The folder as written in the spec, with its `${variables}`."""
    tables: tuple[str, ...]


@dataclass(frozen=True)
class Placement:
    """Where a table lives in one environment."""

    env: str
    runtime: str
    qualified_name: str
    location: str
    """The local storage folder (local runtime) or a note that Unity Catalog manages it."""


@dataclass
class TableDoc:
    """One table as the docs show it: the spec plus its neighbours and placements."""

    spec: TableSpec
    upstreams: tuple[str, ...]
    downstreams: tuple[str, ...]
    landing: Landing | None
    placements: tuple[Placement, ...]
    python_source: str | None = None
    """Source of the `transform.python` function when it can be found without importing it."""
    column_sources: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    """Column lineage, one step: column -> the (table, column) pairs it is computed from."""
    lineage_note: str = ""
    """Why the column sources are unknown (a Python transform without `transform.lineage`), if they are."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def layer(self) -> str:
        return self.spec.layer

    @property
    def domain(self) -> str:
        """The team that owns the table (its spec's `owner`): how large lineage graphs and the sidebar group tables."""
        return self.spec.owner or UNOWNED

    @property
    def source_kind(self) -> str:
        source = self.spec.source
        return "files" if isinstance(source, FilesSource) else "tables" if isinstance(source, TablesSource) else "sql"

    @property
    def summary(self) -> str:
        """The first sentence of the description (for lists and graph tooltips)."""
        text = " ".join(self.spec.description.split())
        end = text.find(". ")
        return text if end < 0 else text[: end + 1]


@dataclass
class Catalog:
    """The whole site's content for one documented environment."""

    env: Environment
    environments: tuple[Environment, ...]
    tables: tuple[TableDoc, ...]
    landings: tuple[Landing, ...]
    _by_name: dict[str, TableDoc] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {t.name: t for t in self.tables}

    def table(self, name: str) -> TableDoc:
        return self._by_name[name]

    def by_layer(self) -> list[tuple[str, tuple[TableDoc, ...]]]:
        """Every layer (even empty ones, so the overview always shows the medallion) with its tables."""
        return [(layer, tuple(t for t in self.tables if t.layer == layer)) for layer in LAYERS]

    @property
    def event_log(self) -> str:
        """The documented environment's event log table (Unity Catalog name)."""
        return TableRef.event_log(self.env).unity_catalog_name

    @property
    def expectation_count(self) -> int:
        return sum(len(t.spec.expectations) for t in self.tables)


def ordered_environments(environments: dict[str, Environment]) -> tuple[Environment, ...]:
    """Local first, then by inheritance depth (dev before prod, which extends it), then by name."""
    return tuple(sorted(environments.values(),
                        key=lambda e: (e.runtime != "local", len(e.documents), e.name)))


def display_variables(env: Environment) -> dict[str, str]:
    """`${variables}` for display: paths as the settings write them, not resolved against this machine.

    `Environment.variables()` resolves local paths to absolute ones; pages built from those would
    differ between two checkouts and leak the builder's home folder.
    """
    variables = env.variables()
    for key in ("landing_path", "storage_root"):
        variables[key] = str(env.settings[key]).replace("{env}", env.name)
    return variables


def placement(env: Environment, spec: TableSpec) -> Placement:
    ref = TableRef.of(spec, env)
    if env.runtime == "local":  # the folder as the settings write it, never this machine's absolute path
        root = str(env.settings["storage_root"]).replace("{env}", env.name).rstrip("/")
        location = replace(ref, storage_root=PurePosixPath(root)).path.as_posix()
    else:
        location = "managed by Unity Catalog"
    return Placement(env.name, env.runtime, ref.unity_catalog_name, location)


def find_python_source(ref: str, project_root: Path) -> str | None:
    """The source text of `module:function`, found on disk and parsed, never imported (see python_ref)."""
    module, _, function = ref.partition(":")
    relative = Path(*module.split("."))
    roots = (project_root, *(Path(p) for p in sys.path if p and Path(p).is_dir()))
    for root in roots:
        for candidate in (root / relative.with_suffix(".py"), root / relative / "__init__.py"):
            if not candidate.is_file():
                continue
            try:
                text = candidate.read_text(encoding="utf-8")
                tree = ast.parse(text)
            except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
                return None
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == function:
                    return ast.get_source_segment(text, node, padded=True)
            return None
    return None


def _landings(tables: dict[str, TableSpec], env: Environment) -> dict[str, Landing]:
    """Landing folders keyed by their display path; tables that share a folder share one node."""
    variables = display_variables(env)
    readers: dict[str, list[str]] = {}
    spec_paths: dict[str, str] = {}
    for spec in tables.values():
        if isinstance(spec.source, FilesSource):
            path = substitute(spec.source.path, variables)
            readers.setdefault(path, []).append(spec.name)
            spec_paths.setdefault(path, spec.source.path)
    return {path: Landing(f"landing-{i}", path, spec_paths[path], tuple(sorted(names)))
            for i, (path, names) in enumerate(sorted(readers.items()), 1)}


def build_catalog(project: Project, env_name: str) -> Catalog:
    """Everything the site shows for `env_name`; the project must be valid (no cycles)."""
    env = project.environment(env_name)
    environments = ordered_environments(project.environments)
    graph = project.graph()
    landings = _landings(project.tables, env)
    landing_of = {name: landing for landing in landings.values() for name in landing.tables}
    docs = []
    columns = ColumnLineage(project, via=False)  # one step per column; the browser follows the chain
    for name in graph.order():
        spec = project.tables[name]
        python_ref = spec.transform.python if spec.transform else None
        traced = columns.table(name)
        sources: dict[str, list[tuple[str, str]]] = {}
        for edge in traced.edges:
            sources.setdefault(edge.target.column, []).append((edge.source.table, edge.source.column))
        docs.append(TableDoc(
            spec=spec,
            upstreams=tuple(sorted(graph.upstreams(name))),
            downstreams=graph.downstreams(name),
            landing=landing_of.get(name),
            placements=tuple(placement(e, spec) for e in environments),
            python_source=find_python_source(python_ref, project.root) if python_ref else None,
            column_sources={column: tuple(pairs) for column, pairs in sources.items()},
            lineage_note=traced.opaque,
        ))
    return Catalog(env=env, environments=environments, tables=tuple(docs),
                   landings=tuple(landings.values()))

