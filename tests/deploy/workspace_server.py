"""A local stand-in for the few Databricks REST endpoints Medallion calls, on 127.0.0.1.

It speaks the real wire format (paths, query strings, JSON bodies and error bodies as the REST API
documents them), so the real databricks-sdk talks to it unchanged. State is small and explicit:
pipelines with their updates, jobs with their runs, the rows a SQL statement returns (or a handler that
answers each statement, for event-log sequences that move over time), directory listings of the Files
API (landing volumes), secret scopes with their ACLs and values, and a Unity Catalog (catalogs, schemas, owners, grants with their inheritance)
with the SCIM identities (the caller, service principals). Updates and runs advance one state per
poll, like a slow workspace. Tests can demand a bearer token, inject an HTTP error on a path prefix, or
delay a path past the client's timeout.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlparse

TRIGGERED_STATES = ["QUEUED", "INITIALIZING", "SETTING_UP_TABLES", "RUNNING"]
RUN_STATES = ["PENDING", "RUNNING"]


class StatementFailure(Exception):
    """Raised by a statement handler: the statement ends FAILED with this message (as a warehouse reports
    e.g. `[TABLE_OR_VIEW_NOT_FOUND] ...`)."""


@dataclass
class Pipeline:
    pipeline_id: str
    name: str
    continuous: bool = False
    state: str = "IDLE"
    updates: list[dict[str, Any]] = field(default_factory=list)
    """Newest first, as latest_updates lists them."""
    final_state: str = "COMPLETED"


@dataclass
class Job:
    job_id: int
    name: str
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    result_state: str = "SUCCESS"


@dataclass
class Catalog:
    """Unity Catalog securables and grants: {(securable type, full name): owner} and their privileges."""

    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    grants: dict[tuple[str, str], dict[str, set[str]]] = field(default_factory=dict)
    tables: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    """(catalog, schema) -> its tables as `GET /api/2.1/unity-catalog/tables` lists them (TableInfo)."""
    listed: list[tuple[str, str]] = field(default_factory=list)
    """The (catalog, schema) of every tables listing asked for, page by page."""

    def add_table(self, full_name: str, table_type: str) -> None:
        catalog, schema, name = full_name.split(".")
        self.tables.setdefault((catalog, schema), []).append(
            {"name": name, "catalog_name": catalog, "schema_name": schema, "full_name": full_name,
             "table_type": table_type})

    def add(self, securable: str, full_name: str, owner: str) -> None:
        self.owners[(securable, full_name)] = owner

    def grant(self, securable: str, full_name: str, principal: str, *privileges: str) -> None:
        self.grants.setdefault((securable, full_name), {}).setdefault(principal, set()).update(privileges)

    def effective(self, securable: str, full_name: str, principal: str | None) -> list[dict[str, Any]]:
        """Privilege assignments on the securable and inherited from its catalog, as the API returns them."""
        sources = [(securable, full_name, None)]
        if securable != "catalog":
            parent = full_name.split(".")[0]
            sources.append(("catalog", parent, parent))
        merged: dict[str, list[dict[str, Any]]] = {}
        for kind, name, inherited in sources:
            for who, privileges in self.grants.get((kind, name), {}).items():
                if principal is not None and who != principal:
                    continue
                for privilege in sorted(privileges):
                    entry: dict[str, Any] = {"privilege": privilege}
                    if inherited:
                        entry.update(inherited_from_type="CATALOG", inherited_from_name=inherited)
                    merged.setdefault(who, []).append(entry)
        return [{"principal": who, "privileges": privileges} for who, privileges in merged.items()]


class WorkspaceServer:
    def __init__(self, token: str = "dapi-test-token"):
        self.token = token
        self.me: dict[str, Any] = {"id": "1001", "userName": "deployer@example.com",
                                   "groups": [{"display": "data-platform", "value": "2001"}]}
        """The caller (SCIM Me): who the token belongs to."""
        self.service_principals: list[dict[str, Any]] = []
        self.unity = Catalog()
        self.pipelines: dict[str, Pipeline] = {}
        self.jobs: dict[int, Job] = {}
        self.statement_rows: list[list[str | None]] = []
        """Rows every SQL statement returns (as a SQL warehouse sends them: JSON_ARRAY of strings)."""
        self.statement_columns: list[str] = ["update_id", "timestamp", "event_type", "flow_name", "dataset_name",
                                             "details"]
        self.statement_chunk_rows = 1000
        """Rows per result chunk: more rows than this come back in several chunks, fetched one by one."""
        self.statement_failure: str | None = None
        self.statement_handler: Callable[[str], list[list[str | None]]] | None = None
        """When set, answers each statement from its text (rows as JSON_ARRAY strings) or raises
        StatementFailure; every statement text is kept in `statements`."""
        self.statements: list[str] = []
        self.files: dict[str, list[dict[str, Any]]] = {}
        """Folder path -> its entries as the Files API lists them (path, name, is_directory, file_size,
        last_modified in ms); a folder not here answers 404."""
        self.files_page_size = 1000
        self.secret_scopes: dict[str, dict[str, str]] = {}
        """Scope -> key -> value (plain text; the API sends it base64-encoded)."""
        self.secret_acls: dict[str, dict[str, str]] = {}
        """Scope -> principal -> READ | WRITE | MANAGE (the scope's ACLs)."""
        self.failures: dict[str, tuple[int, str, str]] = {}
        self.delays: dict[str, float] = {}
        self.requests: list[tuple[str, str, dict[str, Any] | None]] = []
        self.page_size = 25
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> WorkspaceServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- state helpers for tests -------------------------------------------------------------
    def add_pipeline(self, name: str, continuous: bool = False, **kwargs: Any) -> Pipeline:
        pipeline = Pipeline(str(uuid.uuid4()), name, continuous, **kwargs)
        self.pipelines[pipeline.pipeline_id] = pipeline
        return pipeline

    def add_update(self, pipeline: Pipeline, state: str, full_refresh: bool = False) -> dict[str, Any]:
        update = {"update_id": f"upd-{next(self._ids):04d}", "state": state, "cause": "API_CALL",
                  "creation_time": 1_790_000_000_000 + next(self._ids), "full_refresh": full_refresh,
                  "pipeline_id": pipeline.pipeline_id, "_script": []}
        pipeline.updates.insert(0, update)
        return update

    def add_job(self, name: str) -> Job:
        job = Job(1000 + next(self._ids), name)
        self.jobs[job.job_id] = job
        return job

    def add_service_principal(self, application_id: str, groups: tuple[str, ...] = ()) -> dict[str, Any]:
        principal = {"id": str(3000 + next(self._ids)), "applicationId": application_id,
                     "displayName": f"sp {application_id}", "active": True,
                     "groups": [{"display": g, "value": str(4000 + i)} for i, g in enumerate(groups)]}
        self.service_principals.append(principal)
        return principal

    def add_file(self, path: str, modified_ms: int, size: int = 100) -> None:
        """A file in a (volume) folder, listed by GET /api/2.0/fs/directories<folder>."""
        folder, _, name = path.rpartition("/")
        self.files.setdefault(folder, []).append({"path": path, "name": name, "is_directory": False,
                                                  "file_size": size, "last_modified": modified_ms})

    def add_secret_scope(self, scope: str, secrets: dict[str, str] | None = None,
                         acls: dict[str, str] | None = None) -> None:
        self.secret_scopes[scope] = dict(secrets or {})
        self.secret_acls[scope] = dict(acls or {})

    def paths(self, method: str | None = None) -> list[str]:
        return [p for m, p, _ in self.requests if method is None or m == method]

    # --- HTTP ---------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                server._dispatch(self, "GET")

            def do_POST(self) -> None:
                server._dispatch(self, "POST")

        return Handler

    def _dispatch(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlparse(h.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(h.headers.get("Content-Length") or 0)
        body = json.loads(h.rfile.read(length) or b"{}") if length else None
        with self._lock:
            self.requests.append((method, url.path, body))
        for prefix, seconds in list(self.delays.items()):
            if url.path.startswith(prefix):
                time.sleep(seconds)
        if url.path.startswith("/.well-known/"):
            return self._send(h, 404, {"error_code": "NOT_FOUND", "message": "Not Found"})
        if h.headers.get("Authorization") != f"Bearer {self.token}":
            return self._send(h, 401, {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."})
        for prefix, (status, code, message) in list(self.failures.items()):
            if url.path.startswith(prefix):
                return self._send(h, status, {"error_code": code, "message": message})
        with self._lock:
            status, payload = self._route(method, url.path, query, body or {})
        self._send(h, status, payload)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to answer

    def _route(self, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> tuple[int, dict]:
        parts = path.strip("/").split("/")
        if parts[:3] == ["api", "2.0", "pipelines"]:
            return self._pipelines(method, parts[3:], query, body)
        if parts[:2] == ["api", "2.1"] or parts[:2] == ["api", "2.2"]:
            if parts[2:] == ["jobs", "list"] and method == "GET":
                return self._jobs_list(query)
            if parts[2:] == ["jobs", "run-now"] and method == "POST":
                return self._run_now(body)
            if parts[2:] == ["jobs", "runs", "get"] and method == "GET":
                return self._run_get(query)
        if parts[:4] == ["api", "2.0", "preview", "scim"] and method == "GET":
            return self._scim(parts[5:], query)
        if parts[:3] == ["api", "2.1", "unity-catalog"] and method == "GET":
            return self._unity_catalog(parts[3:], query)
        if parts[:4] == ["api", "2.0", "fs", "directories"] and method == "GET":
            return self._directory("/" + "/".join(unquote(p) for p in parts[4:]), query)
        if parts[:3] == ["api", "2.0", "secrets"] and method == "GET":
            return self._secrets(parts[3:], query)
        if parts == ["api", "2.0", "sql", "statements"] and method == "POST":
            return self._statement(body)
        if parts[:4] == ["api", "2.0", "sql", "statements"] and parts[5:6] == ["result"] and method == "GET":
            return 200, self._chunk(int(parts[7]))
        return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"No API found for '{method} {path}'"}

    # pipelines ---------------------------------------------------------------------------------
    def _pipelines(self, method: str, rest: list[str], query: dict[str, str], body: dict) -> tuple[int, dict]:
        if not rest and method == "GET":
            return self._pipelines_list(query)
        pipeline = self.pipelines.get(rest[0]) if rest else None
        if pipeline is None:
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST",
                         "message": f"The specified pipeline {rest[0] if rest else ''} was not found."}
        if len(rest) == 1 and method == "GET":
            return 200, self._pipeline_json(pipeline)
        if rest[1:] == ["updates"] and method == "POST":
            active = [u for u in pipeline.updates if u["state"] not in ("COMPLETED", "FAILED", "CANCELED")]
            if active:
                return 409, {"error_code": "RESOURCE_CONFLICT",
                             "message": f"An active update {active[0]['update_id']} already exists."}
            update = self.add_update(pipeline, "QUEUED", bool(body.get("full_refresh")))
            update["_script"] = TRIGGERED_STATES[1:] + ([] if pipeline.continuous else [pipeline.final_state])
            pipeline.state = "RUNNING"
            return 200, {"update_id": update["update_id"]}
        if len(rest) == 3 and rest[1] == "updates" and method == "GET":
            update = next((u for u in pipeline.updates if u["update_id"] == rest[2]), None)
            if update is None:
                return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"Update {rest[2]} not found."}
            response = {"update": self._update_json(update)}
            if update["_script"]:
                update["state"] = update["_script"].pop(0)  # the next poll sees the next state
            return 200, response
        return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": "No API found"}

    def _pipelines_list(self, query: dict[str, str]) -> tuple[int, dict]:
        pattern = query.get("filter", "")
        items = sorted(self.pipelines.values(), key=lambda p: p.pipeline_id)
        if pattern.startswith("name LIKE '") and pattern.endswith("'"):
            like = pattern[len("name LIKE '"):-1]
            items = [p for p in items if _like(p.name, like)]
        start = int(query.get("page_token") or 0)
        page = items[start:start + self.page_size]
        payload: dict[str, Any] = {"statuses": [self._state_info(p) for p in page]}
        if start + self.page_size < len(items):
            payload["next_page_token"] = str(start + self.page_size)
        return 200, payload

    def _state_info(self, p: Pipeline) -> dict[str, Any]:
        return {"pipeline_id": p.pipeline_id, "name": p.name, "state": p.state, "health": "HEALTHY",
                "creator_user_name": "someone@example.com",
                "latest_updates": [self._update_state(u) for u in p.updates[:5]]}

    def _pipeline_json(self, p: Pipeline) -> dict[str, Any]:
        return {**self._state_info(p), "run_as_user_name": "someone@example.com", "last_modified": 1_790_000_000_000,
                "spec": {"id": p.pipeline_id, "name": p.name, "continuous": p.continuous, "development": False,
                         "catalog": "medallion", "schema": "ops", "edition": "ADVANCED", "channel": "CURRENT"}}

    @staticmethod
    def _update_state(u: dict[str, Any]) -> dict[str, Any]:
        return {"update_id": u["update_id"], "state": u["state"], "creation_time": "2026-11-27T22:05:13.000Z"}

    @staticmethod
    def _update_json(u: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in u.items() if not k.startswith("_")}

    # jobs --------------------------------------------------------------------------------------
    def _jobs_list(self, query: dict[str, str]) -> tuple[int, dict]:
        jobs = sorted(self.jobs.values(), key=lambda j: j.job_id)
        if "name" in query:
            jobs = [j for j in jobs if j.name.lower() == query["name"].lower()]
        return 200, {"jobs": [{"job_id": j.job_id, "creator_user_name": "someone@example.com",
                               "created_time": 1_790_000_000_000, "settings": {"name": j.name}} for j in jobs],
                     "has_more": False}

    def _run_now(self, body: dict[str, Any]) -> tuple[int, dict]:
        job = self.jobs.get(int(body.get("job_id", 0)))
        if job is None:
            return 400, {"error_code": "INVALID_PARAMETER_VALUE",
                         "message": f"Job {body.get('job_id')} does not exist."}
        run_id = 5000 + next(self._ids)
        job.runs[run_id] = {"run_id": run_id, "job_id": job.job_id, "number_in_job": run_id,
                            "run_page_url": f"{self.url}/jobs/{job.job_id}/runs/{run_id}",
                            "pipeline_params": body.get("pipeline_params"),
                            "state": {"life_cycle_state": "PENDING", "state_message": ""},
                            "_script": RUN_STATES[1:] + ["TERMINATED"]}
        return 200, {"run_id": run_id, "number_in_job": run_id}

    def _run_get(self, query: dict[str, str]) -> tuple[int, dict]:
        run_id = int(query.get("run_id", 0))
        job = next((j for j in self.jobs.values() if run_id in j.runs), None)
        if job is None:
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"Run {run_id} does not exist."}
        run = job.runs[run_id]
        response = {k: v for k, v in run.items() if not k.startswith("_")}
        if run["_script"]:
            life = run["_script"].pop(0)
            run["state"] = {"life_cycle_state": life, "state_message": ""}
            if life == "TERMINATED":
                run["state"]["result_state"] = job.result_state
        return 200, response

    # SCIM and Unity Catalog -------------------------------------------------------------------
    def _scim(self, rest: list[str], query: dict[str, str]) -> tuple[int, dict]:
        if rest == ["Me"]:
            return 200, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], **self.me}
        if rest == ["ServicePrincipals"]:
            found = self.service_principals
            match = re.fullmatch(r'applicationId eq "([^"]*)"', query.get("filter", ""))
            if match:
                found = [p for p in found if p["applicationId"] == match.group(1)]
            start = int(query.get("startIndex") or 1)
            page = found[start - 1:start - 1 + int(query.get("count") or 100)]
            return 200, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                         "totalResults": len(found), "startIndex": start, "itemsPerPage": len(page),
                         "Resources": page}
        return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": "No API found"}

    def _unity_catalog(self, rest: list[str], query: dict[str, str]) -> tuple[int, dict]:
        if rest == ["tables"]:  # one page of `page_size` tables, then next_page_token (the documented paging)
            key = (query.get("catalog_name", ""), query.get("schema_name", ""))
            self.unity.listed.append(key)
            found = self.unity.tables.get(key, [])
            start = int(query.get("page_token") or 0)
            page = found[start:start + self.page_size]
            more = start + self.page_size < len(found)
            return 200, {"tables": page, **({"next_page_token": str(start + self.page_size)} if more else {})}
        if len(rest) == 2 and rest[0] in ("catalogs", "schemas"):
            securable = rest[0][:-1]
            owner = self.unity.owners.get((securable, rest[1]))
            if owner is None:
                code = "CATALOG_DOES_NOT_EXIST" if securable == "catalog" else "SCHEMA_DOES_NOT_EXIST"
                return 404, {"error_code": code, "message": f"{securable.title()} '{rest[1]}' does not exist."}
            info = {"name": rest[1].split(".")[-1], "full_name": rest[1], "owner": owner}
            if securable == "schema":
                info["catalog_name"] = rest[1].split(".")[0]
            return 200, info
        if len(rest) == 3 and rest[0] == "effective-permissions":
            securable, full_name = rest[1].lower(), rest[2]
            if (securable, full_name) not in self.unity.owners:
                return 404, {"error_code": f"{securable.upper()}_DOES_NOT_EXIST",
                             "message": f"{securable.title()} '{full_name}' does not exist."}
            return 200, {"privilege_assignments": self.unity.effective(securable, full_name, query.get("principal"))}
        return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": "No API found"}

    # files -------------------------------------------------------------------------------------
    def _directory(self, folder: str, query: dict[str, str]) -> tuple[int, dict]:
        entries = self.files.get(folder.rstrip("/"))
        if entries is None:
            return 404, {"error_code": "NOT_FOUND", "message": f"The directory {folder} does not exist."}
        start = int(query.get("page_token") or 0)
        size = min(int(query.get("page_size") or self.files_page_size), self.files_page_size)
        payload: dict[str, Any] = {"contents": entries[start:start + size]}
        if start + size < len(entries):
            payload["next_page_token"] = str(start + size)
        return 200, payload

    # secrets -----------------------------------------------------------------------------------
    def _secrets(self, rest: list[str], query: dict[str, str]) -> tuple[int, dict]:
        if rest == ["scopes", "list"]:
            return 200, {"scopes": [{"name": name, "backend_type": "DATABRICKS"} for name in sorted(self.secret_scopes)]}
        scope = query.get("scope", "")
        if scope not in self.secret_scopes:
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"Scope {scope} does not exist!"}
        if rest == ["get"]:
            value = self.secret_scopes[scope].get(query.get("key", ""))
            if value is None:
                return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST",
                             "message": f"Failed to get secret {query.get('key')} for scope {scope}."}
            return 200, {"key": query["key"], "value": base64.b64encode(value.encode()).decode()}
        if rest == ["list"]:
            return 200, {"secrets": [{"key": k, "last_updated_timestamp": 1_790_000_000_000}
                                     for k in sorted(self.secret_scopes[scope])]}
        if rest == ["acls", "list"]:
            return 200, {"items": [{"principal": p, "permission": level}
                                   for p, level in sorted(self.secret_acls[scope].items())]}
        return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": "No API found"}

    # SQL statements ----------------------------------------------------------------------------
    def _statement(self, body: dict[str, Any]) -> tuple[int, dict]:
        statement_id = f"01ef-{next(self._ids):04d}"
        failure = self.statement_failure
        self.statements.append(str(body.get("statement", "")))
        if self.statement_handler is not None and not failure:
            try:
                self.statement_rows = self.statement_handler(str(body.get("statement", "")))
            except StatementFailure as exc:
                failure = str(exc)
        if failure:
            return 200, {"statement_id": statement_id,
                         "status": {"state": "FAILED", "error": {"error_code": "BAD_REQUEST", "message": failure}}}
        chunks = max(1, -(-len(self.statement_rows) // self.statement_chunk_rows))
        return 200, {
            "statement_id": statement_id,
            "status": {"state": "SUCCEEDED"},
            "manifest": {"format": "JSON_ARRAY", "total_row_count": len(self.statement_rows), "truncated": False,
                         "total_chunk_count": chunks,
                         "schema": {"column_count": len(self.statement_columns), "columns": [
                             {"name": c, "type_name": "STRING", "position": i}
                             for i, c in enumerate(self.statement_columns)]}},
            "result": self._chunk(0),
        }

    def _chunk(self, index: int) -> dict[str, Any]:
        size = self.statement_chunk_rows
        rows = self.statement_rows[index * size:(index + 1) * size]
        chunk: dict[str, Any] = {"chunk_index": index, "row_offset": index * size, "row_count": len(rows),
                                 "data_array": rows}
        if (index + 1) * size < len(self.statement_rows):
            chunk["next_chunk_index"] = index + 1
        return chunk


def _like(value: str, pattern: str) -> bool:
    """SQL LIKE with % and _ wildcards, as the pipelines list filter supports."""
    import re

    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None
