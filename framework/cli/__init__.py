"""The `medallion` command.

Each subcommand lives in its own module and is imported only when it runs (click's lazy-group
pattern), so `medallion validate` never pays for pyspark, databricks-sdk or pandas imports.
Every deliberate error is a `framework.errors.MedallionError`: the group catches it once, prints its
message as one `error:` line and exits with its `exit_code` — commands do not catch them one by one.
The same place turns a missing local engine (an engine command in a plain `pip install medallion`,
without the `local` extra) into one line naming `pip install "medallion[local]"`, exit code 2.

`main` is also the entry point of the Databricks job's python_wheel_tasks, which call it in the
cluster's (or serverless environment's) Python process from the installed wheel, not as a console
script: so it imports what it uses explicitly (`importlib.util` is not loaded by `import importlib`;
only an editable install's import hook happened to load it) and ends a successful command by
returning 0, never with `sys.exit(0)`/`SystemExit` (docs/databricks.md, "Job tasks and exit codes").
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re

import click

from framework import __version__
from framework.errors import MedallionError
from framework.spec.environment import DEVELOPER_VARIABLE

COMMANDS: dict[str, str] = {
    # spec and project
    "init": "framework.cli.init:init",
    "validate": "framework.cli.validate:validate",
    "list": "framework.cli.listing:list_tables",
    "lineage": "framework.cli.lineage:lineage",
    "diff": "framework.cli.diff:diff",
    "new": "framework.cli.scaffold:new",
    # local engine
    "run": "framework.cli.run:run",
    "history": "framework.cli.delta_ops:history",
    "restore": "framework.cli.delta_ops:restore",
    "prune": "framework.cli.prune:prune",
    "sql": "framework.cli.delta_ops:sql",
    # the job
    "task": "framework.cli.task:task",
    "check": "framework.cli.check:check",
    "job": "framework.cli.job:job",
    "runs": "framework.cli.runs:runs",
    # Databricks
    "bundle": "framework.cli.bundle:bundle",
    "deploy": "framework.cli.databricks:deploy",
    "status": "framework.cli.databricks:status",
    "trigger": "framework.cli.databricks:trigger",
    # documentation
    "docs": "framework.cli.docs:docs",
}


SHORT_HELP_LIMIT = 300
"""Characters of a command's first help sentence shown by `medallion --help` (the formatter wraps them)."""


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _available(name)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not _available(name):
            return None
        module_name, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command with its whole first sentence (click cuts it at the terminal width with `...`)."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=SHORT_HELP_LIMIT)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except MedallionError as exc:
            from framework.cli.common import fail

            fail(str(exc), exc.exit_code)
        except ImportError as exc:
            # The engine commands without the `local` extra: one line naming it (exit 2), never a traceback.
            from framework.cli.common import EXIT_USAGE, fail, missing_local_engine

            message = missing_local_engine(exc)
            if message is None:
                raise
            fail(message, EXIT_USAGE)


def _available(name: str) -> bool:
    return importlib.util.find_spec(COMMANDS[name].split(":")[0]) is not None


DEVELOPER_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def _developer(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    if not DEVELOPER_NAME.match(value):
        raise click.BadParameter(f"{value!r} is not a short name (letters, digits, _)")
    os.environ[DEVELOPER_VARIABLE] = value
    return value


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="medallion")
@click.option("--developer", metavar="SHORT_NAME", callback=_developer, expose_value=False, is_eager=True,
              help="Use this developer's own schemas in an environment with `databricks.per_user_schemas` "
                   "(the dev job's tasks pass ${workspace.current_user.short_name}).")
def cli() -> None:
    """Medallion: declarative YAML table specs -> Delta Live Tables pipelines, locally and on Databricks.

    Every table is one YAML file in tables/<layer>/<name>.yaml; environments/ says where it runs.
    """


def main(args: list[str] | None = None) -> int:
    """Run `medallion`; return 0 on success, raise `SystemExit(code)` with a non-zero code on failure.

    Click's standalone mode would end every run, successful ones too, with `sys.exit(code)`. Here the
    group runs in non-standalone mode: success returns 0 (the console script's `sys.exit(main())`
    exits 0 locally, and a wheel task's in-process call simply returns); a usage error, a failed
    command (`fail()` exits non-zero) or an abort raises `SystemExit` with its code, which is how a
    python_wheel_task reports failure.
    """
    try:
        result = cli.main(args=args, prog_name="medallion", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        raise SystemExit(1) from None
    except SystemExit as exc:
        code = _exit_code(exc.code)
        if code:
            raise
        return 0
    code = result if isinstance(result, int) and not isinstance(result, bool) else 0
    if code:
        raise SystemExit(code)
    return 0


def _exit_code(code: object) -> int:
    """SystemExit's code as a process exit status: None is 0, a message is 1."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1
