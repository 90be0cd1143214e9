"""Medallion: declarative, YAML-driven lakehouse pipelines on Spark, Delta Lake and Databricks DLT.

The data path reads straight through the package (docs/architecture.md says what each layer may import):

    errors.py     every exception, under MedallionError
    findings.py   located, actionable messages about specs
    spec/         YAML files -> located documents -> typed model (TableSpec, Environment, ProjectSettings, Project)
    naming.py     TableRef: a table's published name, storage folder, checkpoint, quarantine, event log
    graph.py      dependency graph of tables: order, cycles, lineage, the ready queue of an update
    sql.py        SQL text helpers shared by validation and the pipeline
    validation/   JSON Schema + semantic + SQL checks -> Findings
    project.py    load & validate -> Project
    pipeline/     the generic DLT registration: one code path turns every spec into a DLT dataset
    eventlog/     the pipeline event log: shape, local writer, readers (Spark, Databricks SQL, Arrow)
    engine/       the local runtime that provides the DLT API on PySpark + delta-spark
    delta_log.py  Delta transaction logs read in plain Python (no JVM): table existence, versions, stats
    checks/       the quality-checks job
    jobs/         the job DAG (medallion.yaml's tasks, pipeline, checks), project tasks, the local runner, history, alerts
    deploy/       Databricks asset bundle rendering and workspace operations
    docs/         the generated documentation site
    cli/          the `medallion` command (and the Databricks job tasks' entry point)
"""

__version__ = "0.1.0"
