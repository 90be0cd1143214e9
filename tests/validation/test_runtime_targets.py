"""Each environment targets one runtime; validate checks every spec's SQL against the Spark line of each
target (and a local environment's also against the local engine's), and an environment's settings
against its runtime. Before, every spec was checked against Spark 4.2 only, while the job cluster ran
16.4 (Spark 3.5) and the pipeline the CURRENT channel.
"""

from __future__ import annotations

import time

import pytest

from framework.spec.runtimes import RUNTIMES
from framework.validation.functions import check_function, function_targets, spark_functions
from tests.validation.spec_project import EVENTS, SpecProject, at
from tests.validation.spec_project import pipeline, project  # noqa: F401 - fixtures, used by name

PROD = """\
name: prod
runtime: databricks
databricks_runtime: "{runtime}"
catalog: prod
landing_path: /Volumes/prod/bronze/landing
storage_root: /Volumes/prod/ops/storage
variables:
  events_folder: events
"""


def _calls(project: SpecProject, call: str) -> str:
    """events' transform with `call` in its WHERE clause; returns the spec text (for `at`)."""
    return project.table("silver", "events", EVENTS.replace("    FROM source\n",
                                                            f"    FROM source\n    WHERE {call} IS NOT NULL\n"))


def test_a_function_the_target_line_lacks_is_a_located_error_naming_line_runtime_and_environment(
        pipeline: SpecProject) -> None:
    pipeline.write("environments/local.yaml", 'name: local\nruntime: local\ndatabricks_runtime: "16.4"\n'
                                              "variables:\n  events_folder: events\n")
    text = _calls(pipeline, "try_parse_json(user_id)")
    finding = pipeline.one()
    assert (finding.file, finding.doc_path) == ("tables/silver/events.yaml", "transform.sql")
    assert (finding.line, finding.column) == at(text, "try_parse_json")
    assert finding.message == "`try_parse_json` is not in Spark 3.5 (the target runtime 16.4 of environment local)"
    assert finding.hint == ("runtimes 17.3, 18.1, serverless have it: use a function Spark 3.5 has, or target a "
                            "runtime that has it (`databricks_runtime` in environments/)")


def test_prod_on_16_4_gets_the_function_error_and_the_channel_error(pipeline: SpecProject) -> None:
    """The brief's case: prod targeting 16.4 — and no pipeline channel runs 16.4."""
    pipeline.write("environments/prod.yaml", PROD.format(runtime="16.4"))
    _calls(pipeline, "try_parse_json(user_id)")
    errors = {f.file: f for f in pipeline.errors()}
    assert errors["tables/silver/events.yaml"].message == \
        "`try_parse_json` is not in Spark 3.5 (the target runtime 16.4 of environment prod)"
    channel = errors["environments/prod.yaml"]
    assert (channel.doc_path, channel.line) == ("databricks_runtime", 3)
    assert channel.message.startswith("no pipeline channel runs Databricks Runtime 16.4")
    assert "CURRENT runs 17.3" in channel.message
    assert pipeline.errors(env="local") == []  # --env local: only local's target lines (4.0 and 4.2)


def test_a_function_only_the_local_engine_has_is_an_error_for_the_runtime_it_emulates(
        pipeline: SpecProject) -> None:
    """try_to_date runs on the local engine (Spark 4.2) but not on 17.3 (Spark 4.0): validate says so."""
    _calls(pipeline, "try_to_date(user_id)")
    assert pipeline.one().message == "`try_to_date` is not in Spark 4.0 (the target runtime 17.3 of environment local)"


def test_environments_sharing_a_line_are_named_together(pipeline: SpecProject) -> None:
    pipeline.write("environments/local.yaml", 'name: local\nruntime: local\ndatabricks_runtime: "16.4"\n'
                                              "variables:\n  events_folder: events\n")
    pipeline.write("environments/prod.yaml", PROD.format(runtime="16.4"))
    _calls(pipeline, "try_parse_json(user_id)")
    functions = [f for f in pipeline.errors() if f.file.startswith("tables/")]
    assert [f.message for f in functions] == [
        "`try_parse_json` is not in Spark 3.5 (the target runtime 16.4 of environments local, prod)"]


def test_unknown_everywhere_is_still_an_unknown_function(pipeline: SpecProject) -> None:
    pipeline.write("environments/prod.yaml", PROD.format(runtime="17.3"))
    _calls(pipeline, "try_parse_jsn(user_id)")
    finding = pipeline.one()
    assert finding.message == "unknown function `try_parse_jsn`"
    assert finding.hint == "did you mean `try_parse_json`?"


def test_targets_follow_the_environments() -> None:
    from framework.spec.environment import DEFAULTS, Environment, deep_merge
    from pathlib import Path

    def env(name: str, runtime: str, where: str) -> Environment:
        return Environment(name, deep_merge(DEFAULTS, {"runtime": where, "databricks_runtime": runtime}), Path("."))

    targets = function_targets([env("local", "17.3", "local"), env("dev", "18.1", "databricks"),
                                env("prod", "17.3", "databricks")])
    assert [(t.line, t.describe()) for t in targets] == [
        ("4.0", "the target runtime 17.3 of environments local, prod"),
        ("4.1", "the target runtime 18.1 of environment dev"),
        ("4.2", "the local engine (Spark 4.2) of environment local"),
    ]
    assert check_function("TRY_TO_DATE", targets)[0][0] == \
        "`TRY_TO_DATE` is not in Spark 4.0 (the target runtime 17.3 of environments local, prod)"
    assert check_function("upper", targets) == [] and check_function("timestampadd", targets) == []


@pytest.mark.parametrize("settings, message", [
    ("serverless: true\n", "`serverless: true` but `databricks_runtime: 17.3`"),
    ("", None),
])
def test_serverless_is_one_runtime_not_two_settings(pipeline: SpecProject, settings: str,
                                                   message: str | None) -> None:
    project = pipeline
    project.write("environments/prod.yaml", PROD.format(runtime="17.3") + settings)
    errors = project.errors()
    if message is None:
        assert errors == []
    else:
        (finding,) = errors
        assert finding.message.startswith(message) and finding.doc_path == "databricks_runtime"
    project.write("environments/prod.yaml", PROD.format(runtime="serverless") + settings)
    messages = [f.message for f in project.errors()]
    if settings:
        assert messages == []
    else:
        assert len(messages) == 1 and messages[0].startswith("`serverless: false` but `databricks_runtime: serverless`")


def test_a_string_into_a_timestamp_column_suggests_try_to_timestamp_never_a_cast(pipeline: SpecProject) -> None:
    pipeline.table("silver", "events", EVENTS.replace("SELECT event_id, user_id, amount, ts",
                                                      "SELECT event_id, user_id, amount, user_id AS ts"))
    hint = pipeline.one().hint
    assert hint.startswith("convert it on purpose with `try_to_timestamp(user_id) AS ts`")
    assert "CAST(" not in hint and "to_timestamp(user_id)" not in hint.replace("try_to_timestamp(user_id)", "")


def test_each_list_is_read_once_and_only_when_a_target_needs_it(pipeline: SpecProject) -> None:
    spark_functions.cache_clear()
    pipeline.load()
    assert spark_functions.cache_info().currsize == 2  # local: 4.0 (17.3) and 4.2 (the engine), not 3.5 or 4.1
    misses = spark_functions.cache_info().misses
    pipeline.load()
    assert spark_functions.cache_info().misses == misses


def test_every_runtime_names_a_line_with_a_list() -> None:
    for runtime in RUNTIMES.values():
        assert spark_functions(runtime.spark_line), runtime
