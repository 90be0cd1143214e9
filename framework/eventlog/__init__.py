"""The pipeline event log: its shape, the local writer, and readers that give one typed history.

    schema.py    columns, event types and the events the local runtime writes (Databricks' documented
                 shape per flow kind; local-only numbers apart, in `details.medallion_local`)
    writer.py    EventLogWriter: one update's events, appended exactly once
    readers.py   read_with_spark | read_with_statements (Databricks SQL) | read_with_arrow -> EventHistory
                 (and the newest update: latest_update | latest_update_with_arrow)
    metrics.py   table_metrics, window_metrics, updates_since_reset, latest_with_data, quality_history,
                 update_summaries (one line per update, for `medallion runs`)

The local event log is the Delta table `ops.event_log`; on Databricks the pipeline publishes its own
(`databricks.event_log_table`). `framework.naming.TableRef.event_log(env)` names both.
"""

from framework.eventlog.metrics import (ExpectationMetrics, QualityHistory, RunQuality, TableMetrics, UpdateSummary,
                                        latest_with_data, quality_history, table_metrics, totals, update_summaries,
                                        updates_since_reset, window_metrics)
from framework.eventlog.readers import (EventHistory, ExpectationCount, FlowProgress, UpdateStart, events_sql,
                                        latest_update, latest_update_with_arrow, parse_events, parse_since,
                                        read_with_arrow, read_with_spark,
                                        read_with_statements, timestamp_literal)
from framework.eventlog.schema import (EVENT_LOG_COMMENT, EVENT_LOG_DDL, EXPECTATIONS_TYPE, LOCAL_DETAILS,
                                       LOCAL_FIELDS, EventType, FlowKind, Level, flow_progress_details,
                                       flow_status_details, pipeline_id)
from framework.eventlog.writer import EventLogWriter

__all__ = [
    "EVENT_LOG_COMMENT", "EVENT_LOG_DDL", "EXPECTATIONS_TYPE", "LOCAL_DETAILS", "LOCAL_FIELDS", "EventHistory",
    "EventLogWriter", "EventType", "ExpectationCount", "ExpectationMetrics", "FlowKind", "FlowProgress", "Level",
    "QualityHistory", "RunQuality", "TableMetrics", "UpdateStart", "UpdateSummary", "events_sql", "flow_progress_details",
    "flow_status_details", "latest_update", "latest_update_with_arrow", "latest_with_data", "parse_events", "parse_since", "pipeline_id",
    "quality_history", "read_with_arrow", "read_with_spark", "read_with_statements", "table_metrics",
    "timestamp_literal", "totals", "update_summaries", "updates_since_reset", "window_metrics",
]
