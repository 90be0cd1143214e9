"""A quieter, safer CLI (issue 12, case 6) — the parts that need no JVM.

* `medallion --help` shows each command's whole first sentence (click cut them with `...`);
* one `--format text|json` spelling: `list --json` stays as a hidden alias;
* `medallion sql` checks syntax and table names and refuses writes without --write before Spark
  starts (proved with JAVA_HOME pointing nowhere: reaching the JVM would fail with the Java error);
* the live run display: redrawn at least every second on a terminal, quiet when not one.
"""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from tests.cli.cli_project import REPO, market_project  # noqa: F401 (fixture)
from framework.cli import cli


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "100", **(env or {})})


def test_top_level_help_shows_whole_descriptions() -> None:
    out = invoke("--help").output
    commands = out.split("Commands:")[1]
    assert not [line for line in commands.splitlines() if line.rstrip().endswith("...")], commands
    flat = " ".join(commands.split())
    assert "check Check the tables and the event log against the checks the specs declare." in flat
    assert "history Show the Delta versions of TABLE (spec name or schema.name): what wrote each and how many rows." in flat


@pytest.mark.parametrize("command", ["list", "run", "runs", "history", "check", "sql", "validate"])
def test_every_command_that_prints_results_takes_format_text_or_json(command: str) -> None:
    out = " ".join(invoke(command, "--help").output.split())
    assert re.search(r"--format \[text\|json(\|github)?(\|sarif\|junit)?\]", out), out


def test_list_format_json_and_its_deprecated_alias(market_project: Path) -> None:
    modern = invoke("list", "--format", "json", "--project", str(market_project))
    legacy = invoke("list", "--json", "--project", str(market_project))
    assert modern.exit_code == legacy.exit_code == 0
    assert json.loads(modern.stdout) == json.loads(legacy.stdout)
    assert "--json" not in invoke("list", "--help").output


NO_JAVA = {"JAVA_HOME": "/nonexistent-java-home"}
"""Reaching the JVM start would fail with "Java 17+ is required ... not found": a check that answers
first never started it."""


def _sql(project: Path, query: str, *extra: str):
    return invoke("sql", query, *extra, "--project", str(project), env=NO_JAVA)


def test_sql_refuses_writes_without_write_before_spark_starts(market_project: Path) -> None:
    result = _sql(market_project, "DELETE FROM gold.symbol_summary WHERE symbol = 'AAPL'")
    assert result.exit_code == 2
    assert "DELETE changes data; `medallion sql` is read-only unless you add --write" in result.stderr
    with_write = _sql(market_project, "DELETE FROM gold.symbol_summary WHERE symbol = 'AAPL'", "--write")
    assert "has not been created yet" in with_write.stderr  # checked too, still before Spark


def test_sql_names_unknown_tables_with_a_hint_before_spark_starts(market_project: Path) -> None:
    typo = _sql(market_project, "SELECT * FROM silver.barz")
    assert typo.exit_code == 2 and "unknown table `silver.barz`; did you mean `silver.bars`?" in typo.stderr
    bare = _sql(market_project, "SELECT count(*) FROM bars_quarantine")
    assert "unknown table `bars_quarantine`; did you mean `silver.bars_quarantine`?" in bare.stderr
    log = _sql(market_project, "SELECT * FROM ops.event_logs")
    assert "did you mean `ops.event_log`?" in log.stderr
    assert "Java" not in typo.stderr + bare.stderr + log.stderr


def test_sql_syntax_errors_point_at_the_column_before_spark_starts(market_project: Path) -> None:
    result = _sql(market_project, "SELECT symbol FORM silver.bars")
    assert result.exit_code == 2
    assert "syntax error at column" in result.stderr and "SELECT symbol FORM silver.bars" in result.stderr
    assert "Traceback" not in result.stderr and "Java" not in result.stderr


def test_a_valid_read_only_query_goes_on_to_start_spark(market_project: Path) -> None:
    result = _sql(market_project, "SHOW TABLES IN silver")
    assert result.exit_code == 2 and "Java 17+ is required" in result.stderr


# -- the live display of `medallion run` --------------------------------------------------------------

def _flow(table: str = "silver.bars"):
    from framework.engine.results import FlowResult, FlowStatus
    from framework.project import load_project

    spec = load_project(REPO).tables["bars"]
    return FlowResult(table, spec, status=FlowStatus.RUNNING)


def test_the_live_display_ticks_at_least_every_second_on_a_terminal() -> None:
    from framework.cli.run import RunDisplay

    buffer = io.StringIO()
    terminal = Console(file=buffer, force_terminal=True, width=100, color_system=None)
    flow = _flow()
    with RunDisplay(False, console=terminal) as display:
        display.run_started(None, [flow])
        display.flow_started(flow)
        time.sleep(3.3)
    shown = [float(t) for t in re.findall(r"running\s+0\s+0\s+(\d+\.\d)s", buffer.getvalue())]
    assert shown and max(shown) >= 3.0, buffer.getvalue()[-500:]
    ticks = sorted(set(int(t) for t in shown))
    assert ticks == [0, 1, 2, 3], shown  # every second of the flow was on screen


def test_the_display_does_not_redraw_when_output_is_not_a_terminal() -> None:
    from framework.cli.run import RunDisplay
    from framework.engine.results import FlowStatus

    buffer = io.StringIO()
    pipe = Console(file=buffer, force_terminal=False, width=100)
    flow = _flow()
    with RunDisplay(False, console=pipe) as display:
        display.run_started(None, [flow])
        display.flow_started(flow)
        time.sleep(1.2)
        flow.status, flow.seconds = FlowStatus.COMPLETED, 1.2
        display.flow_finished(flow)
    assert buffer.getvalue() == "silver.bars: completed (1.2s)\n"
