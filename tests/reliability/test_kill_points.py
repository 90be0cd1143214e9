"""SIGKILL `medallion run` at seeded points in every phase of an update: same tables as an uninterrupted run.

The victim gets the history one small file at a time (a new file before each attempt, so every phase
has work), and each attempt is killed in a phase drawn by a seeded schedule (MEDALLION_KILL_SEED,
default 7) after 1-2 new durable markers of that phase (1 for the event log and OPTIMIZE) plus
0-300 ms. Markers: a bronze or silver Delta commit, a stream offset or commit, a gold overwrite, an
event-log commit, an OPTIMIZE commit (the engine's, after optimize_min_files new files). Every phase is drawn at
least once; each kill point is named by the newest marker. MEDALLION_KILL_POINTS (default 10) sets
how many kills. Then a last run without a kill: its tables must equal those of one uninterrupted run
over the same files, and the event log must show every killed update: as one without a terminal state,
except one killed in the "event log" phase, whose marker is the update's only event-log commit (a
triggered update logs its events in one commit, at its end), so it was killed after recording COMPLETED.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable

import pytest

from tests.medallion_testing import make_local_project
from tests.processes import (committed_not_checkpointed, history_waves, land_at, land_history, snapshot, start_run,
                       storage_files, wait_for)

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.reliability]

KILL_POINTS = int(os.environ.get("MEDALLION_KILL_POINTS", "10"))
SEED = int(os.environ.get("MEDALLION_KILL_SEED", "7"))
STALL_SECONDS = 300
"""An attempt that writes no progress marker for this long is stuck (an idle JVM start takes ~30 s)."""


def _is_optimize(storage: Path) -> Callable[[str], bool]:
    def check(relative: str) -> bool:
        return "/_delta_log/" in relative and '"operation":"OPTIMIZE"' in (storage / relative).read_text()
    return check


PHASES: dict[str, Callable[[Path], Callable[[str], bool]]] = {
    "bronze write": lambda _: lambda r: r.startswith("tables/bronze/bars_raw/_delta_log/"),
    "bronze checkpoint": lambda _: lambda r: r.startswith("checkpoints/bronze/bars_raw/stream/"),
    "silver MERGE": lambda _: lambda r: r.startswith("tables/silver/bars/_delta_log/"),
    "silver checkpoint": lambda _: lambda r: r.startswith("checkpoints/silver/bars/stream/"),
    "gold overwrite": lambda _: lambda r: r.startswith("tables/gold/"),
    "event log": lambda _: lambda r: r.startswith("tables/ops/event_log/_delta_log/"),
    "OPTIMIZE": _is_optimize,
}


SINGLE_MARKER_PHASES = {"event log", "OPTIMIZE"}
"""Phases with one or two commits per update: the second may be the update's last act."""


def kill_in_phase(project, log, phase: str, rng: random.Random) -> str | None:
    """One attempt: start, wait for 1-2 new markers of `phase` (+ delay), SIGKILL. None if it completed first."""
    matches = PHASES[phase](project.storage)
    before = storage_files(project)
    wanted, delay = rng.randint(1, 2), rng.uniform(0, 0.3)
    if phase in SINGLE_MARKER_PHASES:
        wanted = 1

    def new_markers() -> dict[str, float]:
        return {k: v for k, v in storage_files(project).items() if k not in before}

    process = start_run(project, log=log)
    try:
        try:
            wait_for(lambda: sum(1 for k in new_markers() if _safe(matches, k)) >= wanted or process.poll() is not None,
                     STALL_SECONDS, f"{wanted} new {phase} markers")
        except AssertionError as stalled:
            raise AssertionError(f"{stalled}; replay window: {committed_not_checkpointed(project)}") from None
        time.sleep(delay)
        if process.poll() is not None:
            assert process.returncode == 0, log.read_text()[-3000:]
            return None
        new = new_markers()
        process.send_signal(signal.SIGKILL)
        process.wait(60)
        newest = max(new, key=lambda k: (new[k], k))
        return f"{phase}: {newest} (+{len(new)} markers, {delay * 1000:.0f} ms)"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(60)


def run_to_end(project, log, *, timeout: float) -> int | None:
    """One `medallion run` without a kill: its exit code, or None if it had not ended after `timeout`."""
    process = start_run(project, log=log)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        return None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(60)


def _safe(matches: Callable[[str], bool], relative: str) -> bool:
    try:
        return matches(relative)
    except OSError:  # a file replaced while we read it
        return False


@pytest.mark.timeout(1800)  # ~10 min on an idle machine; over 15 min with another Spark suite beside it
def test_seeded_sigkill_series_converges_to_the_uninterrupted_tables(spark, tmp_path_factory):
    base = tmp_path_factory.mktemp("kills")
    settings = "optimize_min_files: 2\n"  # OPTIMIZE as soon as there is something to compact: a phase to kill in
    reference, victim = make_local_project(base / "reference", settings), make_local_project(base / "victim", settings)
    waves = history_waves()
    for project in (reference, victim):
        project.edit("tables/bronze/bars_raw.yaml", "max_files_per_trigger: 200", "max_files_per_trigger: 1")
        project.write_calendar()
    for order, (name, rows) in enumerate(waves):
        land_at(reference, name, rows, order)
    started = time.monotonic()
    assert reference.run(spark).ok
    reference_seconds = time.monotonic() - started

    rng = random.Random(SEED)
    names = list(PHASES)
    schedule = rng.sample(names, len(names)) + [rng.choice(names) for _ in range(max(0, KILL_POINTS - len(names)))]
    log = base / "victim.log"
    points: list[str] = []
    completed_attempts = 0
    landed = 0
    series_started = time.monotonic()
    for phase in schedule[:KILL_POINTS]:
        while True:
            assert landed < len(waves), f"ran out of files before a kill in phase {phase}: {points}"
            land_at(victim, *waves[landed], landed)
            landed += 1
            point = kill_in_phase(victim, log, phase, rng)
            if point is not None:
                points.append(point)
                break
            completed_attempts += 1
    for order in range(landed, len(waves)):
        land_at(victim, *waves[order], order)
    code = run_to_end(victim, log, timeout=900)
    assert code == 0, f"final run: code {code}; replay window: {committed_not_checkpointed(victim)}\n" \
                      + log.read_text()[-3000:]
    series_seconds = time.monotonic() - series_started
    print(f"\nreference run {reference_seconds:.0f}s; kill series {series_seconds:.0f}s; {len(points)} kill points "
          f"(seed {SEED}, {len(waves)} files, {completed_attempts} attempts completed before their phase came):")
    for point in points:
        print("  SIGKILL in", point)

    assert len(set(points)) == len(points) == KILL_POINTS
    assert {p.split(":")[0] for p in points} >= set(PHASES) if KILL_POINTS >= len(PHASES) else True
    assert snapshot(spark, victim) == snapshot(spark, reference)
    assert victim.table(spark, "silver.bars").where("volume = 999999").count() == 1

    # the event log records every killed update as one that never reached a terminal state, but for one killed
    # after its only event-log commit, which carries its terminal state
    events = spark.read.format("delta").load(str(victim.storage / "tables/ops/event_log"))
    events.createOrReplaceTempView("killed_event_log")
    updates = spark.sql("""
        SELECT origin.update_id AS id, min(timestamp) AS started,
               max(CASE WHEN event_type = 'update_progress'
                         AND get_json_object(details, '$.update_progress.state') = 'COMPLETED'
                        THEN 1 ELSE 0 END) AS completed,
               sum(CASE WHEN event_type = 'update_progress'
                         AND get_json_object(details, '$.update_progress.state') IN ('COMPLETED', 'FAILED', 'CANCELED')
                        THEN 1 ELSE 0 END) AS terminal
        FROM killed_event_log GROUP BY origin.update_id ORDER BY started""").collect()
    interrupted = [u for u in updates if u["terminal"] == 0]
    print(f"event log: {len(updates)} updates, {len(interrupted)} without a terminal update_progress")
    assert (updates[-1]["terminal"], updates[-1]["completed"]) == (1, 1)
    killed_after_logging = sum(point.startswith("event log:") for point in points)
    assert len(updates) - 1 - completed_attempts - killed_after_logging <= len(interrupted) <= len(points)
    assert len(interrupted) >= 1


@pytest.mark.parametrize("flow", ["bronze/bars_raw", "silver/bars"])
def test_restart_after_a_kill_between_delta_commit_and_checkpoint_commit_completes(spark, tmp_path, flow):
    """Deterministic form of the kill window: the batch is in the Delta log, its checkpoint commit is not
    (an append, and a de-duplicating merge); the replay writes nothing twice."""
    project = make_local_project(tmp_path / "project")
    land_history(project)
    assert project.run(spark).ok
    before = snapshot(spark, project)
    commits = project.storage / "checkpoints" / flow / "stream" / "commits"
    last = max((p for p in commits.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    last.unlink()  # what SIGKILL right after the flow's Delta commit leaves behind (with no checksum file)
    (commits / f".{last.name}.crc").unlink(missing_ok=True)
    assert committed_not_checkpointed(project) is not None  # the replayed batch's write will be skipped
    log = tmp_path / "restart.log"
    code = run_to_end(project, log, timeout=240)
    assert code == 0, "the restarted run did not finish within 240 s: " + log.read_text()[-2000:]
    assert snapshot(spark, project) == before
