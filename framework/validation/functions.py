"""Spark's built-in SQL functions per Spark line, shipped as data so validation can name them offline.

`validate` must never start a JVM, yet "is `try_parse_json` a function?" depends on the Spark line that
runs the SQL: Databricks Runtime 16.4 is Spark 3.5, 17.3 is Spark 4.0, the local engine is Spark 4.2
(framework/spec/runtimes.py, the one table of runtimes). So each line's answer is captured once, as a
file in the package (`data/spark_functions_<line>.txt`: one name per line, a header naming the pyspark
version it came from), by a command that does start Spark — in any Python that has that pyspark:

    python -m framework.validation.functions --refresh                      # the pinned pyspark (4.2)
    python -m framework.validation.functions --refresh --python /tmp/pyspark-3.5/bin/python

`--python` runs only the listing itself in the other interpreter (a throw-away virtualenv with
`pyspark==3.5.*`), so it needs nothing of this project installed there. A test compares the engine's
file with the pinned pyspark version, so a version bump without a refresh fails the suite.

Each environment targets one runtime; `function_targets` turns the environments being validated into the
lines to check, and `check_function` says, per call, which of them lacks the function. Each list is read
once, the first time a line is asked for.
"""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from framework.files import write_atomically
from framework.spec.runtimes import LOCAL_ENGINE_LINE, RUNTIMES

if TYPE_CHECKING:
    from framework.spec.environment import Environment

DATA_DIR = Path(__file__).resolve().parent / "data"
ENGINE_LINE = LOCAL_ENGINE_LINE
"""The line of the pinned pyspark (the local engine), checked when no environment is known."""
HEADER = "# Spark SQL built-in functions (SHOW SYSTEM FUNCTIONS) of pyspark {version}."
REFRESH_COMMAND = "python -m framework.validation.functions --refresh [--python <python with that pyspark>]"
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_LINE = re.compile(r"^(\d+)\.(\d+)")
PARSER_FUNCTIONS = frozenset({"cast", "try_cast", "extract", "position", "substring", "substr", "trim", "overlay",
                              "struct", "first", "last", "any_value", "timestampadd", "dateadd", "date_add",
                              "timestampdiff", "datediff", "date_diff", "timediff", "identifier",
                              "percentile_cont", "percentile_disc"})
"""Calls Spark's SQL grammar handles itself (`timestampadd(HOUR, 1, ts)`, `IDENTIFIER('t')`...): some are
not in the function registry that SHOW FUNCTIONS lists, yet they are valid SQL.
Only names that can be written as `name(...)`: the registry also lists operators (`+`, `<=>`...)."""

_LIST_SCRIPT = """
import json, sys
from importlib import metadata
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").appName("medallion-functions")
         .config("spark.ui.enabled", "false").getOrCreate())
try:
    names = sorted({row[0].lower() for row in spark.sql("SHOW SYSTEM FUNCTIONS").collect()})
finally:
    spark.stop()
json.dump({"version": metadata.version("pyspark"), "names": names}, sys.stdout)
"""
"""Run by the interpreter that has the pyspark to list (`--python`), so it imports nothing of ours."""


def data_file(line: str) -> Path:
    return DATA_DIR / f"spark_functions_{line}.txt"


DATA_FILE = data_file(ENGINE_LINE)


def spark_line(version: str) -> str:
    """`3.5.9` -> `3.5`."""
    match = _LINE.match(version)
    if match is None:
        raise ValueError(f"`{version}` is not a Spark version like 3.5.2")
    return f"{match.group(1)}.{match.group(2)}"


@lru_cache(maxsize=None)
def spark_functions(line: str = ENGINE_LINE) -> frozenset[str]:
    """Lower-case names of every built-in function of a Spark line (read once per line)."""
    return frozenset(name.strip() for name in data_file(line).read_text(encoding="utf-8").splitlines()
                     if name.strip() and not name.startswith("#"))


def shipped_version(line: str = ENGINE_LINE) -> str:
    """The pyspark version a line's list was taken from (from the file's header)."""
    first = data_file(line).read_text(encoding="utf-8").split("\n", 1)[0]
    match = re.search(r"pyspark (\S+?)\.?$", first)
    return match.group(1) if match else "unknown"


@lru_cache(maxsize=1)
def shipped_lines() -> tuple[str, ...]:
    """The Spark lines with a shipped list, oldest first."""
    lines = [p.stem.rsplit("_", 1)[1] for p in DATA_DIR.glob("spark_functions_*.txt")]
    return tuple(sorted(lines, key=_line_key))


def _line_key(line: str) -> tuple[int, ...]:
    return tuple(int(part) for part in line.split("."))


def is_spark_function(name: str, line: str = ENGINE_LINE) -> bool:
    lowered = name.lower()
    return lowered in spark_functions(line) or lowered in PARSER_FUNCTIONS


def closest_function(name: str, lines: Iterable[str] = (ENGINE_LINE,)) -> str:
    """A "did you mean" hint for a misspelled function, or a pointer to the list."""
    lines = tuple(lines)
    known = sorted(set().union(*(spark_functions(line) for line in lines)))
    matches = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.75)
    if matches:
        return f"did you mean `{matches[0]}`?"
    files = ", ".join(data_file(line).name for line in lines)
    return f"Spark {' / '.join(lines)} has no such built-in function (the list{'s' if len(lines) > 1 else ''}: {files})"


# ------------------------------------------------------------------------ the environments' targets

@dataclass(frozen=True)
class FunctionTarget:
    """A Spark line some environments' SQL must run on, and why (for messages)."""

    line: str
    reasons: tuple[str, ...]
    """`the target runtime 16.4 of environment prod`, `the local engine (Spark 4.2) of environment local`."""

    def describe(self) -> str:
        return "; ".join(self.reasons)


def function_targets(environments: Iterable[Environment]) -> tuple[FunctionTarget, ...]:
    """The Spark lines the SQL of the given environments runs on, oldest first.

    Each environment's target runtime (its `databricks_runtime`); a local environment also runs on the
    local engine's own Spark. No environment at all: the engine's line (as before runtimes existed).
    """
    by_line: dict[str, dict[str, list[str]]] = {}
    for env in environments:
        target = env.target_runtime
        by_line.setdefault(target.spark_line, {}).setdefault(
            f"the target runtime {target.name}", []).append(env.name)
        if env.runtime == "local" and target.spark_line != ENGINE_LINE:
            by_line.setdefault(ENGINE_LINE, {}).setdefault(
                f"the local engine (Spark {ENGINE_LINE})", []).append(env.name)
    if not by_line:
        return (FunctionTarget(ENGINE_LINE, (f"the local engine (Spark {ENGINE_LINE})",)),)
    out = []
    for line in sorted(by_line, key=_line_key):
        reasons = tuple(f"{what} of environment{'s' if len(names) > 1 else ''} {', '.join(sorted(names))}"
                        for what, names in by_line[line].items())
        out.append(FunctionTarget(line, reasons))
    return tuple(out)


def check_function(name: str, targets: tuple[FunctionTarget, ...]) -> list[tuple[str, str]]:
    """(message, hint) for each problem with calling `name` on the targets; [] when every target has it."""
    lowered = name.lower()
    if lowered in PARSER_FUNCTIONS:
        return []
    missing = [t for t in targets if lowered not in spark_functions(t.line)]
    if not missing:
        return []
    if len(missing) == len(targets):
        return [(f"unknown function `{name}`", closest_function(name, [t.line for t in targets]))]
    return [(f"`{name}` is not in Spark {t.line} ({t.describe()})", _newer_hint(lowered, t)) for t in missing]


def _newer_hint(name: str, target: FunctionTarget) -> str:
    """Where the function exists: the runtimes whose Spark line has it."""
    runtimes = [r.name for r in RUNTIMES.values() if r.spark_line in shipped_lines()
                and name in spark_functions(r.spark_line)]
    where = (f"runtime{'s' if len(runtimes) > 1 else ''} {', '.join(runtimes)} "
             f"{'have' if len(runtimes) > 1 else 'has'} it") if runtimes else "no target runtime has it"
    return (f"{where}: use a function Spark {target.line} has, or target a runtime that has it "
            "(`databricks_runtime` in environments/)")


# ------------------------------------------------------------------------------------- refresh

def list_functions(python: str | None = None) -> tuple[str, list[str]]:
    """(pyspark version, callable function names) from a live Spark of `python` (default: this one).

    The one place in framework.validation allowed a JVM: it runs by hand after a pyspark upgrade, never
    during validation.
    """
    import json  # the refresh only: validation imports this module too
    import subprocess

    result = subprocess.run([python or sys.executable, "-c", _LIST_SCRIPT], capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"listing Spark's functions with {python or sys.executable} failed:\n{tail}")
    listed = json.loads(result.stdout.strip().splitlines()[-1])
    return listed["version"], [name for name in listed["names"] if _NAME.match(name)]


def refresh(python: str | None = None, path: Path | None = None, *,
            line: str | None = None) -> tuple[str, int, Path]:
    """List the functions of `python`'s pyspark and (re)write its line's file; (version, count, path).

    `line`: the Spark line the caller expects (`3.5`); a pyspark of another line raises ValueError.
    """
    version, names = list_functions(python)
    if line is not None and spark_line(version) != line:
        raise ValueError(f"{python or sys.executable} has pyspark {version}, not a {line}.x")
    line = spark_line(version)
    path = path or data_file(line)
    body = "\n".join([HEADER.format(version=version),
                      f"# Regenerate with `{REFRESH_COMMAND}` (a Python whose pyspark is {line}.x).", *names])
    write_atomically(path, body + "\n")
    spark_functions.cache_clear()
    shipped_lines.cache_clear()
    return version, len(names), path


def main(argv: list[str] | None = None) -> int:
    import argparse  # the command line only: validation imports this module too

    parser = argparse.ArgumentParser(description="Spark's built-in function lists used by `medallion validate`, "
                                                 "one per Spark line.")
    parser.add_argument("--refresh", action="store_true",
                        help="start Spark once and rewrite the list of its line (needs Java; takes ~20 s)")
    parser.add_argument("--python", metavar="PATH",
                        help="the Python whose pyspark to list, e.g. a throw-away venv with pyspark==3.5.* "
                             "(default: this one, the pinned pyspark)")
    parser.add_argument("--line", metavar="X.Y",
                        help="the Spark line the refresh must produce (a check on --python's pyspark)")
    parser.add_argument("--output", type=Path, metavar="FILE",
                        help="where to write (default: data/spark_functions_<line>.txt)")
    args = parser.parse_args(argv)
    if args.refresh:
        try:
            version, count, path = refresh(args.python, args.output, line=args.line)
        except (RuntimeError, ValueError) as error:
            parser.exit(1, f"error: {error}\n")
        print(f"wrote {count} function names of pyspark {version} to {path}")
        return 0
    for line in shipped_lines():
        print(f"Spark {line}: {len(spark_functions(line))} functions of pyspark {shipped_version(line)} "
              f"in {data_file(line)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
