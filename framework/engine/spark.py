"""The SparkSession of an environment: local PySpark + Delta, quiet, small, pointed at the env's storage.

The catalog is Spark's in-memory one (no Derby `metastore_db`, so any number of processes can open
the same storage). Names still work across processes because every session re-registers the Delta
tables it finds under `<storage_root>/tables/<schema>/<name>` as `<schema>.<name>` when it starts
(`attach_storage`), which is what lets `medallion sql "SELECT * FROM silver.orders"` run anywhere.

Use `spark_session(env)` (a context manager) from commands and jobs; tests share one session and call
`attach_storage` to point it at their own temporary environment.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from framework.engine.jars import cache_dir, jar_conf, java_version
from framework.engine.storage import Storage
from framework.files import write_atomically
from framework.naming import OPS_LAYER, quote_name, sql_string
from framework.spec.environment import Environment
from framework.spec.model import LAYERS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[2]"
DEFAULT_DRIVER_MEMORY = "3g"

SESSION_DEFAULTS: dict[str, str] = {
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.session.timeZone": "UTC",
    "spark.databricks.delta.snapshotPartitions": "2",
    # a streaming query with nothing new to read must not commit empty batches (and table versions)
    "spark.sql.streaming.noDataMicroBatches.enabled": "false",
    "spark.sql.streaming.forceDeleteTempCheckpointLocation": "true",
    # Delta's auto compaction runs synchronously after a commit and, at this engine's file sizes, rewrites
    # the whole table: a 390-row micro-batch on 1M rows cost an 11 s rewrite before the next flow could
    # see it. Tables that ask for it (`delta.autoOptimize.autoCompact`) are compacted by the engine's own
    # OPTIMIZE instead, once `optimize_min_files` new files exist (framework/engine/tables.py `optimize`).
    "spark.databricks.delta.autoCompact.enabled": "false",
    # Listing more than 32 folders (a landing folder's batches and years) is done by a Spark job "in
    # parallel": on a local disk, one to two seconds of job scheduling per micro-batch for what the driver
    # lists in milliseconds.
    "spark.sql.sources.parallelPartitionDiscovery.threshold": "100000",
}

_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
logger.sqlcontext.name = SQLQueryContextLogger
logger.sqlcontext.level = off
logger.py4j.name = org.apache.spark.api.python.PythonGatewayServer
logger.py4j.level = error
logger.stream.name = org.apache.spark.sql.execution.streaming
logger.stream.level = off
logger.delta.name = org.apache.spark.sql.delta
logger.delta.level = off
logger.shutdown.name = org.apache.spark.util.ShutdownHookManager
logger.shutdown.level = off
"""


def _log4j_file() -> Path:
    """A log4j2 config that keeps the console quiet (errors reach Python as exceptions anyway).

    The gateway's logger (PythonGatewayServer, the "shell" class of a PySpark driver) stays at the root
    logger's level: when they differ, Spark prints `Setting default log level to ...` and `To adjust
    logging level use sc.setLogLevel(newLevel)` to stderr as it starts.
    """
    path = cache_dir().parent / "log4j2-medallion.properties"
    if not path.is_file() or path.read_text() != _LOG4J:
        write_atomically(path, _LOG4J)
    return path


def static_conf(env: Environment) -> dict[str, str]:
    """Settings fixed when the JVM starts: classpath, catalog, warehouse, memory, logging, Python workers."""
    storage = Storage.of(env)
    python = python_executable()
    conf = {
        "spark.master": os.environ.get("MEDALLION_SPARK_MASTER", DEFAULT_MASTER),
        "spark.app.name": f"medallion-{env.name}",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": os.environ.get("MEDALLION_SPARK_DRIVER_MEMORY", DEFAULT_DRIVER_MEMORY),
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.warehouse.dir": str(storage.warehouse),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.log.structuredLogging.enabled": "false",
        "spark.driver.extraJavaOptions": f"-Dlog4j.configurationFile=file:{_log4j_file()} "
                                         + os.environ.get("MEDALLION_SPARK_JAVA_OPTIONS", ""),
        "spark.pyspark.python": python,
        "spark.pyspark.driver.python": python,
    }
    conf.update(jar_conf())
    return conf


def python_executable() -> str:
    """The interpreter of Python workers (pandas UDFs, `applyInPandas`): `PYSPARK_PYTHON` when set, else
    this process's own (the project's virtualenv, with pandas and pyarrow), not whatever `python3` is first
    on PATH."""
    return os.environ.get("PYSPARK_PYTHON") or sys.executable


def runtime_conf(env: Environment) -> dict[str, str]:
    """Session settings: our defaults, the environment's `spark_conf` (AQE, shuffle partitions...), then the
    SQL semantics of the runtime the environment targets (`databricks_runtime`: ANSI on, as Databricks
    Runtime 17.x and the pipeline's rendered configuration have it).

    The semantics come last so no `spark_conf` can turn them off (validation reports one that tries): under
    ANSI, `CAST` of a value that does not fit raises instead of writing NULL; lenient conversions are
    written `try_cast` / `try_to_timestamp`, and the conform step quarantines or fails what they null.
    """
    conf = dict(SESSION_DEFAULTS)
    conf.update({k: str(v) for k, v in (env.get("spark_conf") or {}).items()})
    conf.update(env.target_runtime.sql_conf)
    return conf


def quiet_python_loggers() -> None:
    """PySpark logs every analysis error with a JVM stack trace before raising it; we report errors ourselves."""
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger", "py4j", "py4j.clientserver"):
        logging.getLogger(name).disabled = True


def build_session(env: Environment) -> "SparkSession":
    """Start (or reuse) the SparkSession and point it at the environment's storage."""
    java_version()  # a clear one-line error instead of a JVM launch failure
    quiet_python_loggers()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is None:
        conf = static_conf(env)
        # PySpark takes the workers' interpreter from PYSPARK_PYTHON, not from `spark.pyspark.python`
        os.environ["PYSPARK_PYTHON"] = conf["spark.pyspark.python"]
        builder = SparkSession.builder
        for key, value in conf.items():
            builder = builder.config(key, value)
        for key, value in runtime_conf(env).items():
            builder = builder.config(key, value)
        with jvm_stderr_filtered():
            active = builder.getOrCreate()
        active.sparkContext.setLogLevel("ERROR")
    else:
        apply_runtime_conf(active, env)
    attach_storage(active, env)
    return active


JVM_BANNER = re.compile(r"^(WARNING: Using incubator modules:|Setting default log level to|"
                        r"To adjust logging level use sc\.setLogLevel)")
"""Lines the JVM prints on every start: Spark's launcher adds `--add-modules=jdk.incubator.vector`
(hard-coded in its JavaModuleOptions), for which the JVM itself warns; no option turns that off."""


@contextmanager
def jvm_stderr_filtered() -> Iterator[None]:
    """Start the JVM (inside the block) with a pipe as its stderr; copy the pipe to our stderr without
    the banner lines (JVM_BANNER), so real errors and warnings still show.

    PySpark starts the JVM with `Popen`, which inherits file descriptor 2: pointing fd 2 at the pipe
    for the duration of the start is the one way to give the JVM another stderr without private APIs.
    """
    try:
        target = os.dup(2)
    except OSError:  # no stderr at all: nothing to filter
        yield
        return
    read_end, write_end = os.pipe()
    threading.Thread(target=_copy_lines, args=(read_end, target), name="jvm-stderr", daemon=True).start()
    sys.stderr.flush()
    os.dup2(write_end, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(target, 2)
        os.close(write_end)  # the JVM holds its own copy; the pipe closes when it exits


def _copy_lines(source: int, target: int) -> None:
    with os.fdopen(source, "rb") as pipe:
        for line in iter(pipe.readline, b""):
            if not JVM_BANNER.match(line.decode("utf-8", "replace")):
                try:
                    os.write(target, line)
                except OSError:
                    return
    os.close(target)


def apply_runtime_conf(spark: "SparkSession", env: Environment) -> None:
    for key, value in runtime_conf(env).items():
        if key.startswith("spark.databricks.io.") or key == "spark.master":
            continue
        try:
            spark.conf.set(key, value)
        except Exception:  # static settings of an already running JVM: keep what it started with
            pass


def attach_storage(spark: "SparkSession", env: Environment) -> list[str]:
    """Register every Delta table under the env's storage as `<schema>.<name>`; returns their names.

    Tables registered for another storage root (a shared test session moving between environments)
    are unregistered first. Dropping a table with an explicit location only forgets the name.
    """
    storage = Storage.of(env)
    registry: dict[str, Path] = _registry(spark)
    on_disk = {ref.published: ref.path for ref in storage.existing_tables()}
    for name, path in list(registry.items()):
        if on_disk.get(name) != path:
            spark.sql(f"DROP TABLE IF EXISTS {quote_name(name)}")
            del registry[name]
    for schema in sorted({env.schema_for(layer) for layer in (*LAYERS, OPS_LAYER)}):
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS {quote_name(schema)}")
    for name, path in on_disk.items():
        if name not in registry:
            register_table(spark, name, path)
    return sorted(on_disk)


def register_table(spark: "SparkSession", name: str, path: Path) -> None:
    """Make an existing Delta folder queryable by name in this session."""
    registry = _registry(spark)
    if registry.get(name) == path:
        return
    schema = name.split(".")[0]
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {quote_name(schema)}")
    if name in registry:  # registered for another storage folder in this session
        spark.sql(f"DROP TABLE IF EXISTS {quote_name(name)}")
    spark.sql(f"CREATE TABLE IF NOT EXISTS {quote_name(name)} USING delta LOCATION {sql_string(path)}")
    registry[name] = path


def forget_table(spark: "SparkSession", name: str) -> None:
    spark.sql(f"DROP TABLE IF EXISTS {quote_name(name)}")
    _registry(spark).pop(name, None)


def _registry(spark: "SparkSession") -> dict[str, Path]:
    """Names this process registered, kept on the session object (the in-memory catalog is per JVM)."""
    if not hasattr(spark, "_medallion_tables"):
        spark._medallion_tables = {}  # type: ignore[attr-defined]
    return spark._medallion_tables  # type: ignore[attr-defined]


@contextmanager
def spark_session(env: Environment, *, stop: bool | None = None) -> Iterator["SparkSession"]:
    """The environment's SparkSession for the duration of a `with` block.

    Stops the session afterwards only if this call started it (or `stop=True`), so nested users and
    the shared test session are left running.
    """
    from pyspark.sql import SparkSession

    started = SparkSession.getActiveSession() is None
    spark = build_session(env)
    try:
        yield spark
    finally:
        if stop if stop is not None else started:
            spark.stop()


__all__ = ["attach_storage", "build_session", "forget_table", "register_table", "spark_session"]
