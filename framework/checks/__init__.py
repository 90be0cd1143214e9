"""The quality-checks job: reads the tables and the event log after the pipeline and judges them
against thresholds declared in YAML (environment `checks:` and spec `quality:`).

    suite.py     the checks over a CheckContext (names from TableRef; a missing table is a FAIL)
    results.py   CheckResult, CheckReport (terminal table, JSON, exit code)
    session.py   the SparkSession per runtime: the local engine's, or a Databricks cluster's own
"""
