"""The effective settings of bundle targets side by side (`medallion bundle diff dev prod`).

Values are read from the committed bundle through the effective view of each target, so what is
compared is what `databricks bundle deploy -t <target>` would deploy, development-mode presets included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from framework.deploy import names
from framework.deploy.bundle import Bundle, dig, effective_target, mapping

Getter = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Row:
    setting: str
    values: tuple[str, ...]

    @property
    def differs(self) -> bool:
        return len(set(self.values)) > 1


def _pipeline(cfg: dict[str, Any]) -> dict[str, Any]:
    return mapping(dig(cfg, "resources", "pipelines", names.PIPELINE_KEY))


def _job(cfg: dict[str, Any]) -> dict[str, Any]:
    return mapping(dig(cfg, "resources", "jobs", names.JOB_KEY))


def _items(value: Any) -> list[dict[str, Any]]:
    return [mapping(v) for v in value] if isinstance(value, list) else []


def _cluster(cfg: dict[str, Any]) -> str:
    parts = []
    for cluster in _items(_pipeline(cfg).get("clusters")):
        auto = mapping(cluster.get("autoscale"))
        workers = (f"{auto.get('min_workers')}-{auto.get('max_workers')} workers (autoscale {auto.get('mode', '-')})"
                   if auto else f"{cluster.get('num_workers')} workers")
        parts.append(f"{cluster.get('label', 'default')}: {workers} × {cluster.get('node_type_id', '?')}")
    return "; ".join(parts) or ("serverless" if _pipeline(cfg).get("serverless") else "-")


def _notifications(cfg: dict[str, Any]) -> str:
    return "; ".join(f"{_join(n.get('email_recipients'))} on {_join(n.get('alerts'))}"
                     for n in _items(_pipeline(cfg).get("notifications"))) or "-"


def _tasks(cfg: dict[str, Any]) -> str:
    out = []
    for task in _items(_job(cfg).get("tasks")):
        command = dig(task, "python_wheel_task", "parameters")
        if "pipeline_task" in task:
            kind = "pipeline_task"
        elif isinstance(command, list):
            shown = [str(c) for c in command]
            if shown[-2:-1] == ["--project"]:
                shown = shown[:-2]  # every task passes the synced files' path
            kind = " ".join([str(dig(task, "python_wheel_task", "entry_point") or "?"), *shown])
        else:
            kind = "?"
        out.append(f"{task.get('task_key')} ({kind})")
    return " → ".join(out) or "-"


def _schedule(cfg: dict[str, Any]) -> str:
    schedule = mapping(_job(cfg).get("schedule"))
    return f"{schedule.get('quartz_cron_expression')} {schedule.get('timezone_id')}" if schedule else "-"


def _event_log(cfg: dict[str, Any]) -> str:
    log = mapping(_pipeline(cfg).get("event_log"))
    schema = str(log.get("schema", ""))
    if schema == "${resources.schemas.ops.name}":
        schema = str(dig(cfg, "resources", "schemas", "ops", "name") or schema)
    return f"{log.get('catalog')}.{schema}.{log.get('name')}" if log else "-"


def _run_as(cfg: dict[str, Any]) -> str:
    run_as = mapping(cfg.get("run_as"))
    return run_as.get("service_principal_name") or run_as.get("user_name") or "(deploying user)"


def _permissions(cfg: dict[str, Any]) -> str:
    entries = []
    for entry in _items(cfg.get("permissions")):
        who = next((str(v) for k, v in entry.items() if k != "level"), "?")
        entries.append(f"{who} {entry.get('level', '?')}")
    return ", ".join(entries) or "(deploying identity only)"


def _join(values: Any) -> str:
    return ", ".join(map(str, values)) if isinstance(values, list) else "-"


SETTINGS: list[tuple[str, Getter]] = [
    ("mode", lambda c: c.get("mode", "-")),
    ("workspace root_path", lambda c: dig(c, "workspace", "root_path") or "(default ~/.bundle/...)"),
    ("run_as", _run_as),
    ("permissions", _permissions),
    ("job compute", lambda c: "serverless" if _job(c).get("environments") else
                              ", ".join(str(k.get("job_cluster_key")) for k in _items(_job(c).get("job_clusters")))
                              or "-"),
    ("pipeline name", lambda c: _pipeline(c).get("name")),
    ("catalog", lambda c: _pipeline(c).get("catalog")),
    ("continuous", lambda c: _pipeline(c).get("continuous")),
    ("development", lambda c: _pipeline(c).get("development")),
    ("photon", lambda c: _pipeline(c).get("photon")),
    ("serverless", lambda c: _pipeline(c).get("serverless", False)),
    ("channel", lambda c: _pipeline(c).get("channel")),
    ("edition", lambda c: _pipeline(c).get("edition")),
    ("clusters", _cluster),
    ("pipeline notifications", _notifications),
    ("event log table", _event_log),
    ("tags", lambda c: ", ".join(f"{k}={v}" for k, v in sorted(mapping(dig(c, "presets", "tags")).items()))),
    ("job name", lambda c: _job(c).get("name")),
    ("job tasks", _tasks),
    ("schedule", _schedule),
    ("schedule pause status", lambda c: dig(_job(c), "schedule", "pause_status") or "-"),
    ("job failure emails", lambda c: _join(dig(_job(c), "email_notifications", "on_failure"))),
    ("job timeout (s)", lambda c: _job(c).get("timeout_seconds", "-")),
    ("task max_retries", lambda c: ", ".join(sorted({str(t.get("max_retries", "-"))
                                                     for t in _items(_job(c).get("tasks"))}))),
    ("max_concurrent_runs", lambda c: _job(c).get("max_concurrent_runs", "-")),
]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "-" if value is None or value == "" else str(value)


def diff_targets(bundle: Bundle, targets: list[str]) -> list[Row]:
    """One row per setting, one value per target."""
    configs = [effective_target(bundle, t) for t in targets]
    return [Row(label, tuple(_text(get(cfg)) for cfg in configs)) for label, get in SETTINGS]
