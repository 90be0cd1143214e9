"""The quality-checks job: reads the tables and the event log after the pipeline and judges them
against the checks the specs declare (`checks:`; environment `checks:` for defaults, spec `quality:`
for expectation pass rates).

    context.py   CheckContext: what a check reads through (names from TableRef; a missing table is a FAIL)
    suite.py     the built-in kinds (freshness, volume, unique, reconciliation, expectations) and the runner
    kinds.py     project check kinds (`check_kinds:`, name -> module:function) imported from the project root
    reconcile.py reconciliation by key, from the tables
    results.py   CheckResult, CheckReport (terminal table, JSON, exit code)
    session.py   the SparkSession per runtime: the local engine's, or a Databricks cluster's own
"""
