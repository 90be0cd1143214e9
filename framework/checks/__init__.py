"""The quality-checks job: reads the tables and the event log after the pipeline and judges them
against thresholds declared in YAML (environment `checks:` and spec `quality:`)."""
