"""Where the local runtime keeps things: one folder per environment (`env.storage_root`), and its lock.

    <storage_root>/
        tables/<schema>/<name>/      Delta tables (bronze.orders_raw, silver.orders, ops.event_log, ...)
        checkpoints/<schema>/<name>/ streaming checkpoints, one per flow (plus small state files)
        warehouse/                   Spark's warehouse dir (unused: every table has an explicit location)
        run.lock                     held while `medallion run` writes, so two runs never share checkpoints

The per-table folders are `framework.naming.TableRef.path` / `.checkpoint`; this module adds what is
about the whole folder, and reads which micro-batches a streaming checkpoint planned and committed
(`newest_batch`). Keeping everything under one root makes "start over" a single `rm -rf` and lets
tests point an environment at a temporary folder.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from framework.delta_log import is_delta_table
from framework.errors import RunError
from framework.jobs.history import process_alive
from framework.naming import TABLES_FOLDER, TableRef

if TYPE_CHECKING:
    from framework.spec.environment import Environment


@dataclass(frozen=True)
class Storage:
    root: Path

    @classmethod
    def of(cls, env: "Environment") -> "Storage":
        return cls(env.storage_root.resolve())

    @property
    def tables(self) -> Path:
        return self.root / TABLES_FOLDER

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def lock_file(self) -> Path:
        return self.root / "run.lock"

    def ref(self, published: str) -> TableRef:
        """The local table published as `<schema>.<name>` (the engine names its datasets so)."""
        return TableRef.parse(published, self.root)

    def table_path(self, published: str) -> Path:
        return self.ref(published).path

    def checkpoint(self, published: str) -> Path:
        return self.ref(published).checkpoint

    def existing_tables(self) -> list[TableRef]:
        """Every Delta table folder on disk, by schema then name."""
        found = []
        if self.tables.is_dir():
            for schema_dir in sorted(p for p in self.tables.iterdir() if p.is_dir()):
                for table_dir in sorted(p for p in schema_dir.iterdir() if p.is_dir()):
                    if is_delta_table(table_dir):
                        found.append(TableRef(table_dir.name, schema_dir.name, "", storage_root=self.root))
        return found

    def reset_checkpoint(self, published: str) -> None:
        """Forget a flow's checkpoint (full refresh): the next run reads its sources from the start.

        The table itself is not deleted: `engine.tables.replace_table` gives it a new, empty version,
        so its Delta history survives the refresh. Files at the table's path that never became a Delta
        table (a first commit that never happened) are cleared.
        """
        ref = self.ref(published)
        if ref.checkpoint.exists():
            shutil.rmtree(ref.checkpoint)
        if ref.path.exists() and not is_delta_table(ref.path):
            shutil.rmtree(ref.path)


def newest_batch(stream_checkpoint: Path, log: str) -> int | None:
    """The highest micro-batch id in a streaming checkpoint's `offsets` (planned) or `commits` (done) log."""
    ids = [int(p.name) for p in (stream_checkpoint / log).glob("[0-9]*") if p.name.isdigit()]
    return max(ids, default=None)


def storage_in_use(storage: Storage) -> bool:
    """Whether a run holds the storage now: the process `storage_lock` wrote into the lock file is alive.

    Read, not probed with `flock`: taking even a shared lock for a moment could make a run starting in
    that moment refuse to start. A lock file naming a process that is gone is a run that ended."""
    try:
        holder = storage.lock_file.read_text().strip()
    except OSError:
        return False  # no lock file: nothing ever ran here
    pid = holder.removeprefix("pid ").strip()
    return pid.isdigit() and process_alive(int(pid))


@contextmanager
def storage_lock(storage: Storage) -> Iterator[None]:
    """One run per storage folder at a time: two runs would fight over the same checkpoints.

    `flock` is released by the kernel when its holder dies, so a SIGKILLed run leaves no stale lock.
    """
    try:
        storage.root.mkdir(parents=True, exist_ok=True)
        handle = open(storage.lock_file, "a+")
    except OSError as exc:  # read-only, full or forbidden storage: say so before Spark starts
        raise RunError(f"cannot use the storage folder {storage.root}: {exc.strerror or exc} "
                       f"({type(exc).__name__}); `storage_root` of the environment must be a writable folder") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise RunError(f"{storage.root} is in use by another `medallion run` ({holder}); wait for it or stop it")
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
