# Databricks notebook source
# MAGIC %md
# MAGIC # Medallion: the generic DLT pipeline
# MAGIC
# MAGIC This one notebook is the pipeline's only library. It registers **every** table spec under
# MAGIC `tables/` as a DLT dataset, with the same `register_pipeline` function the local engine runs,
# MAGIC so what is deployed is what the tests execute.
# MAGIC
# MAGIC The bundle passes two settings in the pipeline `configuration` (see `resources/<env>.yml`):
# MAGIC
# MAGIC | key | value |
# MAGIC |---|---|
# MAGIC | `medallion.env` | the environment in `environments/` (dev, prod) |
# MAGIC | `medallion.project_root` | `${workspace.file_path}`: the synced bundle files (framework/, tables/, environments/) |
# MAGIC | `medallion.developer` | per-user targets only: `${workspace.current_user.short_name}`, whose schemas to publish to |
# MAGIC
# MAGIC Do not add table logic here: change `tables/*.yaml` and redeploy.

# COMMAND ----------

import sys


def pipeline_setting(key: str) -> str:
    """A value of the pipeline configuration, or a clear error naming what is missing."""
    value = spark.conf.get(key, None)  # noqa: F821 - `spark` is provided by the DLT runtime
    if not value:
        raise ValueError(f"pipeline configuration `{key}` is not set; deploy the pipeline with the "
                         "asset bundle (`medallion bundle render`, then `medallion deploy`)")
    return value


env_name = pipeline_setting("medallion.env")
project_root = pipeline_setting("medallion.project_root")
if project_root not in sys.path:
    sys.path.insert(0, project_root)

from framework.pipeline import DATABRICKS_DP_API, register_pipeline  # noqa: E402 - importable once the path is set
from framework.spec.environment import DEVELOPER_VARIABLE  # noqa: E402

developer = spark.conf.get("medallion.developer", None)  # noqa: F821
if developer:  # a per-user development target: this developer's own schemas (databricks.per_user_schemas)
    import os

    os.environ[DEVELOPER_VARIABLE] = developer

# COMMAND ----------

# Databricks' `pyspark.pipelines` (dp) where the runtime has it; open-source pyspark ships a module of the same
# name without expectations, so it is chosen by what it offers. Older runtimes have the legacy `dlt` module.
try:
    from pyspark import pipelines as dp
except ImportError:
    dp = None
if dp is None or not all(hasattr(dp, name) for name in DATABRICKS_DP_API):
    import dlt as dp  # noqa: E402

registered = register_pipeline(dp, spark, project_root, env_name)  # noqa: F821
print(f"medallion: registered {len(registered)} dataset(s) for environment `{env_name}` with "
      f"`{getattr(dp, '__name__', type(dp).__name__)}`: "
      f"{', '.join(registered)}")
