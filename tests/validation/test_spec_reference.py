"""docs/spec-reference.md is generated from the JSON Schemas and must not drift from them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from framework.validation.reference import DEFAULT_OUTPUT, render
from framework.validation.schema import load_schema

REPO = Path(__file__).resolve().parents[2]


def test_committed_reference_is_up_to_date() -> None:
    assert DEFAULT_OUTPUT == REPO / "docs" / "spec-reference.md"
    assert DEFAULT_OUTPUT.read_text(encoding="utf-8") == render(), \
        "docs/spec-reference.md is stale: run `python -m framework.validation.reference`"


def test_every_schema_property_is_documented() -> None:
    text = render()
    for kind in ("table", "environment"):
        for key in load_schema(kind)["properties"]:
            assert f"| `{key}` |" in text, f"{kind}.{key} missing from the reference"
    for nested in ("source.files", "columns[]", "expectations[]", "transform", "dedupe", "layer_rules"):
        assert f"### `{nested}`" in text


def test_reference_documents_the_editor_schema_line() -> None:
    text = render()
    assert "# yaml-language-server: $schema=../../framework/spec/schemas/table.schema.json" in text
    assert "# yaml-language-server: $schema=../framework/spec/schemas/environment.schema.json" in text
    assert (REPO / "framework/spec/schemas/table.schema.json").is_file()


def test_internal_links_point_at_headings() -> None:
    text = render()
    headings = re.findall(r"^#+ (.+)$", text, flags=re.M)
    taken: dict[str, int] = {}
    anchors = set()
    for heading in headings:
        base = "".join(ch for ch in heading.lower() if ch.isalnum() or ch in "-_ ").replace(" ", "-")
        anchors.add(base if base not in taken else f"{base}-{taken[base]}")
        taken[base] = taken.get(base, 0) + 1
    for link in re.findall(r"\]\(#([^)]*)\)", text):
        assert link in anchors, link


def test_check_mode_detects_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "ref.md"
    stale.write_text("old\n")
    command = [sys.executable, "-m", "framework.validation.reference", "--output", str(stale)]
    assert subprocess.run([*command, "--check"], capture_output=True).returncode == 1
    assert subprocess.run(command, capture_output=True).returncode == 0
    assert subprocess.run([*command, "--check"], capture_output=True).returncode == 0
