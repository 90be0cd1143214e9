"""The local runtime: the DLT API on embedded PySpark + Delta Lake (see docs/engine.md).

    runner.py      run_pipeline(project, env, ...) -> RunResult: one update, triggered or continuous
    update.py      Update: plan the flows, reset, log the update; what both run modes share
    triggered.py   triggered mode: every selected flow once, from the graph's ready queue
    continuous.py  continuous mode: long-running streams, view refresh, periodic OPTIMIZE
    plan.py        declared datasets -> flows; --tables / --full-refresh selection (dbt's + operators)
    pending.py     what a selection leaves behind: upstreams with unprocessed input
    flows.py       one flow, micro-batch by micro-batch: expectations, quarantine, exactly-once writes
    materialize.py materialized views: recompute only when their inputs or definition changed
    retry.py       when a failed flow is tried again, and after how long
    results.py     FlowStatus, UpdateStatus, FlowResult, RunResult, RunListener
    metrics.py     row counts of a flow
    dlt_api.py     LocalDLT — the `dlt` module's API, recording the dataflow graph
    autoloader.py  Auto Loader stand-in: landing files, rescued data, schema evolution, settle gate
    tables.py      Delta tables from dataset definitions; the event log table; OPTIMIZE / Z-order
    spark.py       the environment's SparkSession (spark_session / build_session), started without a banner
    storage.py     on-disk layout of an environment and its run lock
    jars.py        Delta jars via the local Maven repository, mvn or Spark/Ivy (python -m framework.engine.jars)

The event log's shape, writer and readers are framework/eventlog; table names and folders are
framework/naming.py. Importing this package does not import pyspark; the modules do when they run Spark.
"""
