"""`medallion validate` in CI: --strict fails on warnings; SARIF 2.1.0 for code scanning, JUnit XML for test reports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner

from framework.cli import cli
from framework.findings import Finding, format_junit, format_sarif
from tests.cli.cli_project import market_project  # noqa: F401 (fixture)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["validate", *args], catch_exceptions=False)
    return result.exit_code, result.stdout


def _edit(root: Path, relative: str, old: str, new: str) -> str:
    path = root / relative
    text = path.read_text()
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1))
    return path.read_text()


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def with_a_warning(root: Path) -> int:
    """A streaming silver table with keys and no dedupe: a warning (`lint`); returns the line of `keys:`."""
    text = _edit(root, "tables/silver/bars.yaml", "dedupe:\n  sequence_by: _ingested_at\n", "")
    return _line_of(text, "keys:")


def with_an_error(root: Path) -> int:
    """An unknown key in a gold spec; returns its line."""
    text = _edit(root, "tables/gold/daily_bars.yaml", "expectations:", "expectatons:")
    return _line_of(text, "expectatons:")


def test_strict_fails_on_warnings_only_when_asked(market_project: Path) -> None:
    with_a_warning(market_project)
    code, out = run("--project", str(market_project))
    assert code == 0 and "valid, 1 warning(s)" in out
    code, out = run("--project", str(market_project), "--strict")
    assert code == 1, out
    assert "valid, 1 warning(s) (--strict: they fail)" in out
    for fmt in ("json", "github", "sarif", "junit"):
        assert run("--project", str(market_project), "--strict", "--format", fmt)[0] == 1, fmt
        assert run("--project", str(market_project), "--format", fmt)[0] == 0, fmt


def test_strict_passes_a_clean_project(market_project: Path) -> None:
    code, out = run("--project", str(market_project), "--strict")
    assert code == 0 and out.rstrip().endswith("environment(s): valid")


def test_sarif_locates_every_finding_with_its_rule(market_project: Path) -> None:
    warning_line = with_a_warning(market_project)
    error_line = with_an_error(market_project)
    code, out = run("--project", str(market_project), "--format", "sarif")
    assert code == 1
    log = json.loads(out)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (sarif_run,) = log["runs"]
    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "medallion" and driver["version"]
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids)), "one rule per finding code"
    by_file = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r for r in sarif_run["results"]}
    assert set(by_file) == {"tables/silver/bars.yaml", "tables/gold/daily_bars.yaml"}
    warning, error = by_file["tables/silver/bars.yaml"], by_file["tables/gold/daily_bars.yaml"]
    assert (warning["level"], warning["ruleId"]) == ("warning", "lint")
    assert error["level"] == "error" and "unknown key `expectatons`" in error["message"]["text"]
    assert "hint: did you mean `expectations`?" in error["message"]["text"]
    for result, line in ((warning, warning_line), (error, error_line)):
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert location["region"] == {"startLine": line, "startColumn": 1}
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
    strict = json.loads(run("--project", str(market_project), "--format", "sarif", "--strict")[1])
    assert {r["level"] for r in strict["runs"][0]["results"]} == {"error"}, "--strict reports warnings as errors"


def test_sarif_regions_are_never_zero() -> None:
    """SARIF lines and columns start at 1; a finding about a whole file (line 0) still gets a valid region."""
    log = json.loads(format_sarif([Finding("databricks.yml", 0, 0, "whole file", code="bundle")]))
    assert log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"] == \
        {"startLine": 1, "startColumn": 1}


def test_junit_has_a_case_per_checked_file_and_fails_the_invalid_one(market_project: Path) -> None:
    with_a_warning(market_project)
    error_line = with_an_error(market_project)
    code, out = run("--project", str(market_project), "--format", "junit")
    assert code == 1
    root = ET.fromstring(out.encode())
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert "environments/local.yaml" in cases and "tables/bronze/bars_raw.yaml" in cases
    assert suite.get("tests") == str(len(cases)) == root.get("tests")
    assert suite.get("failures") == "1"
    failure = cases["tables/gold/daily_bars.yaml"].find("failure")
    assert failure is not None and failure.get("type") == "schema"
    assert failure.get("message").startswith(f"tables/gold/daily_bars.yaml:{error_line}:1: unknown key")
    warned = cases["tables/silver/bars.yaml"]
    assert warned.find("failure") is None and "warning: keys symbol" in warned.find("system-out").text
    assert cases["tables/bronze/bars_raw.yaml"].find("failure") is None
    strict = ET.fromstring(run("--project", str(market_project), "--format", "junit", "--strict")[1].encode())
    assert strict.find("testsuite").get("failures") == "2", "--strict fails the case with the warning too"


def test_junit_escapes_what_a_hostile_message_holds() -> None:
    text = format_junit([Finding("tables/a.yaml", 3, 2, 'bad <rule> & "quote"\x1b')], checked=["tables/a.yaml"])
    failure = ET.fromstring(text.encode()).find("testsuite/testcase/failure")
    assert 'bad <rule> & "quote"' in failure.get("message")
