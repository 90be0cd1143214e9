"""The quality-checks job: reads the tables and the event log after the pipeline and judges them
against the checks the specs declare (`checks:`; environment `checks:` for defaults, spec `quality:`
for expectation pass rates).

    context.py      CheckContext: what a check reads through (names from TableRef; a missing table is a FAIL)
    reader.py       TableReader: the typed questions a check asks of tables and the event log, and their semantics
    arrow_reader.py ArrowReader: the local runtime's answers from the Delta folders (deltalake + pyarrow, no JVM)
    spark_reader.py SparkReader: the answers of a SparkSession (a Databricks cluster's, Unity Catalog names)
    suite.py        the built-in kinds (freshness, volume, unique, reconciliation, expectations) and the runner
    kinds.py        project check kinds (`check_kinds:`, name -> module:function) imported from the project root
    reconcile.py    reconciliation by key, from the tables (Spark SQL: it re-applies the specs' transforms)
    memo.py         the local runtime's memo of reconciliations, keyed by the statement and the Delta versions
    results.py      CheckResult, CheckReport (terminal table, JSON, exit code)
    session.py      the SparkSession per runtime, started lazily: the local engine's, or a Databricks cluster's own
"""
