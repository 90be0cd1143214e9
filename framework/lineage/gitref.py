"""The table specs of a project as they are at a git revision, read with git, never checked out.

`medallion diff --against REF` compares them with the working tree: the files come from one
`git ls-tree` and one `git cat-file --batch` (a thousand specs in one process), are parsed and checked
against the JSON Schema like any spec, and become a `Project` in memory. Nothing on disk changes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from framework.errors import DocumentError, UsageError
from framework.project import TABLES_DIR, upstream_names
from framework.spec.documents import parse_document
from framework.spec.model import build_table
from framework.spec.project import Project
from framework.validation.schema import validate_document

DEFAULT_REFS = ("origin/main", "HEAD")
"""What `diff` compares against when no ref is named: the first of these that exists."""


def _git(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=root, input=stdin, capture_output=True, check=False)
    except FileNotFoundError:
        raise UsageError("`git` is not installed; `medallion diff` reads the specs at a revision with it") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise UsageError(f"git {' '.join(args[:2])} failed: {message[-1] if message else done.returncode}")
    return done.stdout


def default_ref(root: Path) -> str:
    for ref in DEFAULT_REFS:
        probe = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=root,
                               capture_output=True, check=False)
        if probe.returncode == 0:
            return ref
    raise UsageError(f"{root} has no commit to compare with (neither {' nor '.join(DEFAULT_REFS)} exists): "
                     "commit the specs first, or name a revision with --against")


def project_at(root: Path, ref: str, current: Project | None = None) -> Project:
    """The table specs under tables/ at `ref`, as a Project (environments are not read: diff needs none).

    A spec that does not parse or fails the schema at `ref` is left out and reported as a finding.
    `current`: the working tree's project; a file whose bytes at `ref` are those of the working tree is
    not parsed again, its spec is taken from there (a diff usually touches a handful of a thousand)."""
    prefix = _git(root, "rev-parse", "--show-prefix").decode().strip()
    commit = _git(root, "rev-parse", "--verify", f"{ref}^{{commit}}").decode().strip()
    listing = _git(root, "ls-tree", "-r", "-z", "--full-tree", commit, "--", f"{prefix}{TABLES_DIR}/")
    paths = [entry.split("\t", 1)[1] for entry in listing.decode().split("\0") if "\t" in entry]
    paths = sorted(p for p in paths if p.endswith((".yaml", ".yml")))
    project = Project(root=root)
    if not paths:
        return project
    known = {spec.file: spec for spec in current.tables.values()} if current is not None else {}
    batch = _git(root, "cat-file", "--batch", stdin="".join(f"{commit}:{p}\n" for p in paths).encode())
    offset = 0
    for path in paths:
        header_end = batch.index(b"\n", offset)
        header = batch[offset:header_end].split()
        size = int(header[2]) if len(header) == 3 and header[1] == b"blob" else 0
        raw = batch[header_end + 1: header_end + 1 + size]
        offset = header_end + 1 + size + 1
        relative = path[len(prefix):]
        same = known.get(relative)
        if same is not None and _unchanged(root / relative, raw):
            project.tables.setdefault(same.name, same)
            continue
        name = f"{relative}@{ref}"
        try:
            document = parse_document(raw, name)
        except DocumentError as exc:
            project.findings.append(exc.finding)
            continue
        findings = validate_document(document, "table")
        if findings:
            project.findings.extend(findings)
            continue
        spec = build_table(document.data, document)
        spec.upstreams = upstream_names(spec)
        project.tables.setdefault(spec.name, spec)
    return project


def _unchanged(path: Path, raw: bytes) -> bool:
    try:
        return path.stat().st_size == len(raw) and path.read_bytes() == raw
    except OSError:
        return False


def repo_prefix(root: Path) -> str:
    """The project folder relative to the top of its git repository ('' or 'sub/dir/'): GitHub
    annotations name files from the top."""
    return _git(root, "rev-parse", "--show-prefix").decode().strip()
