"""Two-process parsing must change nothing but the time: same findings, same model, same output."""

from __future__ import annotations

import os

import pytest

from framework.project import load_project, spec_files
from framework.spec import documents
from framework.validation import prefetch, resolve, sql
from tests.validation.spec_project import DAILY_SPEND, EVENTS, RAW_EVENTS, SpecProject
from tests.validation.spec_project import project  # noqa: F401 - fixtures, used by name


def _many_specs(project: SpecProject, count: int) -> None:
    """`count` bronze/silver pairs plus a few broken specs of every kind."""
    for i in range(count):
        project.table("bronze", f"raw_{i}", RAW_EVENTS.replace("raw_events", f"raw_{i}"))
        project.table("silver", f"events_{i}", EVENTS.replace("name: events", f"name: events_{i}")
                      .replace("raw_events", f"raw_{i}").replace("amount > 0", f"amount > {i}"))
    project.table("gold", "daily_spend", DAILY_SPEND.replace("tables: [events]", "tables: [events_0]"))
    project.table("silver", "broken_yaml", "name: [\n")
    project.table("silver", "broken_sql", EVENTS.replace("name: events", "name: broken_sql")
                  .replace("FROM source", "FROM source WHERE"))
    project.table("silver", "broken_rule", EVENTS.replace("name: events", "name: broken_rule")
                  .replace("amount > 0", "amount >"))
    project.table("silver", "broken_columns", EVENTS.replace("name: events", "name: broken_columns")
                  .replace("raw_events", "raw_0").replace("amount, ts\n", "upperr(amount) AS amount, tss AS ts\n"))
    project.write("tables/silver/junk.yaml", b"\xff\xfe junk")


def _clear_caches() -> None:
    documents.forget_preloaded()
    sql.clear_caches()
    resolve.clear_cache()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_two_processes_give_the_same_result_as_one(project: SpecProject) -> None:
    _many_specs(project, prefetch.MIN_FILES // 2 + 5)
    _clear_caches()
    sequential = load_project(project.root)
    files = spec_files(project.root.resolve())
    assert len(files) >= prefetch.MIN_FILES
    _clear_caches()
    assert prefetch.prefetch(files, project.root.resolve(), jobs=2) is True
    assert documents.preloaded_count() == len(files)
    parallel = load_project(project.root)
    assert documents.preloaded_count() == 0, "every preloaded document is used"
    assert parallel.findings == sequential.findings
    assert len(sequential.errors) >= 6
    assert {"unknown function `upperr`", "unknown column `tss`: not a column of `source`"} <= \
        {f.message for f in parallel.errors}
    assert sorted(parallel.tables) == sorted(sequential.tables)
    assert parallel.tables["events_3"].expectations == sequential.tables["events_3"].expectations


def test_small_projects_and_one_job_do_not_fork(project: SpecProject) -> None:
    project.pipeline()
    files = spec_files(project.root.resolve())
    assert prefetch.prefetch(files, project.root, jobs=2) is False
    assert prefetch.prefetch(files * 100, project.root, jobs=1) is False


def test_a_file_changed_after_prefetch_is_read_again(project: SpecProject) -> None:
    project.pipeline()
    _clear_caches()
    path = (project.root / "tables/silver/events.yaml").resolve()
    parsed = prefetch.parse_share([path], project.root.resolve())
    prefetch.install(parsed)
    project.table("silver", "events", EVENTS.replace("expectations:", "expectatons:"))
    os.utime(path, ns=(1, 1))
    assert [f.message for f in load_project(project.root).errors] == ["unknown key `expectatons`"]


def test_display_names_match_the_loader(project: SpecProject) -> None:
    project.pipeline()
    root = project.root.resolve()
    loaded = load_project(project.root)
    for path in spec_files(root):
        assert prefetch.display_name(path, root) == loaded.relative(path)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_failing_worker_changes_nothing_but_the_time(project: SpecProject, monkeypatch) -> None:
    _many_specs(project, prefetch.MIN_FILES // 2 + 5)
    _clear_caches()
    expected = load_project(project.root).findings
    _clear_caches()

    def broken(parsed):
        raise RuntimeError("worker died")

    monkeypatch.setattr(prefetch, "encode", broken)
    files = spec_files(project.root.resolve())
    assert prefetch.prefetch(files, project.root.resolve(), jobs=2) is False
    assert 0 < documents.preloaded_count() < len(files)  # the parent's own share is still used
    assert load_project(project.root).findings == expected


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.timeout(60)
def test_a_stuck_worker_is_killed(project: SpecProject, monkeypatch) -> None:
    _many_specs(project, prefetch.MIN_FILES // 2 + 5)
    _clear_caches()
    real = prefetch.parse_share

    def slow_in_child(files, root):
        if os.getpid() != parent:
            import time
            time.sleep(30)
        return real(files, root)

    parent = os.getpid()
    monkeypatch.setattr(prefetch, "parse_share", slow_in_child)
    monkeypatch.setattr(prefetch, "TIMEOUT_SECONDS", 1.0)
    assert prefetch.prefetch(spec_files(project.root.resolve()), project.root.resolve(), jobs=2) is False
    assert not load_project(project.root).ok


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_the_worker_hands_over_the_shapes_of_its_sql(project: SpecProject) -> None:
    """Column resolution needs each SELECT's shape; the worker's are marshalled back, not recomputed."""
    for i in range(prefetch.MIN_FILES // 2 + 5):
        project.table("bronze", f"raw_{i}", RAW_EVENTS.replace("raw_events", f"raw_{i}"))
        project.table("silver", f"events_{i}", EVENTS.replace("name: events", f"name: events_{i}")
                      .replace("raw_events", f"raw_{i}").replace("FROM source", f"FROM source WHERE amount > {i}"))
    _clear_caches()
    files = spec_files(project.root.resolve())
    child_files = [f for i, f in enumerate(files) if i % 20 < round(20 * prefetch.CHILD_SHARE)]
    assert prefetch.prefetch(files, project.root.resolve(), jobs=2) is True
    child_sql = [text for f in child_files if "silver" in f.parts
                 for text in prefetch.sql_texts(documents.peek_preloaded(f).data)[0]]
    assert len(child_sql) > 20
    assert all(sql.cached_select(text).shape["scopes"] for text in child_sql)  # parsed by the worker only
    assert load_project(project.root).findings == []
