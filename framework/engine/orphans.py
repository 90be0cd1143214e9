"""Tables on disk whose spec is gone: found without a JVM, reported, and dropped only when asked.

Deleting (or renaming) a spec leaves its Delta table, its flow's checkpoint and its quarantine sibling
in the environment's storage folder. Nothing reads them any more, nothing warns, and a later spec of
the same name would silently find the old data and checkpoint. So:

* `find_orphans(project, env)` lists them: every table folder under `<storage_root>/tables/` and
  every flow checkpoint under `<storage_root>/checkpoints/` that no spec (nor the event log) owns, with
  the table's last version and commit time read from its Delta log (framework/delta_log.py). Cheap
  enough for `medallion validate`: folders owned by a spec are never opened.
* `prune(env, orphans)` deletes their folders under the storage lock `medallion run` holds
  (framework/engine/storage.py), so a running pipeline is never pruned under; `medallion prune`
  shows them first and deletes only with `--apply`.

Names come from `framework.naming.TableRef` only: a spec's table, its quarantine sibling, the event
log. A spec's quarantine sibling counts as owned even when the spec no longer quarantines: its rows
are still that table's rejects (nothing is dropped that a spec still names).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from framework.delta_log import is_delta_table, read_snapshot
from framework.engine.storage import Storage, storage_lock
from framework.errors import DeltaLogError
from framework.findings import Finding
from framework.naming import CHECKPOINTS_FOLDER, TABLES_FOLDER, TableRef, is_quarantine_name, quarantined_table

if TYPE_CHECKING:
    from framework.spec.environment import Environment
    from framework.spec.project import Project

ORPHAN_CODE = "orphan-table"
"""The finding code of an orphan table (a warning: `validate --strict` fails on it)."""


@dataclass(frozen=True)
class Orphan:
    """A table of the storage folder that no spec declares, with every folder that belongs to it."""

    table: TableRef
    folders: tuple[Path, ...]
    """Those that exist: the table's folder, its checkpoint, its quarantine sibling's folder and checkpoint."""
    version: int | None = None
    """The Delta table's latest version; None when only a checkpoint (or a folder that never became a
    table) is left."""
    last_commit: str | None = None
    """When that version was written (UTC)."""

    @property
    def published(self) -> str:
        return self.table.published

    def describe(self) -> str:
        """`bronze.web_orders (tables/bronze/web_orders, version 3 of 2026-12-07 04:30:00 UTC)`."""
        where = ", ".join(_short(f, self.table) for f in self.folders)
        state = (f"version {self.version} of {self.last_commit}" if self.version is not None
                 else "no table version: folders only")
        return f"{self.published} ({where}; {state})"

    def to_dict(self) -> dict[str, object]:
        return {"table": self.published, "folders": [str(f) for f in self.folders], "version": self.version,
                "last_commit": self.last_commit}


def local_storage_exists(env: "Environment") -> bool:
    """Orphans are looked for only in a local environment whose storage folder exists."""
    return env.runtime == "local" and env.storage_root.is_dir()


def owned_tables(project: "Project", env: "Environment") -> set[tuple[str, str]]:
    """(schema, name) of every table folder the project's specs (and the event log) may have on disk."""
    owned = set()
    for spec in project.tables.values():
        ref = TableRef.of(spec, env)
        owned.add((ref.schema, ref.name))
        owned.add((ref.schema, ref.quarantine().name))
    log = TableRef.event_log(env)
    owned.add((log.schema, log.name))
    return owned


def find_orphans(project: "Project", env: "Environment") -> list[Orphan]:
    """The tables of `env`'s storage folder that no spec declares, by published name."""
    if not local_storage_exists(env):
        return []
    storage = Storage.of(env)
    owned = owned_tables(project, env)
    found: dict[tuple[str, str], list[Path]] = {}
    for area in (TABLES_FOLDER, CHECKPOINTS_FOLDER):
        for schema, name, folder in _folders(storage.root / area):
            if (schema, name) not in owned:
                found.setdefault((schema, name), []).append(folder)
    # a quarantine table goes with its table when that is an orphan too
    for schema, name in sorted(found):
        base = (schema, quarantined_table(name))
        if is_quarantine_name(name) and base in found and base != (schema, name):
            found[base] += found.pop((schema, name))
    orphans = []
    for (schema, name), folders in sorted(found.items()):
        ref = TableRef(name, schema, "", storage_root=storage.root)
        version, when = _last_version(ref.path)
        orphans.append(Orphan(ref, tuple(sorted(folders)), version, when))
    return orphans


def _folders(area: Path) -> Iterator[tuple[str, str, Path]]:
    """(schema, name, folder) of every `<area>/<schema>/<name>/` folder (the layout of framework/naming.py)."""
    if not area.is_dir():
        return
    for schema_dir in sorted(p for p in area.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        for folder in sorted(p for p in schema_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            yield schema_dir.name, folder.name, folder


def _last_version(path: Path) -> tuple[int | None, str | None]:
    if not is_delta_table(path):
        return None, None
    try:
        snapshot = read_snapshot(path, history=1)
    except (DeltaLogError, ImportError):  # a damaged log, or a checkpoint without pyarrow: still an orphan
        return None, None
    commit = snapshot.last_commit
    return snapshot.version, commit.when if commit else None


def prune_command(env: "Environment") -> str:
    return f"medallion prune --env {env.name} --apply"


def orphan_findings(project: "Project", env: "Environment") -> list[Finding]:
    """One warning per orphan, located at the environment setting that names the storage folder."""
    orphans = find_orphans(project, env)
    if not orphans:
        return []
    document = next((d for d in env.documents if "storage_root" in d.data), env.document)
    out = []
    for orphan in orphans:
        message = (f"{orphan.describe()} is on disk in environment `{env.name}` but no spec in tables/ declares "
                   "it (its spec was deleted or renamed)")
        hint = (f"`medallion prune --env {env.name}` lists what would be dropped; `{prune_command(env)}` drops it "
                "(or restore its spec)")
        if document is None:
            out.append(Finding(f"environments/{env.name}.yaml", 1, 1, message, hint=hint, code=ORPHAN_CODE,
                               severity="warning"))
        else:
            path = ("storage_root",) if "storage_root" in document.data else ()
            out.append(document.finding(path, message, hint=hint, code=ORPHAN_CODE, severity="warning"))
    return out


def prune(env: "Environment", orphans: list[Orphan]) -> list[Path]:
    """Delete the orphans' folders under the storage lock (never while `medallion run` writes); return
    the folders deleted. Raises RunError when a run holds the lock."""
    storage = Storage.of(env)
    deleted = []
    with storage_lock(storage):
        for orphan in orphans:
            for folder in orphan.folders:
                if _inside(folder, storage.root) and folder.exists():
                    shutil.rmtree(folder)
                    deleted.append(folder)
            for folder in {f.parent for f in orphan.folders}:  # an emptied schema folder goes too
                if _inside(folder, storage.root) and folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
    return deleted


def _inside(folder: Path, root: Path) -> bool:
    """Only `<root>/tables|checkpoints/<schema>/<name>` (and schema folders) are ever deleted."""
    try:
        parts = folder.resolve().relative_to(root.resolve()).parts
    except ValueError:
        return False
    return len(parts) in (2, 3) and parts[0] in (TABLES_FOLDER, CHECKPOINTS_FOLDER)


def _short(folder: Path, table: TableRef) -> str:
    root = table.storage_root
    try:
        return str(folder.relative_to(root)) if root else str(folder)
    except ValueError:
        return str(folder)
