"""Which files of a micro-batch are still being written: read from the stream's own checkpoint logs.

The layout written here is Spark's (offsets/<batch>, sources/0/<n> and <n>.compact); the Spark tests
in test_engine_ingestion.py and tests/reliability run the same code against real streams.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from framework.engine.autoloader import FileSourceState, batch_files, unsettled_files


def write_checkpoint(stream: Path, batches: dict[int, list[Path]], *, compact_at: int | None = None) -> None:
    """offsets/<b> with the file source's logOffset; the source log entries, optionally compacted."""
    (stream / "offsets").mkdir(parents=True)
    (stream / "sources" / "0").mkdir(parents=True)
    entries: list[str] = []
    for batch, files in batches.items():
        (stream / "offsets" / str(batch)).write_text(f'v1\n{{"batchWatermarkMs":0}}\n{{"logOffset":{batch}}}')
        lines = [json.dumps({"path": f"file://{f}".replace(" ", "%20"), "timestamp": f.stat().st_mtime_ns // 1_000_000,
                             "batchId": batch}) for f in files]
        entries += lines
        if compact_at is None or batch > compact_at:
            (stream / "sources" / "0" / str(batch)).write_text("v1\n" + "\n".join(lines))
        elif batch == compact_at:
            (stream / "sources" / "0" / f"{batch}.compact").write_text("v1\n" + "\n".join(entries))


def landed(folder: Path, name: str, text: str, *, age: float = 0.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    if age:
        moment = time.time() - age
        os.utime(path, (moment, moment))
    return path


def state(tmp_path: Path, file_format: str = "json", settle: float = 10.0) -> FileSourceState:
    return FileSourceState(table="bronze.t", spec_file="t.yaml", path=str(tmp_path / "landing"), mode="rescue",
                           declared=[], schema_file=tmp_path / "_schema.json", file_format=file_format,
                           settle_seconds=settle)


def test_batch_files_reads_single_and_compacted_source_logs(tmp_path):
    landing = tmp_path / "landing"
    files = [landed(landing, f"f {i}.jsonl", "{}\n") for i in range(4)]
    stream = tmp_path / "stream"
    write_checkpoint(stream, {0: files[:1], 1: files[1:3], 2: files[3:]}, compact_at=1)
    assert [Path(p).name for p, _ in batch_files(stream, 1)] == ["f%201.jsonl", "f%202.jsonl"]
    assert [Path(p).name for p, _ in batch_files(stream, 2)] == ["f%203.jsonl"]
    assert batch_files(stream, 7) == []


def test_complete_files_are_settled_and_unfinished_ones_are_not(tmp_path):
    landing = tmp_path / "landing"
    done = landed(landing, "done.jsonl", '{"a": 1}\n')
    partial = landed(landing, "partial now.jsonl", '{"a": 1}\n{"a"')
    empty = landed(landing, "empty.jsonl", "")
    old_partial = landed(landing, "old.jsonl", '{"a": 1}', age=60)  # no final newline, but quiet for a minute
    skewed = landed(landing, "skewed.jsonl", '{"a": 1}', age=-3600)  # a writer's clock an hour ahead: no age
    stream = tmp_path / "stream"
    write_checkpoint(stream, {0: [done, partial, empty, old_partial, skewed]})
    pending = {Path(p).name for p in unsettled_files(state(tmp_path), stream, 0)}
    assert pending == {"partial%20now.jsonl", "empty.jsonl"}
    assert unsettled_files(state(tmp_path, settle=0), stream, 0) == []


def test_a_file_changed_after_spark_listed_it_is_not_settled(tmp_path):
    landing = tmp_path / "landing"
    growing = landed(landing, "growing.jsonl", '{"a": 1}\n', age=60)
    stream = tmp_path / "stream"
    write_checkpoint(stream, {0: [growing]})
    with growing.open("a") as handle:
        handle.write('{"a": 2}\n')
    assert [Path(p).name for p in unsettled_files(state(tmp_path), stream, 0)] == ["growing.jsonl"]
    assert unsettled_files(state(tmp_path, settle=0), stream, 0) == []  # quiet long enough: read as it is now


def test_parquet_needs_its_footer(tmp_path):
    landing = tmp_path / "landing"
    whole = landed(landing, "whole.parquet", "PAR1....PAR1")
    cut = landed(landing, "cut.parquet", "PAR1....")
    stream = tmp_path / "stream"
    write_checkpoint(stream, {0: [whole, cut]})
    assert [Path(p).name for p in unsettled_files(state(tmp_path, "parquet"), stream, 0)] == ["cut.parquet"]
