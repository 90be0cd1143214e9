"""Medallion: declarative, YAML-driven lakehouse pipelines on Spark, Delta Lake and Databricks DLT.

The data path reads straight through the package:

    spec/        YAML files -> located documents -> typed model (TableSpec, Environment)
    validation/  JSON Schema + semantic + SQL checks -> Findings
    graph.py     dependency graph of tables (order, cycles, lineage)
    pipeline.py  the generic DLT registration: one code path turns every spec into a DLT dataset
    engine/      the local runtime that provides the DLT API on PySpark + delta-spark
    delta_log.py Delta transaction logs read in plain Python (no JVM): table existence, versions, stats
    collect/     market-data providers that fill the landing folder
    checks/      the quality-checks job
    jobs/        the local job DAG (collect -> pipeline -> checks), run history and alerts
    deploy/      Databricks asset bundle rendering and workspace operations
    docs/        the generated documentation site
    cli/         the `medallion` command
"""

__version__ = "0.1.0"
