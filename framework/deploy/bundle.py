"""The bundle as committed: databricks.yml plus its included files, as located documents, and the
effective configuration of one target (what `databricks bundle deploy -t <target>` would act on).

The effective view merges as the CLI does (libs/dyn/merge): included files into the root, then
`targets.<t>` over the top level — mappings merge key by key, sequences concatenate, scalars take the
later value — and applies the two development-mode presets that change meaning: pipelines forced to
development, names prefixed. The CLI's extra keyed merges (job tasks by task_key, clusters by label)
are not modelled; rendered bundles never split one list across the top level and a target.
"""

from __future__ import annotations

import copy
import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from framework.deploy import names
from framework.findings import Finding
from framework.spec.documents import Document, DocPath, DocumentError, format_path, read_document

DEV_NAME_PREFIX = "[dev ${workspace.current_user.short_name}] "


@dataclass
class Bundle:
    root: Path
    documents: list[Document] = field(default_factory=list)
    """databricks.yml first, then the included files in include order."""
    findings: list[Finding] = field(default_factory=list)
    """Files that could not be read (YAML errors) and values the CLI could not merge."""
    config: dict[str, Any] = field(default_factory=dict)
    """All files merged into one configuration, as the CLI does with `include` (see `merge`)."""

    @property
    def root_document(self) -> Document | None:
        return self.documents[0] if self.documents and self.documents[0].file == names.ROOT_FILE else None

    def add(self, doc: Document) -> None:
        """Add a file and merge it into `config`; a value of another kind than before is a finding."""
        self.documents.append(doc)
        if not isinstance(doc.data, dict):
            return  # reported by the schema check
        conflicts: list[DocPath] = []
        self.config = merge(self.config, doc.data, (), conflicts)
        for path in conflicts:
            first, _ = self.find(path)
            self.findings.append(doc.finding(path, f"`{format_path(path)}` has another kind of value here than in "
                                             f"{first.file}; the Databricks CLI cannot merge them", key=True,
                                             code="bundle"))

    def targets(self) -> list[str]:
        return sorted(mapping(self.config.get("targets")))

    def find(self, *paths: DocPath) -> tuple[Document, DocPath]:
        """The first document holding one of `paths` (tried in order); else databricks.yml's top."""
        for path in paths:
            for doc in self.documents:
                if has_path(doc.data, path):
                    return doc, path
        for path in paths:  # the nearest existing parent of the first path, to point somewhere useful
            for cut in range(len(path) - 1, 0, -1):
                for doc in self.documents:
                    if has_path(doc.data, path[:cut]):
                        return doc, path[:cut]
        return self.documents[0], ()

    def finding(self, paths: list[DocPath], message: str, hint: str = "", code: str = "bundle", *,
                key: bool = False, severity: str = "error") -> Finding:
        """A finding at the first of `paths` some file holds (at its key with `key=True`)."""
        doc, path = self.find(*paths)
        return doc.finding(path, message, hint=hint, code=code, key=key, severity=severity)


def mapping(value: Any) -> dict[str, Any]:
    """`value` if it is a mapping, else {}: rules read malformed bundles too (the schema reports them)."""
    return value if isinstance(value, dict) else {}


def dig(data: Any, *path: str | int) -> Any:
    """The value at `path`, or None when a step is missing or not a mapping/list."""
    node = data
    for part in path:
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node):
            node = node[part]
        else:
            return None
    return node


def merge(base: Any, override: Any, path: DocPath = (), conflicts: list[DocPath] | None = None) -> Any:
    """The CLI's merge: mappings key by key, sequences concatenated, other values replaced.

    Merging a mapping or sequence with a value of another kind fails in the CLI; here the base value
    is kept and the path recorded in `conflicts`, so the rest of the bundle can still be checked.
    """
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merge(out[key], value, path + (key,), conflicts) if key in out else value
        return out
    if isinstance(base, list) and isinstance(override, list):
        return base + override
    if isinstance(base, (dict, list)) or isinstance(override, (dict, list)):
        if base is not None and override is not None:
            if conflicts is not None:
                conflicts.append(path)
            return base
    return override


def has_path(data: Any, path: DocPath) -> bool:
    node = data
    for part in path:
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return False
    return True


def load_bundle(root: Path) -> Bundle | None:
    """Read databricks.yml and the files its `include` globs match; None when there is no databricks.yml."""
    bundle = Bundle(root)
    path = root / names.ROOT_FILE
    if not path.is_file():
        return None
    try:
        bundle.add(read_document(path, names.ROOT_FILE))
    except DocumentError as exc:
        bundle.findings.append(exc.finding)
        return bundle
    for relative in included_files(root, bundle.documents[0]):
        try:
            bundle.add(read_document(root / relative, relative))
        except DocumentError as exc:
            bundle.findings.append(exc.finding)
    return bundle


def included_files(root: Path, doc: Document) -> list[str]:
    patterns = doc.data.get("include", []) if isinstance(doc.data, dict) else []
    files: list[str] = []
    for pattern in patterns if isinstance(patterns, list) else []:
        if isinstance(pattern, str):
            matches = sorted(glob.glob(pattern, root_dir=root, recursive=True))
            files.extend(m for m in matches if (root / m).is_file() and m not in files)
    return files


def effective_target(bundle: Bundle, target: str) -> dict[str, Any]:
    """The configuration one target deploys: top level merged with targets.<target>, presets applied."""
    config = bundle.config
    overrides = mapping(dig(config, "targets", target))
    effective = {k: v for k, v in config.items() if k not in ("targets", "include")}
    # merge shares untouched sub-mappings with the documents: copy before applying presets.
    effective = copy.deepcopy(merge(effective, overrides))
    if overrides.get("mode") == "development":
        for pipeline in _resources(effective, "pipelines"):
            pipeline["development"] = True
            pipeline["name"] = DEV_NAME_PREFIX + str(pipeline.get("name", ""))
        for job in _resources(effective, "jobs"):
            job["name"] = DEV_NAME_PREFIX + str(job.get("name", ""))
    return effective


def _resources(config: dict[str, Any], kind: str) -> Iterator[dict[str, Any]]:
    for value in mapping(dig(config, "resources", kind)).values():
        if isinstance(value, dict):
            yield value


def resource_items(config: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(k, v) for k, v in mapping(dig(config, "resources", kind)).items() if isinstance(v, dict)]


def resource_paths(target: str, kind: str, key: str, *rest: str | int) -> list[DocPath]:
    """Where a resource field may be written: under the target, or at the top level."""
    return [("targets", target, "resources", kind, key, *rest), ("resources", kind, key, *rest)]
