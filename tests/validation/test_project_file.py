"""The project file (medallion.yaml): its schema, its typed model and the checks of its job declaration,
each finding at the line and column of what is wrong; and the environments' task sections, checked
against the task's own `config_schema`."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from framework.spec.project_file import DEFAULT_DESCRIPTION, default_name

from .spec_project import SpecProject, at


@pytest.fixture
def project(tmp_path: Path) -> SpecProject:
    root = tmp_path / "Orders-Project"
    root.mkdir()
    built = SpecProject(root)
    built.pipeline()
    built.write("jobs/export.py", "def main(context, args):\n    return 0\n")
    built.write("jobs/__init__.py", "")
    return built


def write_project_file(project: SpecProject, text: str) -> str:
    text = textwrap.dedent(text)
    project.write("medallion.yaml", text)
    return text


def located(project: SpecProject, file: str = "medallion.yaml") -> list[tuple[int, int, str]]:
    return [(f.line, f.column, f.message) for f in project.errors() if f.file == file]


def test_without_a_project_file_the_defaults_apply(project: SpecProject):
    loaded = project.load()
    assert loaded.ok, [f.render() for f in loaded.errors]
    assert loaded.name == "orders_project" == default_name(project.root)
    assert loaded.settings.tasks == () and loaded.settings.check_kinds == {}
    assert loaded.settings.description == DEFAULT_DESCRIPTION and loaded.settings.document is None


def test_a_valid_project_file_is_the_typed_model(project: SpecProject):
    write_project_file(project, """\
        name: orders
        job:
          description: "Orders: export after the checks ({env})."
          tasks:
            - key: export
              run: jobs.export:main
              args: ["--target", "{env}"]
              depends_on: [quality_checks]
              timeout_seconds: 600
        check_kinds:
          business_days: jobs.export:main
        """)
    loaded = project.load()
    assert loaded.ok, [f.render() for f in loaded.errors]
    assert loaded.name == "orders"
    (export,) = loaded.settings.project_tasks
    assert (export.key, export.run, export.args, export.depends_on, export.timeout_seconds) == (
        "export", "jobs.export:main", ("--target", "{env}"), ("quality_checks",), 600)
    assert loaded.settings.check_kinds == {"business_days": "jobs.export:main"}
    assert loaded.settings.describe("prod", "orders_prod") == "Orders: export after the checks (prod)."


def test_schema_errors_are_located(project: SpecProject):
    text = write_project_file(project, """\
        name: Orders
        job:
          taks: []
        """)
    assert sorted(located(project)) == sorted([
        (*at(text, "Orders"), '"Orders" does not match the expected form (pattern ^[a-z][a-z0-9_]*$)'),
        (*at(text, "taks"), "unknown key `taks`"),
    ])


def test_unknown_depends_on_is_located_with_a_suggestion(project: SpecProject):
    text = write_project_file(project, """\
        job:
          tasks:
            - key: export
              run: jobs.export:main
              depends_on: [quality_check]
        """)
    [finding] = [f for f in project.errors() if f.file == "medallion.yaml"]
    assert (finding.line, finding.column) == at(text, "quality_check]")
    assert finding.message == "task `export` depends on unknown task `quality_check`"
    assert "quality_checks" in finding.hint


def test_a_cycle_between_tasks_is_an_error(project: SpecProject):
    text = write_project_file(project, """\
        job:
          tasks:
            - key: export
              run: jobs.export:main
              depends_on: [quality_checks]
            - key: pipeline
              depends_on: [export]
        """)
    [(line, column, message)] = located(project)
    assert message == "the job's tasks depend on each other in a cycle: export -> quality_checks -> pipeline -> export"
    assert (line, column) == at(text, "[quality_checks]")


def test_a_project_task_may_not_take_a_built_in_key(project: SpecProject):
    text = write_project_file(project, """\
        job:
          tasks:
            - key: quality_checks
              run: jobs.export:main
        """)
    [finding] = [f for f in project.errors() if f.file == "medallion.yaml"]
    assert (finding.line, finding.column) == at(text, "quality_checks")
    assert finding.message == "task key `quality_checks` is a built-in task"


def test_run_must_name_a_function_of_a_module_under_the_project_root(project: SpecProject):
    text = write_project_file(project, """\
        job:
          tasks:
            - key: export
              run: jobs.exports:main
            - key: load
              run: jobs.export:missing
            - key: notify
        check_kinds:
          recent: nowhere.checks:recent
        """)
    assert located(project) == [
        (*at(text, "jobs.exports:main"), "task `export`: module `jobs.exports` was not found in the project or on "
                                         "the Python path"),
        (*at(text, "jobs.export:missing"), "task `load`: module `jobs.export` (export.py) has no top-level `missing`"),
        (*at(text, "key: notify"), "task `notify` has no `run`"),
        (*at(text, "nowhere.checks:recent"), "check kind `recent`: module `nowhere.checks` was not found in the "
                                             "project or on the Python path"),
    ]


def test_duplicate_task_keys_are_an_error(project: SpecProject):
    text = write_project_file(project, """\
        job:
          tasks:
            - {key: export, run: "jobs.export:main"}
            - {key: export, run: "jobs.export:main"}
        """)
    assert located(project) == [(*at(text, "export", 3), "task `export` is declared twice")]


def test_a_task_section_is_checked_against_the_task_schema(project: SpecProject):
    project.write("jobs/export.schema.json", json.dumps({
        "type": "object", "additionalProperties": False,
        "properties": {"target": {"enum": ["s3", "gcs"]}, "batch": {"$ref": "#/$defs/count"}},
        "$defs": {"count": {"type": "integer", "minimum": 1}}}))
    write_project_file(project, """\
        job:
          tasks:
            - key: export
              run: jobs.export:main
              config_schema: jobs/export.schema.json
        """)
    env = project.write("environments/local.yaml", textwrap.dedent("""\
        name: local
        runtime: local
        catalog: test
        variables:
          events_folder: events
        tasks:
          export:
            target: ftp
            batch: 0
            bogus: 1
          exprot: {}
        """)).read_text()
    assert sorted(located(project, "environments/local.yaml")) == sorted([
        (*at(env, "ftp"), '"ftp" is not one of s3, gcs'),
        (*at(env, "0\n"), "0 is less than the minimum of 1"),
        (*at(env, "bogus"), "unknown key `bogus`"),
        (*at(env, "exprot"), "configuration for unknown task `exprot`"),
    ])


def test_a_missing_or_broken_config_schema_is_located(project: SpecProject):
    project.write("jobs/broken.json", "{not json")
    text = write_project_file(project, """\
        job:
          tasks:
            - {key: export, run: "jobs.export:main", config_schema: jobs/nope.json}
            - {key: load, run: "jobs.export:main", config_schema: jobs/broken.json}
        """)
    found = located(project)
    assert found[0][:2] == at(text, "jobs/nope.json") and found[0][2] == "task `export`: config_schema `nope.json` does not exist"
    assert found[1][:2] == at(text, "jobs/broken.json") and found[1][2].startswith(
        "task `load`: config_schema `broken.json` is not JSON")


def test_the_repository_declares_the_market_job():
    from framework.project import load_project
    from tests.medallion_testing import REPO

    loaded = load_project(REPO)
    assert loaded.ok, [f.render() for f in loaded.errors]
    (collect,) = loaded.settings.project_tasks
    assert (collect.key, collect.run) == ("collect", "market.collect.cli:main")
    assert loaded.settings.task("pipeline").depends_on == ("collect",)


def test_a_task_timeout_names_a_declared_task(project: SpecProject):
    write_project_file(project, """\
        job:
          tasks:
            - {key: export, run: "jobs.export:main"}
        """)
    env = project.write("environments/local.yaml", textwrap.dedent("""\
        name: local
        runtime: local
        catalog: test
        variables:
          events_folder: events
        timeouts:
          export_seconds: 60
          pipline_seconds: 60
        """)).read_text()
    [finding] = [f for f in project.errors() if f.file == "environments/local.yaml"]
    assert (finding.line, finding.column, finding.message) == (
        *at(env, "pipline_seconds"), "`pipline_seconds` is the timeout of unknown task `pipline`")
    assert "pipeline_seconds" in finding.hint


def test_the_market_collect_settings_are_checked_by_their_own_schema(tmp_path: Path):
    """The environments' `tasks.collect` is market configuration: the framework knows nothing of providers,
    yet a misspelt one is still reported at its line and column (market/collect/config.schema.json)."""
    import shutil

    from framework.project import load_project
    from tests.medallion_testing import REPO

    for folder in ("tables", "environments", "transforms", "market"):
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "medallion.yaml", tmp_path / "medallion.yaml")
    env = tmp_path / "environments" / "local.yaml"
    text = env.read_text().replace("    provider: synthetic", "    provider: synthetc").replace("    seed: 42", "    seed: many")
    env.write_text(text)
    found = [(f.line, f.column, f.message, f.hint) for f in load_project(tmp_path).errors]
    assert found == [
        (*at(text, "synthetc"), '"synthetc" is not one of synthetic, csv, yfinance, alpaca', "did you mean `synthetic`?"),
        (*at(text, "many"), "expected an integer, got a string", ""),
    ]
