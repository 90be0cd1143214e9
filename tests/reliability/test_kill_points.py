"""SIGKILL `medallion run` at many seeded points, restart until it completes: same tables as an uninterrupted run.

The schedule is seeded (MEDALLION_KILL_SEED, default 7): before each attempt it draws how many new
durable progress markers (Delta commits, streaming offsets/commits, materialized-view input states)
the attempt must write, plus a delay of 0-400 ms, then SIGKILLs it. Because every kill waits for new
markers, each kill point is distinct (named by the newest marker at the kill) and the series always
moves forward; the markers show the phase (bronze write, silver MERGE, gold, OPTIMIZE, event log).
MEDALLION_KILL_POINTS (default 10) sets how many kills; the engine's own test covers two fixed ones.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time

import pytest

from medallion_testing import make_local_project
from processes import committed_not_checkpointed, land_history, snapshot, start_run, storage_files, wait_for

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.reliability]

KILL_POINTS = int(os.environ.get("MEDALLION_KILL_POINTS", "10"))
SEED = int(os.environ.get("MEDALLION_KILL_SEED", "7"))
STALL_SECONDS = 300
"""An attempt that writes no progress marker for this long is stuck (an idle JVM start takes ~30 s)."""


def kill_after_progress(project, log, rng: random.Random) -> tuple[str | None, int]:
    """One attempt: start, wait for N new markers (+ delay), SIGKILL. Returns (kill point, exit code)."""
    before = storage_files(project)
    wanted = rng.randint(1, 6)
    delay = rng.uniform(0, 0.4)
    process = start_run(project, log=log)
    try:
        try:
            wait_for(lambda: len(set(storage_files(project)) - set(before)) >= wanted or process.poll() is not None,
                     STALL_SECONDS, f"{wanted} new progress markers")
        except AssertionError as stalled:
            raise AssertionError(f"{stalled}; replay window: {committed_not_checkpointed(project)}") from None
        if process.poll() is not None:
            return None, process.returncode
        time.sleep(delay)
        if process.poll() is not None:
            return None, process.returncode
        new = {k: v for k, v in storage_files(project).items() if k not in before}
        process.send_signal(signal.SIGKILL)
        process.wait(60)
        newest = max(new, key=lambda k: (new[k], k))
        return f"{newest} (+{len(new)} markers, {delay * 1000:.0f} ms)", -9
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(60)


def test_seeded_sigkill_series_converges_to_the_uninterrupted_tables(spark, tmp_path_factory):
    base = tmp_path_factory.mktemp("kills")
    reference, victim = make_local_project(base / "reference"), make_local_project(base / "victim")
    for project in (reference, victim):
        project.edit("tables/bronze/bars_raw.yaml", "max_files_per_trigger: 200", "max_files_per_trigger: 1")
        lines = land_history(project)
    started = time.monotonic()
    assert reference.run(spark).ok
    reference_seconds = time.monotonic() - started

    rng = random.Random(SEED)
    log = base / "victim.log"
    points: list[str] = []
    series_started = time.monotonic()
    while len(points) < KILL_POINTS:
        point, code = kill_after_progress(victim, log, rng)
        assert point is not None, f"the run ended (code {code}) before kill {len(points) + 1}: {points}"
        points.append(point)
    final = start_run(victim, log=log)
    try:
        code = final.wait(900)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        if final.poll() is None:
            final.kill()
            final.wait(60)
    assert code == 0, f"final run: code {code}; replay window: {committed_not_checkpointed(victim)}\n" \
                      + log.read_text()[-3000:]
    series_seconds = time.monotonic() - series_started
    print(f"\nreference run {reference_seconds:.0f}s; kill series {series_seconds:.0f}s; {len(points)} kill points "
          f"(seed {SEED}, {lines} landed lines):")
    for point in points:
        print("  SIGKILL after", point)

    assert len(set(points)) == len(points) == KILL_POINTS
    assert snapshot(spark, victim) == snapshot(spark, reference)
    assert victim.table(spark, "silver.bars").where("volume = 999999").count() == 1

    # the event log records every killed update as one that never reached a terminal state
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
    assert len(interrupted) == len(updates) - 1 >= 1
    assert len(updates) <= len(points) + 1


def test_restart_after_a_kill_between_delta_commit_and_checkpoint_commit_completes(spark, tmp_path):
    """Deterministic form of the kill window: the batch is in the Delta log, its checkpoint commit is not."""
    project = make_local_project(tmp_path / "project")
    land_history(project)
    assert project.run(spark).ok
    before = snapshot(spark, project)
    commits = project.storage / "checkpoints" / "bronze" / "bars_raw" / "stream" / "commits"
    last = max((p for p in commits.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    last.unlink()  # what SIGKILL right after bronze's Delta commit leaves behind (with no checksum file)
    (commits / f".{last.name}.crc").unlink(missing_ok=True)
    assert committed_not_checkpointed(project) is not None  # the replayed batch's write will be skipped
    log = tmp_path / "restart.log"
    process = start_run(project, log=log)
    try:
        code = process.wait(240)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(60)
    assert code == 0, "the restarted run did not finish within 240 s: " + log.read_text()[-2000:]
    assert snapshot(spark, project) == before
