"""Validate large projects on two cores: a forked worker parses half of the specs ahead of the loader.

Validating 1,000 specs is mostly parsing: YAML (libyaml) and SQL (sqlglot), file by file, independent
of each other. `prefetch` splits the files between this process and one forked child. Each parses its
share and checks its SQL; the child sends back the parsed documents and SQL results (marshalled into a
temporary file) and the parent files them in the caches of `read_document` and `framework.validation.sql`. The
ordinary loader then runs unchanged and finds the work done; whatever the child failed to deliver (it
crashed, timed out, a file changed meanwhile) the loader simply does itself, so results never depend on
the worker. Below `MIN_FILES` specs the fork costs more than it saves and nothing happens.
"""

from __future__ import annotations

import marshal
import os
import select
import signal
import tempfile
from dataclasses import astuple
from pathlib import Path
from typing import Any, BinaryIO, Iterable

from framework.findings import Finding
from framework.spec.documents import Document, DocumentError, file_stamp, preload, read_document
from framework.spec.project import relative_name
from framework.validation import sql

MIN_FILES = 200
CHILD_SHARE = 0.45
"""The child also encodes its results and starts a little later, so it takes a little less than half."""
TIMEOUT_SECONDS = 120.0

Parsed = list[tuple[str, str, Any, "Document | Finding"]]


def display_name(path: Path, root: Path) -> str:
    """The name findings use for a file, the loader's own (`Project.relative`): a parsed document is
    cached under it, so the two must agree."""
    return relative_name(path, root)


def sql_texts(data: Any) -> tuple[list[str], list[str]]:
    """The SELECTs and expectation rules of one spec (whatever its shape: it may be invalid)."""
    selects, rules = [], []
    if not isinstance(data, dict):
        return selects, rules
    for section in ("source", "transform"):
        part = data.get(section)
        if isinstance(part, dict) and isinstance(part.get("sql"), str):
            selects.append(part["sql"])
    expectations = data.get("expectations")
    for item in expectations if isinstance(expectations, list) else ():
        if isinstance(item, dict) and isinstance(item.get("rule"), str):
            rules.append(item["rule"].strip())
    return selects, rules


def parse_share(files: Iterable[Path], root: Path) -> Parsed:
    """Parse files and check their SQL (which fills the SQL caches of this process)."""
    parsed: Parsed = []
    for path in files:
        name, stamp = display_name(path, root), file_stamp(path)
        try:
            result: Document | Finding = read_document(path, name)
        except DocumentError as exc:
            result = exc.finding
        parsed.append((str(path), name, stamp, result))
        if isinstance(result, Document):
            selects, rules = sql_texts(result.data)
            for text in selects:
                sql.check_select(text)
            for text in rules:
                sql.check_boolean_expression(text)
    return parsed


def encode(parsed: Parsed) -> bytes:
    """The child's results as marshal data (plain tuples): twice as fast as pickling the objects."""
    items = [(path, name, stamp, True, (r.file, r.data, r.values, r.keys, r.texts)) if isinstance(r, Document)
             else (path, name, stamp, False, astuple(r)) for path, name, stamp, r in parsed]
    checks = [{text: (c.error, c.columns, c.tables, c.position, c.shape) for text, c in cache.items()}
              for cache in (sql._RULES, sql._SELECTS)]
    return marshal.dumps((items, *checks))


def decode(data: bytes) -> tuple[Parsed, dict[str, sql.SqlCheck], dict[str, sql.SqlCheck]]:
    items, rules, selects = marshal.loads(data)
    parsed: Parsed = [(path, name, stamp, Document(*fields) if is_document else Finding(*fields))
                      for path, name, stamp, is_document, fields in items]
    return parsed, {t: sql.SqlCheck(*c) for t, c in rules.items()}, {t: sql.SqlCheck(*c) for t, c in selects.items()}


def _child(files: list[Path], root: Path, out: BinaryIO, done_fd: int) -> None:
    """Runs in the forked worker; never returns (os._exit skips the parent's atexit handlers and buffers).

    Results go to a temporary file, not down the pipe: a pipe holds 64 KB, so the child would sit
    blocked until the parent, busy with its own share, came to read.
    """
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        out.write(encode(parse_share(files, root)))
        out.flush()
        os.write(done_fd, b"1")
        code = 0
    except BaseException:  # noqa: BLE001 - the parent does the work itself when the child fails
        pass
    finally:
        os._exit(code)


def _wait_for(fd: int, pid: int) -> bool:
    """True when the child reported success before the deadline; a stuck child is killed."""
    ready, _, _ = select.select([fd], [], [], TIMEOUT_SECONDS)
    if not ready:
        os.kill(pid, signal.SIGKILL)
        return False
    return os.read(fd, 1) == b"1"


def install(parsed: Parsed) -> None:
    for path, name, stamp, result in parsed:
        if stamp is not None:
            preload(Path(path), name, stamp, result)


def prefetch(files: list[Path], root: Path, jobs: int = 2) -> bool:
    """Parse `files` on two processes and cache the results; True when a worker was used."""
    if jobs < 2 or len(files) < MIN_FILES or not hasattr(os, "fork"):
        return False
    # Interleave, so both shares get a fair mix of bronze (no SQL) and silver/gold (much SQL) specs.
    child_slots = round(20 * CHILD_SHARE)
    child_files = [f for i, f in enumerate(files) if i % 20 < child_slots]
    own_files = [f for i, f in enumerate(files) if i % 20 >= child_slots]
    read_fd, write_fd = os.pipe()
    with tempfile.TemporaryFile() as out:
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _child(child_files, root, out, write_fd)
        os.close(write_fd)
        try:
            install(parse_share(own_files, root))
            ok = _wait_for(read_fd, pid)
        finally:
            os.close(read_fd)
            os.waitpid(pid, 0)
        if not ok:
            return False
        out.seek(0)
        data = out.read()
    try:
        parsed, rules, selects = decode(data)
    except Exception:  # noqa: BLE001 - unreadable results mean the loader does that share itself
        return False
    install(parsed)
    sql.warm(rules, selects)
    return True


def parsing_jobs() -> int:
    """How many processes parse specs (validate, diff): two when a core is idle. On a busy machine the worker would only take turns with the
    parent on the same core and add the cost of handing its results over (measured: 1.6 s against 1.2 s)."""
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return 2 if cores >= 2 and busy < cores - 0.5 else 1
