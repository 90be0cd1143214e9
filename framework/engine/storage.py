"""Where the local runtime keeps things: one folder per environment (`env.storage_root`).

    <storage_root>/
        tables/<schema>/<name>/     Delta tables (bronze.bars_raw, silver.bars, ops.event_log, ...)
        checkpoints/<schema>/<name>/ streaming checkpoints, one per flow (plus small state files)
        warehouse/                  Spark's warehouse dir (unused: every table has an explicit location)
        run.lock                    held while `medallion run` writes, so two runs never share checkpoints

Keeping all of it under one root makes "start over" a single `rm -rf` and lets tests point an
environment at a temporary folder.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from framework.delta_log import is_delta_table
from framework.spec.environment import Environment

EVENT_LOG_TABLE = "event_log"


@dataclass(frozen=True)
class Storage:
    root: Path

    @classmethod
    def of(cls, env: Environment) -> "Storage":
        return cls(env.storage_root.resolve())

    @property
    def tables(self) -> Path:
        return self.root / "tables"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def lock_file(self) -> Path:
        return self.root / "run.lock"

    def table_path(self, qualified: str) -> Path:
        """`silver.bars` -> <root>/tables/silver/bars."""
        schema, name = split_name(qualified)
        return self.tables / schema / name

    def checkpoint(self, qualified: str) -> Path:
        schema, name = split_name(qualified)
        return self.root / "checkpoints" / schema / name

    def existing_tables(self) -> list[tuple[str, str, Path]]:
        """(schema, name, path) of every Delta table folder on disk."""
        found = []
        if self.tables.is_dir():
            for schema_dir in sorted(p for p in self.tables.iterdir() if p.is_dir()):
                for table_dir in sorted(p for p in schema_dir.iterdir() if p.is_dir()):
                    if is_delta_table(table_dir):
                        found.append((schema_dir.name, table_dir.name, table_dir))
        return found

    def reset(self, qualified: str) -> None:
        """Forget a table and its checkpoint (full refresh): the next run rebuilds it from its sources."""
        for path in (self.table_path(qualified), self.checkpoint(qualified)):
            if path.exists():
                shutil.rmtree(path)


def split_name(qualified: str) -> tuple[str, str]:
    parts = qualified.split(".")
    if len(parts) < 2:
        raise ValueError(f"expected <schema>.<table>, got `{qualified}`")
    return parts[-2], parts[-1]


def sql_string(value: str | Path) -> str:
    """A Spark SQL string literal."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_name(qualified: str) -> str:
    return ".".join(f"`{part.replace('`', '``')}`" for part in qualified.split("."))
