"""Paths in specs and environments must not escape the landing folder or the project root.

A table's `source.files.path` is meant to name a folder under the environment's `${landing_path}`;
a spec that reads `${landing_path}/../../..`, `/etc` or a symlink to elsewhere makes the pipeline
ingest (and a full refresh reset checkpoints for) files outside the data the environment owns. A
relative `landing_path`/`storage_root` that climbs out of the project does the same for a whole
environment. `medallion validate` rejects all of them with a located error. The hostile-YAML corpus
itself lives in tests/validation.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.medallion_testing import make_local_project

pytestmark = pytest.mark.reliability

BARS_PATH = "${landing_path}/${bars_folder}"


def errors(root: Path) -> list[str]:
    from framework.project import load_project

    project = load_project(root, env="test")
    return [f.render() for f in project.findings if f.severity == "error"]


def test_the_unmodified_project_is_valid(tmp_path):
    """The baseline of the cases below: the copied project validates cleanly."""
    assert errors(make_local_project(tmp_path / "p").root) == []



@pytest.mark.parametrize("path", ["${landing_path}/../../../etc", "${landing_path}/${bars_folder}/../../..", "/etc"],
                         ids=["dotdot", "dotdot-after-folder", "absolute"])
def test_a_source_path_outside_the_landing_folder_is_rejected(tmp_path, path):
    project = make_local_project(tmp_path / "p")
    project.edit("tables/bronze/bars_raw.yaml", BARS_PATH, path)
    found = errors(project.root)
    assert any("bars_raw.yaml" in e and "landing" in e for e in found), found



def test_a_source_folder_that_is_a_symlink_out_of_the_landing_folder_is_rejected(tmp_path):
    project = make_local_project(tmp_path / "p")
    project.edit("tables/bronze/bars_raw.yaml", BARS_PATH, "${landing_path}/elsewhere")
    project.landing.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, project.landing / "elsewhere")
    found = errors(project.root)
    assert any("bars_raw.yaml" in e and "symlink" in e.lower() for e in found), found


def test_a_relative_environment_path_that_climbs_out_of_the_project_is_rejected(tmp_path):
    project = make_local_project(tmp_path / "p")
    (project.root / "environments" / "test.yaml").write_text(
        "name: test\nextends: local\nlanding_path: ../../../../tmp/elsewhere\nstorage_root: ../../outside\n")
    found = errors(project.root)
    assert any("test.yaml" in e and "storage_root" in e for e in found), found
