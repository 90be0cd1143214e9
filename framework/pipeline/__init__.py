"""The generic DLT pipeline: one code path turns every table spec into DLT datasets.

This package is written against the declarative-pipelines Python API and nothing else. The Databricks
notebook calls `register_pipeline(dp, spark, project_root, env_name)` with the runtime's module:
Databricks' `pyspark.pipelines` (imported as `dp`) or, on older runtimes, the legacy `dlt` module; the
local runtime (`framework.engine`) calls it with an object that has the same API and records the
dataflow graph, then executes it on PySpark + Delta.

One concern a module, in the order the data path reads them:

| module | what it holds |
|---|---|
| `api` | the pipelines module's names (`dp` vs legacy `dlt`) |
| `declare` | `register_pipeline` / `register_tables` / `register_table`: spec → datasets, expectations, AUTO CDC, quarantine |
| `query` | `QueryBuilder`: source → transform → conform; Databricks' Auto Loader reader |
| `conform` | declared order and types, never a silent NULL |
| `ddl` | output columns, schema DDL, table options |
| `rows` | row-level helpers the local engine shares: rule checks, quarantine rows, latest row per key |
| `hints` | what the local engine adds over the DLT API, typed (`hints_of(function)`) |

The public names are re-exported here; import them from `framework.pipeline`.
"""

from framework.naming import QUARANTINE_OF_PROPERTY
from framework.pipeline.api import DATABRICKS_DP_API, LEGACY_DLT_NAMES, ApiNames
from framework.pipeline.conform import (CAST_ERROR_TEXT, TYPE_CHECK_EXPECTATION, TYPE_CHECK_RULE, TYPE_ERRORS_COLUMN,
                                        conform, typed_column)
from framework.pipeline.ddl import column_ddl, output_columns, quarantine_schema_ddl, schema_ddl, table_options
from framework.pipeline.declare import (TYPED_SUFFIX, Registration, published_names, register_pipeline,
                                        register_table, register_tables)
from framework.pipeline.hints import IncrementalHint, LocalHints, SplitHint, hints_of
from framework.pipeline.query import FileReader, QueryBuilder, auto_loader
from framework.pipeline.rows import failed_rules, latest_per_key, passes, quarantine_rows

__all__ = [
    "ApiNames", "CAST_ERROR_TEXT", "DATABRICKS_DP_API", "FileReader", "IncrementalHint", "LEGACY_DLT_NAMES",
    "LocalHints", "QUARANTINE_OF_PROPERTY", "QueryBuilder", "Registration", "SplitHint", "TYPED_SUFFIX",
    "TYPE_CHECK_EXPECTATION", "TYPE_CHECK_RULE", "TYPE_ERRORS_COLUMN", "auto_loader", "column_ddl", "conform",
    "failed_rules", "hints_of", "latest_per_key", "output_columns", "passes", "published_names",
    "quarantine_rows", "quarantine_schema_ddl", "register_pipeline", "register_table", "register_tables",
    "schema_ddl", "table_options", "typed_column",
]
