"""`medallion validate`: exit codes, output formats, path selection, and a real subprocess run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from tests.cli.cli_project import market_project  # noqa: F401 (fixture)
from framework.cli import cli

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["validate", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _break(root: Path, relative: str, old: str, new: str) -> str:
    path = root / relative
    text = path.read_text().replace(old, new, 1)
    assert old in path.read_text()
    path.write_text(text)
    return text


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


# ---------------------------------------------------------------------------------------------- the shipped specs

def test_shipped_specs_are_valid() -> None:
    code, out, err = run("--project", str(REPO))
    assert code == 0, out + err
    assert "environment(s): valid" in out
    assert "error" not in out


def test_python_dash_m_framework_validate_in_a_real_process() -> None:
    done = subprocess.run([sys.executable, "-m", "framework", "validate"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout
    assert "Traceback" not in done.stderr


def test_real_process_reports_errors_and_exits_1(market_project: Path) -> None:
    text = _break(market_project, "tables/gold/daily_bars.yaml", "expectations:", "expectatons:")
    done = subprocess.run([sys.executable, "-m", "framework", "validate"], cwd=market_project,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    line = _line_of(text, "expectatons:")
    assert f"tables/gold/daily_bars.yaml:{line}:1: error: unknown key `expectatons` (at expectatons)" in done.stdout
    assert "hint: did you mean `expectations`?" in done.stdout
    assert "1 error(s)" in done.stdout


# ---------------------------------------------------------------------------------------------- exit codes

def test_invalid_specs_exit_1_with_every_error_sorted(market_project: Path) -> None:
    _break(market_project, "tables/silver/bars.yaml", "action: drop", "action: dorp")
    _break(market_project, "tables/gold/daily_bars.yaml", "tables: [bars]", "tables: [barz]")
    code, out, _ = run("--project", str(market_project))
    assert code == 1
    lines = [l for l in out.splitlines() if ": error: " in l]
    assert len(lines) == 2
    assert lines[0].startswith("tables/gold/daily_bars.yaml:") and "upstream table `barz` does not exist" in lines[0]
    assert lines[1].startswith("tables/silver/bars.yaml:") and '"dorp" is not one of' in lines[1]
    assert "did you mean `bars`?" in out and "did you mean `drop`?" in out


def test_unknown_environment_is_a_usage_error(market_project: Path) -> None:
    code, out, err = run("--project", str(market_project), "--env", "prd")
    assert code == 2
    assert "unknown environment `prd` (known: dev, local, prod)" in err


def test_missing_path_is_a_usage_error(market_project: Path) -> None:
    code, _, err = run("--project", str(market_project), str(market_project / "tables" / "nope.yaml"))
    assert code == 2
    assert "no such file or folder" in err


def test_bad_option_is_a_usage_error() -> None:
    code, _, err = run("--format", "xml")
    assert code == 2
    assert "Invalid value for '--format'" in err
    code, _, err = run("--frobnicate")
    assert code == 2
    assert "No such option" in err


def test_folder_without_tables_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run("--project", str(tmp_path))
    assert code == 2
    assert "no tables/ folder" in err


# ---------------------------------------------------------------------------------------------- formats

def test_json_format_is_machine_readable(market_project: Path) -> None:
    text = _break(market_project, "tables/silver/bars.yaml", "keys: [symbol, ts, timeframe]",
                  "keys: [symbol, tss, timeframe]")
    code, out, _ = run("--project", str(market_project), "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["valid"] is False
    (finding,) = report["findings"]
    line = _line_of(text, "keys: [symbol, tss")
    assert finding == {"file": "tables/silver/bars.yaml", "line": line, "column": text.splitlines()[line - 1].index("tss") + 1,
                       "message": "`keys` names column `tss`, which is not declared", "doc_path": "keys[1]",
                       "hint": "did you mean `ts`?", "code": "invalid", "severity": "error"}


def test_json_format_when_valid(market_project: Path) -> None:
    code, out, _ = run("--project", str(market_project), "--format", "json")
    assert code == 0
    assert json.loads(out) == {"valid": True, "findings": []}


def test_github_format_prints_annotations(market_project: Path) -> None:
    text = _break(market_project, "tables/gold/daily_bars.yaml", "tables: [bars]", "tables: [barz]")
    code, out, _ = run("--project", str(market_project), "--format", "github")
    assert code == 1
    line = _line_of(text, "tables: [barz]")
    column = text.splitlines()[line - 1].index("barz") + 1
    assert out.strip() == (f"::error file=tables/gold/daily_bars.yaml,line={line},col={column},title=invalid::"
                           "upstream table `barz` does not exist (at source.tables[0]) — did you mean `bars`?")


def test_github_format_escapes_newlines_and_commas(market_project: Path) -> None:
    (market_project / "tables" / "silver" / "odd,name.yaml").write_text("name: [\n")
    code, out, _ = run("--project", str(market_project), "--format", "github")
    assert code == 1
    annotation = out.strip()
    assert annotation.startswith("::error file=tables/silver/odd%2Cname.yaml,line=")
    assert "\n" not in annotation


# ---------------------------------------------------------------------------------------------- selection

def test_validating_one_file_uses_the_whole_project_for_references(market_project: Path) -> None:
    _break(market_project, "tables/silver/bars.yaml", "action: drop", "action: dorp")
    code, out, _ = run("--project", str(market_project), str(market_project / "tables/gold/daily_bars.yaml"))
    assert code == 0, out
    assert "1 table(s)" in out
    code, out, _ = run("--project", str(market_project), str(market_project / "tables/silver"))
    assert code == 1
    assert "tables/silver/bars.yaml" in out and "2 table(s)" in out


def test_env_option_limits_variable_checks(market_project: Path) -> None:
    env = market_project / "environments" / "dev.yaml"
    env.write_text(env.read_text().replace("variables:\n  bars_folder: bars\n", ""))
    code, out, _ = run("--project", str(market_project))
    assert code == 1
    assert "unknown variable `${bars_folder}` in environment `dev`" in out
    assert "environment `prod`" in out  # prod extends dev
    code, out, _ = run("--project", str(market_project), "--env", "local")
    assert code == 0, out


def test_one_job_and_two_jobs_agree(market_project: Path) -> None:
    _break(market_project, "tables/silver/bars.yaml", "action: drop", "action: dorp")
    one = run("--project", str(market_project), "--jobs", "1", "--format", "json")
    two = run("--project", str(market_project), "--jobs", "2", "--format", "json")
    assert one == two
    assert one[0] == 1


def test_validate_imports_no_spark_and_starts_no_program() -> None:
    """No JVM anywhere in validation: no pyspark/py4j import, no subprocess (audit hooks see every start)."""
    code = (
        "import sys, atexit\n"
        "started = []\n"
        "sys.addaudithook(lambda event, args: started.append(event) if event in "
        "('subprocess.Popen', 'os.exec', 'os.posix_spawn', 'os.system') else None)\n"
        "atexit.register(lambda: print('MODULES', sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pyspark', 'py4j', 'delta', 'pandas', 'rich')), 'STARTED', started))\n"
        "sys.argv = ['medallion', 'validate']\n"
        "from framework.cli import main\n"
        "main()\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MODULES [] STARTED []" in done.stdout


def test_keys_without_dedupe_warn_but_pass(market_project: Path) -> None:
    """Issue 12, case 4: `validate` said nothing about a streaming silver table letting duplicates through."""
    text = _break(market_project, "tables/silver/bars.yaml", "dedupe:\n  sequence_by: _ingested_at\n", "")
    code, out, _ = run("--project", str(market_project))
    assert code == 0, out
    line = _line_of(text, "keys:")
    assert f"tables/silver/bars.yaml:{line}:1: warning: keys symbol, ts, timeframe without `dedupe`" in out
    assert "hint: add `dedupe: {sequence_by: _ingested_at}` to keep the latest row per key" in out
    code, out, _ = run("--project", str(market_project), "--format", "github")
    assert code == 0
    assert f"::warning file=tables/silver/bars.yaml,line={line},col=1,title=lint::keys symbol" in out


def test_transform_errors_are_reported_in_the_yaml(market_project: Path) -> None:
    """Issue 12, case 2, through the command: every mistake at its place in the YAML, exit code 1."""
    _break(market_project, "tables/silver/bars.yaml", "upper(trim(symbol))", "upperr(trim(symbol))")
    text = _break(market_project, "tables/silver/bars.yaml", "try_to_timestamp(ts) AS ts,",
                  "try_to_timestamp(tss) AS ts,")
    code, out, _ = run("--project", str(market_project), "--format", "json")
    assert code == 1
    found = {(f["line"], f["column"], f["message"]) for f in json.loads(out)["findings"] if f["severity"] == "error"}
    assert found == {(_line_of(text, "upperr"), 7, "unknown function `upperr`"),
                     (_line_of(text, "tss"), 24, "unknown column `tss`: not a column of `source`")}
