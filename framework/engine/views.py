"""Views (`kind: view`): not materialized, but their expectations act as a table's do.

A DLT view is recomputed inside each flow that reads it, and its expectations act on the rows it gives
that flow: `drop` removes them, `fail` stops the flow, `warn` counts them in the event log ("Manage data
quality with pipeline expectations": expectations apply to views as to tables). Locally a view is a
temporary view that downstream queries read by name, so:

* `drop` rules filter the view's rows;
* `fail` rules guard every row with `raise_error`: whichever flow reads a violating row fails with the
  rule, the view and the row, and is not retried (`ViewExpectationViolation`);
* for a batch view the rules are counted once when it is registered — one aggregate pass — and logged
  as the view's flow progress; a violated `fail` rule then fails the view's own flow up front with the
  same message a table's would (`ExpectationViolation`). A streaming view's rows only exist inside the
  flows that read it, so its `warn` counts are not logged locally (documented in
  docs/databricks-fidelity.md); its `drop` and `fail` rules act all the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from framework.engine.dlt_api import Dataset
from framework.engine.metrics import FlowMetrics
from framework.errors import ExpectationViolation
from framework.pipeline import passes

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

VIEW_EXPECTATION_TEXT = "was violated by a row of view"
"""In the message `raise_error` stops a flow with; framework.engine.retry maps it to ViewExpectationViolation."""
SAMPLE_CHARS = 500


def with_expectations(df: "DataFrame", dataset: Dataset) -> "DataFrame":
    """The view's rows as its readers see them: `drop` rules filter, `fail` rules raise on a violating row."""
    from pyspark.sql import functions as F

    for expectation in dataset.expectations:
        if expectation.action == "drop":
            df = df.where(passes(expectation.rule))
    fail = [e for e in dataset.expectations if e.action == "fail"]
    if fail:
        row = F.substring(F.to_json(F.struct(*[F.col(f"`{c}`") for c in df.columns])), 1, SAMPLE_CHARS)
        for expectation in fail:
            message = F.concat(F.lit(f"expectation `{expectation.name}` ({expectation.rule}) {VIEW_EXPECTATION_TEXT} "
                                     f"{dataset.name}: "), row)
            df = df.where(F.when(~passes(expectation.rule), F.raise_error(message)).otherwise(F.lit(True)))
    return df


def count_expectations(df: "DataFrame", dataset: Dataset) -> FlowMetrics:
    """One aggregate pass over a batch view: rows, and passed/failed per rule; raises on a `fail` rule."""
    from pyspark.sql import functions as F

    rules = list(dataset.expectations)
    failing = [F.sum(F.when(~passes(e.rule), 1).otherwise(0)).alias(f"r{i}") for i, e in enumerate(rules)]
    keep = F.lit(True)
    for expectation in rules:
        if expectation.action == "drop":
            keep = keep & passes(expectation.rule)
    totals = df.select(F.count(F.lit(1)).alias("rows"), F.sum(F.when(keep, 0).otherwise(1)).alias("dropped"),
                       *failing).first()
    rows = int(totals["rows"])
    metrics = FlowMetrics(input_rows=rows, dropped_rows=int(totals["dropped"] or 0), batches=1)
    metrics.output_rows = metrics.written_rows = rows - metrics.dropped_rows
    for i, expectation in enumerate(rules):
        failed = int(totals[f"r{i}"] or 0)
        metrics.expectations[expectation.name] = [rows - failed, failed]
        if expectation.action == "fail" and failed:
            sample = df.where(~passes(expectation.rule)).first().asDict()
            raise ExpectationViolation(dataset.name, expectation.name, expectation.rule, failed,
                                       {k: (str(v)[:100] if v is not None else None) for k, v in sample.items()})
    return metrics
