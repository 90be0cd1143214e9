"""The names of the pipelines module `register_table` declares datasets with.

Databricks offers the declarative-pipelines Python API as `pyspark.pipelines` (imported as `dp`) and,
on older runtimes, as the legacy `dlt` module. The two name three things differently: a batch dataset
is `dp.materialized_view` / `dlt.table`, a view `dp.temporary_view` / `dlt.view`, AUTO CDC
`dp.create_auto_cdc_flow` / `dlt.apply_changes`. `ApiNames.of(module)` picks by what the module offers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from framework.spec.model import TableSpec

DATABRICKS_DP_API = ("table", "materialized_view", "temporary_view", "create_streaming_table",
                     "create_auto_cdc_flow", "expect_all", "expect_all_or_drop", "expect_all_or_fail")
"""What Databricks' `pyspark.pipelines` offers and this package calls. Open-source pyspark (4.1+) ships a
`pyspark.pipelines` too, without expectations: the notebook uses a module only if it has all of these."""


@dataclass(frozen=True)
class ApiNames:
    """The names called on the pipelines module: `dp` names when it has them (Databricks'
    `pyspark.pipelines`, the local engine), else the legacy `dlt` ones."""

    streaming_table: str = "table"
    materialized_view: str = "materialized_view"
    view: str = "temporary_view"
    auto_cdc: str = "create_auto_cdc_flow"

    @classmethod
    def of(cls, dlt: Any) -> "ApiNames":
        if all(hasattr(dlt, name) for name in DATABRICKS_DP_API):
            return cls()
        return LEGACY_DLT_NAMES

    def dataset(self, dlt: Any, spec: TableSpec) -> Callable[..., Any]:
        """The decorator factory for the spec's table: streaming table or materialized view."""
        return getattr(dlt, self.streaming_table if spec.is_streaming else self.materialized_view)

    def view_decorator(self, dlt: Any) -> Callable[..., Any]:
        return getattr(dlt, self.view)

    def auto_cdc_function(self, dlt: Any) -> Callable[..., Any]:
        return getattr(dlt, self.auto_cdc)


LEGACY_DLT_NAMES = ApiNames(streaming_table="table", materialized_view="table", view="view",
                            auto_cdc="apply_changes")
"""The `dlt` module (Databricks Runtime before pyspark.pipelines; the `databricks-dlt` stub package)."""
