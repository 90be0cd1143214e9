"""Engine commands without the `local` extra: one line naming `pip install "medallion[local]"`, exit code 2.

The installed-wheel test (test_installed_package.py) proves it in a real plain install; these pin the two
places that decide it, in this virtualenv (which has the extra) by hiding the engine's modules.
"""

from __future__ import annotations

import importlib.util

import pytest
from click.testing import CliRunner

from framework.cli import cli
from framework.cli.common import missing_local_engine

EXTRA = 'pip install "medallion[local]"'


def test_a_missing_engine_module_is_named_other_import_errors_are_not():
    assert EXTRA in missing_local_engine(ModuleNotFoundError("No module named 'pyspark'", name="pyspark"))
    assert "`pyarrow.parquet`" in missing_local_engine(ModuleNotFoundError("x", name="pyarrow.parquet"))
    assert missing_local_engine(ModuleNotFoundError("x", name="sqlglot")) is None, "a broken install is a defect"
    assert missing_local_engine(ImportError("cannot import name 'x' from 'pyspark'", name="pyspark")) is None


@pytest.mark.parametrize("args", [["run"], ["sql", "SELECT 1"], ["history", "bars"], ["restore", "bars"], ["job"]])
def test_engine_commands_stop_before_starting(monkeypatch: pytest.MonkeyPatch, args: list[str]):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "delta" else real(name, *a))
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and line.endswith(EXTRA) and "`delta` is not installed" in line
