"""The local runtime's memo of reconciliations: a table's numbers are reused while nothing they were
computed from has changed, so a `medallion check` after a run starts no JVM.

Reconciliation re-applies a spec's SQL transform to its upstream with Spark's semantics
(framework/checks/reconcile.py): it needs Spark. Its result depends only on the statement (which holds
the transform, the rules, the keys and the published names) and on the data of the tables the statement
reads (the upstream, the table, its quarantine table, any table the transform joins). Each local Delta
table's newest version and commit time are read from its log (`framework.delta_log.latest_commit`, no
JVM), so "nothing changed" is decided from files: the key is a digest of the statement and of those
versions; a hit reuses the numbers, a miss is computed on Spark and stored.

Stored in the environment's state folder (`Storage.state_file`), one entry per table (the newest). Never
memoized: a statement drawing random values (two evaluations differ on the same data), a statement
reading a table the local runtime has no folder for, and anything on Databricks (the checks' job there
always computes). The window-dependent part of the detail (from the event log) is never memoized either.

A rule reading the clock (`ts <= current_timestamp()`) is memoized: its numbers are those of the moment
they were computed — normally the job's quality_checks task right after the update that wrote those
versions, nearer the ingestion the pipeline judged than a later check's clock (reconciliation always
evaluates such a rule at check time, not at ingestion: framework/checks/reconcile.py). The reuse note
says when they were computed.
"""

from __future__ import annotations

import hashlib
import json
import re
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from framework.checks.reconcile import KeyReconciliation
from framework.delta_log import is_delta_table, latest_commit
from framework.engine.storage import Storage
from framework.errors import DeltaLogError
from framework.files import write_atomically
from framework.naming import TableRef
from framework.spec.environment import Environment
from framework.sql import tables_read

MEMO_FILE = "_reconciliations.json"
RANDOM = re.compile(r"\b(rand|randn|random|uuid|shuffle)\s*\(", re.IGNORECASE)
"""Functions whose answer differs between two evaluations over the same data at the same moment."""


@dataclass(frozen=True)
class MemoKey:
    digest: str
    versions: tuple[tuple[str, int], ...]
    """(published name, Delta version) of every table the statement reads: said in the detail on reuse."""

    @property
    def text(self) -> str:
        """`bronze.orders_raw v3, silver.orders v5, ...` (for people)."""
        return ", ".join(f"{name} v{version}" for name, version in self.versions)


@dataclass(frozen=True)
class Reused:
    """A memoized reconciliation: its numbers and when they were computed (ISO 8601 UTC, to the minute)."""

    numbers: KeyReconciliation
    computed_at: str

    def note(self, key: MemoKey) -> str:
        """`reused (computed 2026-12-07T12:31Z on bronze.orders_raw v1, ...)`: for the check's detail."""
        return f"reused (computed {self.computed_at} on {key.text})"


def memo_key(sql: str, env: Environment) -> MemoKey | None:
    """The key of `sql`'s answer in `env`, or None when it must not be memoized (see the module doc)."""
    if env.runtime != "local" or RANDOM.search(sql):
        return None
    digest = hashlib.sha256(sql.encode())
    versions = []
    for name in tables_read(sql):
        parts = name.split(".")
        if len(parts) != 2:
            return None  # a bare name (a view) or a foreign catalog: no local folder to read a version from
        path = TableRef.in_schema(parts[1], parts[0], env).path
        if not is_delta_table(path):
            return None
        try:
            commit = latest_commit(path)
        except DeltaLogError:
            return None
        digest.update(f"\n{name}@{commit.version}@{commit.timestamp_ms}".encode())
        versions.append((name, commit.version))
    return MemoKey(digest.hexdigest(), tuple(sorted(versions)))


class ReconciliationMemo:
    """The memo file of one environment's local storage: `get` by table and key, `put` after computing."""

    def __init__(self, env: Environment) -> None:
        self.path: Path = Storage.of(env).state_file(MEMO_FILE)

    def get(self, table: str, key: MemoKey) -> Reused | None:
        entry = self._entries().get(table)
        if not isinstance(entry, dict) or entry.get("key") != key.digest:
            return None
        try:
            return Reused(KeyReconciliation(**{k: int(v) for k, v in entry["numbers"].items()}),
                          str(entry.get("computed_at", "?")))
        except (TypeError, KeyError, ValueError, AttributeError):
            return None

    def put(self, table: str, key: MemoKey, numbers: KeyReconciliation) -> None:
        """Store (atomically: a reader never sees half a file); a write that fails only costs the reuse."""
        entries = self._entries()
        entries[table] = {"key": key.digest, "versions": dict(key.versions), "numbers": asdict(numbers),
                          "computed_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")}
        with suppress(OSError):
            write_atomically(self.path, json.dumps(entries, indent=1, sort_keys=True))

    def _entries(self) -> dict[str, object]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}
