"""`medallion task KEY --env ENV [ARGS]...`: run one of the project's own job tasks (medallion.yaml).

The local job (framework/jobs/runner.py) and the Databricks job (a python_wheel_task of the `medallion`
entry point) both run a project task through this command, so it behaves alike in both. `--env` and
`--project` are this command's; every other argument goes to the task's callable.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from framework.cli.common import EXIT_USAGE, env_option, err_console, fail, project_option
from framework.jobs.tasks import declared_task, run_task
from framework.project import find_project_root, load_project


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": True,
                                 "help_option_names": []})
@click.argument("key", required=False)
@env_option()
@project_option()
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def task(ctx: click.Context, key: str | None, env_name: str, project_dir: Path | None, args: tuple[str, ...]) -> None:
    """Run one of the project's own job tasks (medallion.yaml `job.tasks`), as the job runs it.

    `medallion task KEY --help` shows the task's own options; without KEY, the project's tasks are listed.
    Its exit code is the task's.
    """
    project = load_project(project_dir or find_project_root(), env=env_name)
    if key is None or key in ("-h", "--help"):
        click.echo(ctx.get_help())
        tasks = project.settings.project_tasks
        click.echo("\nProject tasks:" if tasks else "\nThis project declares no tasks (medallion.yaml job.tasks).")
        for declared in tasks:
            click.echo(f"  {declared.key:<16} {declared.run}")
        return
    declared_task(project, key)  # an unknown task is a usage error, before anything else is looked at
    own_files = {d.file for e in project.environments.values() for d in e.documents}
    if project.settings.document is not None:
        own_files.add(project.settings.document.file)
    problems = [f for f in project.errors if f.file in own_files or f.file.startswith("environments")]
    for finding in problems:
        err_console.print(finding.render(), markup=False, soft_wrap=True)
    if env_name not in project.environments:
        known = ", ".join(sorted(project.environments)) or "none"
        fail(f"environment `{env_name}` is missing or invalid (valid: {known})", EXIT_USAGE)
    if problems:
        fail(f"{len(problems)} error(s) in medallion.yaml or environments/; run `medallion validate`", EXIT_USAGE)
    code = run_task(project, project.environment(env_name), key, list(args))
    sys.exit(code)
