"""The script the bundle's Python job tasks run: `medallion <args>` from the synced bundle files.

The job's collect, quality-checks (and, for continuous environments, pipeline) tasks are
`spark_python_task`s on this file with parameters `--project-root ${workspace.file_path} <command> ...`.
Running the CLI from the synced files, rather than from a wheel, keeps the Databricks Runtime's own
pyspark untouched (our wheel pins pyspark for the local engine) and deploys exactly the committed code.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[0] != "--project-root":
        sys.exit("usage: entrypoint.py --project-root <bundle files path> <medallion command> [args...]")
    root, args = argv[1], argv[2:]
    if root not in sys.path:
        sys.path.insert(0, root)
    os.chdir(root)  # commands find the project (tables/, environments/) from the working directory
    from framework.cli import cli

    cli.main(args=args, prog_name="medallion")


if __name__ == "__main__":
    main(sys.argv[1:])
