"""Validate bundle files against the official Databricks bundle JSON Schema, offline.

The schema (≈900 KB) is the one the Databricks CLI publishes (`databricks bundle schema`; in the CLI's
source `bundle/schema/jsonschema.json`). A copy ships inside the package, in
`framework/deploy/schemas/`, with the CLI version it came from and how to refresh it (README.md
there), so a clone needs nothing beside it. Its regexes use `\\p{..}` classes, which jsonschema-rs
understands. It is compiled once per process and only when a bundle check runs, so commands that do
not check the bundle never pay for it.

The merged configuration (all files) is validated, and each error is reported in the file holding the
offending value. Nearly every type in that schema is `oneOf: [the real shape, a ${...} reference
string]`, so a raw error on a wrong value surfaces as "not valid under any of the schemas" at the top
of the file. We walk down the oneOf alternatives to the error that reaches deepest into the document
(the real shape, first on ties) and report that one at its own line and column.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema_rs

from framework.deploy.bundle import Bundle
from framework.files import write_atomically
from framework.findings import Finding, did_you_mean
from framework.validation.schema import describe_error, type_name

SCHEMA_FILE = "bundle.schema.json"


def official_schema_path() -> Path:
    """The vendored copy of the official bundle schema (framework/deploy/schemas/)."""
    return Path(str(resources.files("framework.deploy.schemas").joinpath(SCHEMA_FILE)))


@lru_cache(maxsize=2)
def load_schema(path: Path | None = None) -> tuple[dict[str, Any], Any]:
    """The parsed schema and its compiled validator, built once per process (and per path)."""
    schema = json.loads((path or official_schema_path()).read_text("utf-8"))
    return schema, jsonschema_rs.Draft202012Validator(schema)


def validate_bundle(bundle: Bundle, schema_path: Path | None = None) -> list[Finding]:
    """Schema findings for the bundle, each located in the file that holds the offending value.

    The merged configuration is validated, as the CLI does: a target override in one file may rely on
    required keys (a schema's `name`) written in another.
    """
    schema, validator = load_schema(schema_path)
    findings = [doc.finding((), f"a bundle file must be a YAML mapping, not {type_name(doc.data)}",
                            code="bundle-schema") for doc in bundle.documents if not isinstance(doc.data, dict)]
    config = bundle.config
    known = schema.get("properties", {})
    for key in config:
        if key not in known:
            hint = did_you_mean(key, known) or f"top-level keys: {', '.join(sorted(known))}"
            findings.append(bundle.finding([(key,)], f"unknown top-level key `{key}` (the Databricks CLI ignores it)",
                                           code="bundle-schema", key=True, severity="warning", hint=hint))
    for error in validator.iter_errors(config):
        for leaf in _leaves(error):
            findings.extend(_to_findings(bundle, schema, leaf))
    return findings


def _leaves(error: Any) -> list[Any]:
    """The errors that explain `error`: itself, or those of its most relevant oneOf/anyOf alternative."""
    context = getattr(error.kind, "context", None)
    if not context:
        return [error]
    best = max(context, key=_reach)  # max() keeps the first of equals: the real shape before ${...} strings
    return [leaf for sub in best for leaf in _leaves(sub)]


def _reach(branch: list[Any]) -> int:
    return max((len(list(leaf.instance_path)) for sub in branch for leaf in _leaves(sub)), default=-1)


def _to_findings(bundle: Bundle, schema: dict[str, Any], error: Any) -> list[Finding]:
    path = tuple(error.instance_path)
    owner = _node(schema, list(error.schema_path)[:-1])
    described = _description(schema, path)
    problems = describe_error(error, owner, hint=described, enum_hint=described)
    if problems is None:
        message = error.message if len(error.message) < 200 else error.message[:197] + "..."
        return [bundle.finding([path], message, code="bundle-schema", hint=described)]
    return [bundle.finding([p.path], p.message, code="bundle-schema", hint=p.hint,
                           key=p.key or p.kind == "missing_key") for p in problems]


def _node(schema: dict[str, Any], pointer: list[str | int]) -> dict[str, Any]:
    node: Any = schema
    for part in pointer:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return {}
    return node if isinstance(node, dict) else {}


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow $ref and take the object shape of `oneOf: [shape, ${...}]`."""
    for _ in range(32):
        if "$ref" in node:
            node = _node(schema, node["$ref"].removeprefix("#/").split("/"))
        elif "oneOf" in node and node["oneOf"]:
            node = node["oneOf"][0]
        else:
            break
    return node


def _description(schema: dict[str, Any], path: tuple[str | int, ...]) -> str:
    """First line of the schema's description of the value at `path`, as a hint."""
    node: dict[str, Any] = schema
    wrapper: dict[str, Any] = {}
    for part in path:
        node = _resolve(schema, node)
        if isinstance(part, int):
            wrapper = node.get("items", {}) if isinstance(node.get("items"), dict) else {}
        else:
            props = node.get("properties", {})
            extra = node.get("additionalProperties")
            wrapper = props.get(part) or (extra if isinstance(extra, dict) else {})
        node = wrapper
    return _first_sentence(str(wrapper.get("description", "")))


def _first_sentence(text: str, limit: int = 160) -> str:
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    if len(paragraph) <= limit:
        return paragraph
    end = paragraph.find(". ")
    return paragraph[: end + 1] if 0 < end < limit else paragraph[: limit - 1] + "…"


def refresh(target: Path | None = None) -> str:
    """Replace the vendored schema with the one the installed Databricks CLI prints; returns its version."""
    import subprocess

    from framework.deploy.cli_runner import find_cli
    from framework.errors import WorkspaceError

    cli, problem = find_cli()
    if problem or cli is None:
        raise WorkspaceError(problem)
    version = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    printed = subprocess.run([cli, "bundle", "schema"], capture_output=True, text=True, timeout=120)
    if printed.returncode != 0:
        raise WorkspaceError(f"`databricks bundle schema` failed: {printed.stderr.strip()[:200]}")
    json.loads(printed.stdout)  # refuse to write anything that is not JSON
    path = target or official_schema_path()
    write_atomically(path, printed.stdout)
    return version


if __name__ == "__main__":
    import sys

    from framework.errors import MedallionError

    if sys.argv[1:] != ["--refresh"]:
        sys.exit("usage: python -m framework.deploy.schema --refresh")
    try:
        print(f"bundle.schema.json refreshed from {refresh()}; update framework/deploy/schemas/README.md")
    except MedallionError as exc:
        sys.exit(f"error: {exc}")
