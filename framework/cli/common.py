"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable, NoReturn, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from framework.project import Project, find_project_root, load_project


def _console(stderr: bool = False) -> Console:
    """Rich wraps at 80 columns when output is not a terminal (CI logs, pipes); give tables room."""
    probe = Console(stderr=stderr)
    return Console(stderr=stderr, highlight=False, width=None if probe.is_terminal else 160)


console = _console()
err_console = _console(stderr=True)

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def env_option(default: str = "local") -> Callable:
    return click.option("--env", "env_name", default=default, show_default=True, metavar="NAME",
                        help="Environment from environments/<NAME>.yaml.")


def project_option() -> Callable:
    return click.option("--project", "project_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="Project root (default: the nearest folder with tables/).")


class FormatChoice(click.Choice):
    """A choice that also takes deprecated spellings (`--format table`) without listing them."""

    def __init__(self, choices: list[str], aliases: dict[str, str]):
        super().__init__(choices)
        self.aliases = aliases

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> object:
        return super().convert(self.aliases.get(str(value), value), param, ctx)


def format_option(*, aliases: dict[str, str] | None = None) -> Callable:
    """`--format text|json`: the one spelling of every command that prints results."""
    return click.option("--format", "output_format", type=FormatChoice(["text", "json"], aliases or {}),
                        default="text", show_default=True, help="text for people, json for tools.")


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    """One `error:` line on stderr, then exit (the message is shown as written, never as markup)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    sys.exit(code)


LOCAL_ENGINE_MODULES = frozenset({"pyspark", "delta", "py4j", "pandas", "pyarrow"})
"""What the `local` extra installs (pyproject.toml): a plain `pip install medallion` has none of them."""
LOCAL_EXTRA = 'pip install "medallion[local]"'


def missing_local_engine(exc: ImportError) -> str | None:
    """The one-line message for a command that needs the `local` extra, when `exc` is the import of one of its
    modules failing (None for any other import error, which is a real defect and keeps its traceback)."""
    name = getattr(exc, "name", None) or ""
    if not isinstance(exc, ModuleNotFoundError) or name.split(".")[0] not in LOCAL_ENGINE_MODULES:
        return None
    return engine_missing(name)


def engine_missing(module: str) -> str:
    return (f"this command needs the local engine (pyspark, delta-spark, pandas, pyarrow; `{module}` is not "
            f"installed): {LOCAL_EXTRA}")


REQUIRED_ENGINE = ("pyspark", "delta")
"""The modules every local-engine command starts with (pyspark and delta-spark)."""
_Command = TypeVar("_Command", bound=Callable[..., Any])


def requires_local_engine(command: _Command) -> _Command:
    """Stop an engine command (`run`, `sql`, `history`, ...) before it starts when the `local` extra is missing:
    one line naming `pip install "medallion[local]"`, exit code 2. (`--help` still works: only running checks.)
    A module imported later that is still missing is caught once, by the group (`missing_local_engine`)."""

    @functools.wraps(command)
    def checked(*args: Any, **kwargs: Any) -> Any:
        missing = [m for m in REQUIRED_ENGINE if importlib.util.find_spec(m) is None]
        if missing:
            fail(engine_missing(missing[0]), EXIT_USAGE)
        return command(*args, **kwargs)

    return checked  # type: ignore[return-value]


def load_valid_project(project_dir: Path | None, env_name: str | None) -> Project:
    """Load the project and stop with located errors if any spec is invalid."""
    project = load_project(project_dir or find_project_root(), env=env_name)
    if project.errors:
        for finding in project.errors:
            err_console.print(finding.render(), markup=False, soft_wrap=True)
        fail(f"{len(project.errors)} error(s) in specs; run `medallion validate` for details")
    if env_name and env_name not in project.environments:
        fail(f"unknown environment `{env_name}` (known: {', '.join(sorted(project.environments))})", EXIT_USAGE)
    return project
