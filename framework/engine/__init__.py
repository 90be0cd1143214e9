"""The local runtime: the DLT API on embedded PySpark + Delta Lake (see docs/engine.md).

    dlt_api.py     LocalDLT — the `dlt` module's API, recording the dataflow graph
    runner.py      run_pipeline(project, env, ...) -> RunResult: one update (triggered or continuous)
    continuous.py  continuous mode: long-running streams, view refresh, periodic OPTIMIZE
    flows.py       one flow, micro-batch by micro-batch: expectations, quarantine, exactly-once writes
    autoloader.py  Auto Loader stand-in: landing files, rescued data, schema evolution
    event_log.py   the DLT-shaped event log (ops.event_log) and table_metrics()
    tables.py      Delta tables from dataset definitions; OPTIMIZE / Z-order
    spark.py       the environment's SparkSession (spark_session / build_session)
    session.py     spark_session(project, env) / event_log_name(env) for jobs
    storage.py     on-disk layout of an environment
    jars.py        Delta jars via local ~/.m2, mvn or Spark/Ivy (python -m framework.engine.jars)
    metrics.py     row counts of a flow

Importing this package does not import pyspark; the modules do when they run Spark.
"""
