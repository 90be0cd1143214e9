"""Expectation metrics from a Databricks pipeline's published event log, as one SQL statement.

`medallion status` sends this through the SQL statement execution API (no Spark on the client), so
it is plain SQL over the DLT event-log shape, where `details` is a JSON string. The local checks job
reads the local log through `framework.engine.event_log.table_metrics` instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from framework.engine.event_log import EXPECTATIONS_TYPE, ExpectationMetrics


def expectation_totals_sql(event_log: str) -> str:
    """Passed/failed records per (dataset, expectation) in each dataset's latest update with data."""
    return f"""
    WITH flows AS (
      SELECT origin.update_id AS update_id, timestamp,
             explode(from_json(get_json_object(details, '$.flow_progress.data_quality.expectations'),
                               '{EXPECTATIONS_TYPE}')) AS e
      FROM {event_log}
      WHERE event_type = 'flow_progress'
        AND get_json_object(details, '$.flow_progress.data_quality.expectations') IS NOT NULL
    ),
    per_update AS (
      SELECT e.dataset AS dataset, e.name AS expectation, update_id, max(timestamp) AS ts,
             sum(e.passed_records) AS passed, sum(e.failed_records) AS failed
      FROM flows GROUP BY e.dataset, e.name, update_id
    ),
    latest AS (
      SELECT dataset, max_by(update_id, ts) AS update_id
      FROM per_update WHERE passed + failed > 0 GROUP BY dataset
    )
    SELECT p.dataset, p.expectation, p.passed, p.failed
    FROM per_update p JOIN latest l ON p.dataset = l.dataset AND p.update_id = l.update_id
    ORDER BY p.dataset, p.expectation
    """


@dataclass
class ExpectationTotal(ExpectationMetrics):
    """An expectation's counts in the latest update that checked it, with the dataset it belongs to."""

    dataset: str = ""

    @property
    def expectation(self) -> str:
        return self.name
