"""A throw-away Medallion project in a temporary folder, for feeding the validator broken specs.

Tests write small spec files (tables/<layer>/<name>.yaml, environments/<name>.yaml), load the project
exactly as `medallion validate` does and assert on the located findings. `at(text, needle)` gives the
1-based (line, column) of a piece of text, so a test states *where* an error must point without
counting lines by hand.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from framework.findings import Finding
from framework.project import Project, load_project

LOCAL_ENV = """\
name: local
runtime: local
catalog: test
variables:
  events_folder: events
"""

RAW_EVENTS = """\
name: raw_events
layer: bronze
description: Raw click events as landed.
source:
  files:
    path: ${landing_path}/${events_folder}
    format: json
columns:
  - {name: event_id, type: STRING}
  - {name: user_id, type: STRING}
  - {name: amount, type: DOUBLE}
  - {name: ts, type: TIMESTAMP}
keys: [event_id]
expectations:
  - name: id_present
    rule: event_id IS NOT NULL
    action: warn
"""

EVENTS = """\
name: events
layer: silver
description: Clean click events.
source:
  tables: [raw_events]
columns:
  - {name: event_id, type: STRING, nullable: false}
  - {name: user_id, type: STRING}
  - {name: amount, type: DOUBLE}
  - {name: ts, type: TIMESTAMP}
keys: [event_id]
dedupe: {sequence_by: ts}
transform:
  sql: |
    SELECT event_id, user_id, amount, ts
    FROM source
expectations:
  - name: amount_positive
    rule: amount > 0
    action: drop
zorder_by: [user_id]
"""

DAILY_SPEND = """\
name: daily_spend
layer: gold
description: Spend per user and day.
source:
  tables: [events]
  mode: batch
columns:
  - {name: user_id, type: STRING}
  - {name: day, type: DATE}
  - {name: spend, type: DOUBLE}
keys: [user_id, day]
transform:
  sql: |
    SELECT user_id, to_date(ts) AS day, sum(amount) AS spend
    FROM source
    GROUP BY user_id, to_date(ts)
expectations:
  - name: spend_non_negative
    rule: spend >= 0
    action: fail
"""


def at(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based line and column where `needle` starts in `text` (its n-th occurrence)."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


class SpecProject:
    def __init__(self, root: Path):
        self.root = root
        self.write("environments/local.yaml", LOCAL_ENV)

    def write(self, relative: str, text: str | bytes) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def table(self, layer: str, name: str, text: str) -> str:
        """Write tables/<layer>/<name>.yaml; returns the text as written (dedented) for `at`."""
        text = textwrap.dedent(text)
        self.write(f"tables/{layer}/{name}.yaml", text)
        return text

    def pipeline(self) -> None:
        """The three valid specs: raw_events (bronze) -> events (silver) -> daily_spend (gold)."""
        self.table("bronze", "raw_events", RAW_EVENTS)
        self.table("silver", "events", EVENTS)
        self.table("gold", "daily_spend", DAILY_SPEND)

    def load(self, env: str | None = None) -> Project:
        return load_project(self.root, env=env)

    def errors(self, env: str | None = None) -> list[Finding]:
        return self.load(env).errors

    def one(self, file: str | None = None, env: str | None = None) -> Finding:
        """The single error (of `file`, if given); fails listing all errors otherwise."""
        errors = [f for f in self.errors(env) if file is None or f.file == file]
        assert len(errors) == 1, "expected exactly one error, got:\n" + "\n".join(f.render() for f in errors)
        return errors[0]


# Fixtures live here, not in a conftest.py: several test folders import `conftest` by name, and a
# conftest.py of ours would shadow theirs. Test modules import these two to use them.

@pytest.fixture
def project(tmp_path: Path) -> SpecProject:
    return SpecProject(tmp_path)


@pytest.fixture
def pipeline(project: SpecProject) -> SpecProject:
    """A valid bronze -> silver -> gold project to break one piece of."""
    project.pipeline()
    return project
