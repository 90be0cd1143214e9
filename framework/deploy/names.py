"""The names the bundle gives its resources, in one place.

Rendering writes them into resources/<env>.yml and the workspace commands (`medallion status`,
`trigger`) look the deployed pipeline and job up by the same names, so the two can never disagree.
"""

from __future__ import annotations

import re

BUNDLE_NAME = "medallion"
"""The name of a project without medallion.yaml `name` in the workspace commands' defaults; the bundle
itself is named after the project (`Project.name`)."""
PACKAGE_NAME = "medallion"
"""The wheel's distribution name (pyproject `[project].name`), which the python_wheel_tasks import."""
PIPELINE_KEY = "medallion"
"""Key under resources.pipelines; the job's pipeline task references `${resources.pipelines.medallion.id}`."""
JOB_KEY = "medallion"
NOTEBOOK = "notebooks/medallion_pipeline.py"
"""The generic DLT notebook, relative to the project root."""
ENTRY_POINT = "medallion"
"""The console script (pyproject `[project.scripts]`) the job's python_wheel_tasks run."""
ARTIFACT_KEY = "medallion"
"""Key under `artifacts`: the project's wheel, built by the CLI at deploy time."""
RESOURCES_DIR = "resources"
ROOT_FILE = "databricks.yml"

DEV_PREFIX = re.compile(r"^\[dev [^\]]+\] ")
"""`mode: development` renames resources to `[dev <user>] <name>`."""


def pipeline_name(env_name: str, project: str = BUNDLE_NAME) -> str:
    """`<project>_<env>`: the pipeline's name (the project's name from medallion.yaml)."""
    return f"{project}_{env_name}"


def job_name(env_name: str, project: str = BUNDLE_NAME) -> str:
    return f"{project}_{env_name}_job"


def resource_file(env_name: str) -> str:
    """The rendered resource file of one environment (one bundle target)."""
    return f"{RESOURCES_DIR}/{env_name}.yml"


def matches_name(actual: str, rendered: str) -> bool:
    """True for the rendered name itself or its development-mode variant `[dev <user>] <name>`."""
    return actual == rendered or (DEV_PREFIX.match(actual) is not None and DEV_PREFIX.sub("", actual, 1) == rendered)
