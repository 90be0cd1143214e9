"""Read-only and full filesystems under the landing and storage folders: a clear error, nothing corrupted.

These tests run as root, where `chmod 555` does not stop a write, so they mount real filesystems
instead: a read-only tmpfs, and a tiny tmpfs that fills up mid-run (then is grown with `remount`, and
the same run is repeated: it must converge to the tables of an undisturbed run). Where `mount` is not
permitted (an unprivileged container) they are skipped with the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from tests.medallion_testing import REPO, make_local_project
from tests.processes import land_history, snapshot, start_run

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def _mount(target: Path, options: str) -> bool:
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True)
    return done.returncode == 0


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    """Mount points to unmount at the end (lazily: a JVM may still hold files)."""
    mounted: list[Path] = []
    yield mounted
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


def mount_or_skip(mounts: list[Path], target: Path, options: str) -> None:
    if os.geteuid() != 0 or not _mount(target, options):
        pytest.skip("cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN); see RELIABILITY.md")
    mounts.append(target)


def medallion(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "framework", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"})


def test_collect_into_a_read_only_landing_folder_fails_clearly(tmp_path, mounts):
    project = make_local_project(tmp_path / "project")
    mount_or_skip(mounts, project.landing, "ro,size=1m")
    result = medallion("task", "collect", "--env", "test", "--project", str(project.root), "--sessions", "1",
                       "--symbols", "AAPL", cwd=project.root)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output, output[-3000:]
    assert "read-only" in output.lower() and str(project.landing) in output, output[-3000:]


def test_collect_into_a_full_landing_folder_fails_clearly_and_leaves_no_partial_file(tmp_path, mounts):
    project = make_local_project(tmp_path / "project")
    mount_or_skip(mounts, project.landing, "size=64k")
    result = medallion("task", "collect", "--env", "test", "--project", str(project.root), "--sessions", "3",
                       "--symbols", "AAPL,MSFT,JPM", cwd=project.root)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output, output[-3000:]
    assert "no space left" in output.lower(), output[-3000:]
    leftovers = [p for p in project.landing.rglob(".*") if p.is_file()]
    assert not leftovers, f"temporary files left behind: {leftovers}"
    for landed in (project.landing / "bars").glob("*.jsonl"):  # every file that is there is complete
        text = landed.read_text()
        assert text.endswith("\n") and all(line.startswith("{") and line.endswith("}")
                                           for line in text.splitlines()), landed


def test_run_on_a_read_only_storage_folder_fails_clearly(tmp_path, mounts):
    project = make_local_project(tmp_path / "project")
    land_history(project)
    mount_or_skip(mounts, project.storage, "ro,size=1m")
    result = medallion("run", "--env", "test", "--project", str(project.root), cwd=project.root)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output, output[-3000:]
    assert "read-only" in output.lower(), output[-3000:]


@pytest.mark.spark
def test_storage_that_fills_up_mid_run_recovers_to_the_same_tables(spark, tmp_path, mounts):
    reference, victim = make_local_project(tmp_path / "reference"), make_local_project(tmp_path / "victim")
    for project in (reference, victim):
        land_history(project)
    assert reference.run(spark).ok
    used = sum(p.stat().st_size for p in reference.storage.rglob("*") if p.is_file())
    mount_or_skip(mounts, victim.storage, f"size={max(used // 3, 64 * 1024)}")
    log = tmp_path / "full.log"
    first = start_run(victim, log=log)
    code = first.wait(900)
    output = log.read_text()
    print(f"\nreference storage {used / 1e6:.2f} MB; tmpfs {max(used // 3, 64 * 1024) / 1e6:.2f} MB; exit {code}")
    assert code != 0, "the run cannot succeed on a third of the space it needs"
    assert "no space left" in output.lower(), output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    subprocess.run(["mount", "-o", "remount,size=256m", str(victim.storage)], check=True)
    second = start_run(victim, log=log)
    assert second.wait(900) == 0, log.read_text()[-3000:]
    got, want = snapshot(spark, victim), snapshot(spark, reference)
    assert got == want, {t: (len(got[t]), len(want[t]), sorted(set(got[t]) ^ set(want[t]))[:3])
                         for t in want if got[t] != want[t]}
