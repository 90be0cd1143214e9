"""JSON Schema validation of spec and environment documents (Draft 2020-12, jsonschema-rs).

The schemas in `framework/spec/schemas/` are the single source of truth for the spec format: this
module, editors (via `# yaml-language-server: $schema=...`) and the generated spec reference all read
them. Here we only translate jsonschema-rs errors into located findings with useful hints.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Callable

import jsonschema_rs

from framework.findings import Finding, did_you_mean
from framework.spec.documents import Document

MAX_FINDINGS = 50
"""Per file: past this, more messages about one broken file help nobody."""
SCHEMA_FILES = {"table": "table.schema.json", "environment": "environment.schema.json",
                "project": "project.schema.json"}
_REGISTERED: dict[str, dict[str, Any]] = {}
"""Schemas a project brings (a task's `config_schema`), by the kind name they were registered under."""


@lru_cache(maxsize=None)
def load_schema(kind: str) -> dict[str, Any]:
    if kind in _REGISTERED:
        return _REGISTERED[kind]
    text = resources.files("framework.spec.schemas").joinpath(SCHEMA_FILES[kind]).read_text("utf-8")
    return json.loads(text)


def register_schema(kind: str, schema: dict[str, Any]) -> str | None:
    """Make a project's schema usable as `kind` by `validate_document`; what is wrong with it, else None.

    `kind` must name its content (e.g. include the file's modification time): a registered kind is cached.
    """
    if kind not in _REGISTERED:
        try:
            jsonschema_rs.Draft202012Validator(schema)
        except Exception as exc:  # noqa: BLE001 - jsonschema-rs raises ValidationError/ValueError for bad schemas
            return f"not a valid JSON Schema: {_clean(str(exc)).splitlines()[0] if str(exc) else type(exc).__name__}"
        _REGISTERED[kind] = schema
    return None


@lru_cache(maxsize=None)
def _validator(kind: str) -> jsonschema_rs.Draft202012Validator:
    return jsonschema_rs.Draft202012Validator(load_schema(kind))


def _subschema(kind: str, schema_path: list[str | int]) -> dict[str, Any]:
    """The schema object that owns the failing keyword (schema_path minus the keyword)."""
    node: Any = load_schema(kind)
    for part in schema_path[:-1]:
        node = node[part]
    return node if isinstance(node, dict) else {}


def _resolve(kind: str, node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = _subschema(kind, node["$ref"].lstrip("#/").split("/") + ["_"])
    return node


def validate_document(doc: Document, kind: str) -> list[Finding]:
    """All schema findings of one document, each at the line/column of the offending key or value."""
    if not isinstance(doc.data, dict):
        return [doc.finding((), f"a {kind} spec must be a YAML mapping of keys to values, not {type_name(doc.data)}",
                            code="schema")]
    findings: list[Finding] = []
    more = 0
    for error in _validator(kind).iter_errors(doc.data):
        if len(findings) >= MAX_FINDINGS:
            more += 1
            continue
        findings.extend(_to_findings(doc, kind, error))
    if len(findings) > MAX_FINDINGS:
        more += len(findings) - MAX_FINDINGS
        findings = findings[:MAX_FINDINGS]
    if more:
        findings.append(doc.finding((), f"... and {more:,} more schema errors in this file", code="schema",
                                    hint="fix the ones above first; many errors often share one cause"))
    return findings


@dataclass(frozen=True)
class SchemaProblem:
    """One thing a JSON Schema error says is wrong, ready to be located in a document."""

    kind: str
    """unknown_key, missing_key, enum or type."""
    path: tuple[str | int, ...]
    message: str
    hint: str = ""
    key: bool = False
    """Point at the key at `path` rather than at its value."""


def describe_error(error: Any, owner: dict[str, Any], *, hint: str = "", enum_hint: str = "",
                   required_hint: Callable[[str], str] | None = None) -> list[SchemaProblem] | None:
    """What a jsonschema-rs error means, for the kinds every schema has (unknown and missing keys, enums,
    types); None for other kinds, which the caller words itself. `owner` is the schema object holding the
    failing keyword; `hint` explains a wrong type, `enum_hint` a value with no close match. Shared by the
    spec and environment schemas (here) and the Databricks bundle schema (framework/deploy/schema.py).
    """
    path = tuple(error.instance_path)
    error_kind = error.kind
    if isinstance(error_kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties):
        allowed = list(owner.get("properties", {}))
        unexpected = list(error_kind.unexpected)
        problems = [SchemaProblem("unknown_key", path + (key,), f"unknown key `{key}`", key=True,
                                  hint=did_you_mean(key, allowed) or f"allowed keys: {', '.join(allowed)}")
                    for key in unexpected[:MAX_FINDINGS]]
        if len(unexpected) > MAX_FINDINGS:
            more = len(unexpected) - MAX_FINDINGS
            problems.append(SchemaProblem("unknown_key", path, f"... and {more:,} more unknown keys here"))
        return problems
    if isinstance(error_kind, jsonschema_rs.ValidationErrorKind.Required):
        missing = error_kind.property
        return [SchemaProblem("missing_key", path, f"missing required key `{missing}`",
                              hint=required_hint(missing) if required_hint else "")]
    if isinstance(error_kind, jsonschema_rs.ValidationErrorKind.Enum):
        options = [str(o) for o in error_kind.options]
        value = error.instance
        close = did_you_mean(str(value), options) if isinstance(value, str) else ""
        return [SchemaProblem("enum", path, f"{json.dumps(value)} is not one of {', '.join(options)}",
                              hint=close or enum_hint or f"use one of: {', '.join(options)}")]
    if isinstance(error_kind, jsonschema_rs.ValidationErrorKind.Type):
        expected = types_text(owner.get("type"))
        return [SchemaProblem("type", path, f"expected {expected}, got {type_name(error.instance)}", hint=hint)]
    return None


def _to_findings(doc: Document, kind: str, error: Any) -> list[Finding]:
    path = tuple(error.instance_path)
    keyword = error.schema_path[-1] if error.schema_path else ""
    owner = _subschema(kind, list(error.schema_path))
    error_kind = error.kind

    def required_hint(missing: str) -> str:
        described = _resolve(kind, owner.get("properties", {}).get(missing, {})).get("description", "")
        return described or f"add `{missing}:`"

    if keyword == "oneOf" and all(set(b) == {"required"} for b in owner.get("oneOf", [])):
        choices = [b["required"][0] for b in owner["oneOf"]]
        value = error.instance if isinstance(error.instance, dict) else {}
        present = [c for c in choices if c in value]
        what = f"has {' and '.join(f'`{p}`' for p in present)}" if present else "has none of them"
        return [doc.finding(path, f"needs exactly one of {', '.join(f'`{c}`' for c in choices)}; it {what}",
                            code="schema", hint=owner.get("description", ""))]
    if keyword == "oneOf" and any("const" in b for b in owner.get("oneOf", [])):
        return _choice_findings(doc, kind, error, owner)
    if isinstance(error_kind, jsonschema_rs.ValidationErrorKind.Pattern):
        return [doc.finding(path, f"{json.dumps(error.instance)} does not match the expected form "
                                  f"(pattern {error_kind.pattern})", code="schema", hint=owner.get("description", ""))]
    problems = describe_error(error, owner, hint=owner.get("description", ""), required_hint=required_hint)
    if problems is None:
        return [doc.finding(path, _clean(error.message), code="schema", hint=owner.get("description", ""))]
    return [doc.finding(p.path, p.message, key=p.key, code="schema", hint=p.hint) for p in problems]


def _choice_findings(doc: Document, kind: str, error: Any, owner: dict[str, Any]) -> list[Finding]:
    """A value that fits none of a `oneOf` of a typed form and fixed words (`cluster_by`: a list of
    columns, or `auto`): the errors of the form of the value's own type (a list's duplicate or unknown
    items), else which words are allowed — not jsonschema's "valid under none of the schemas"."""
    path, value = tuple(error.instance_path), error.instance
    branches = owner["oneOf"]
    words = [b["const"] for b in branches if "const" in b]
    hint = owner.get("description", "")
    for branch, errors in zip(branches, getattr(error.kind, "context", [])):
        if "const" not in branch and _json_type(value) in _as_list(_resolve(kind, branch).get("type")):
            return [f for sub in errors for f in _to_findings(doc, kind, sub)]
    forms = [types_text(_resolve(kind, b).get("type")) for b in branches if "const" not in b]
    allowed = " or ".join(forms + [f"`{w}`" for w in words])
    if isinstance(value, str):
        close = did_you_mean(value, [w for w in words if isinstance(w, str)])
        return [doc.finding(path, f"{json.dumps(value)} is not {allowed}", code="schema", hint=close or hint)]
    return [doc.finding(path, f"expected {allowed}, got {type_name(value)}", code="schema", hint=hint)]


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return {dict: "object", list: "array", str: "string", int: "integer", float: "number"}.get(type(value), "null")


def _as_list(types: Any) -> list[str]:
    return types if isinstance(types, list) else [types] if types else []


def types_text(types: Any) -> str:
    """JSON Schema type names as words: `a mapping or a list`."""
    names = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
             "number": "a number", "boolean": "true or false", "null": "null"}
    if isinstance(types, list):
        return " or ".join(names.get(t, t) for t in types)
    return names.get(types, str(types))


def type_name(value: Any) -> str:
    """The kind of a YAML value, in words."""
    if value is None:
        return "null (an empty value)"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number"}.get(type(value), type(value).__name__)


def _clean(message: str) -> str:
    """jsonschema-rs messages embed whole instances; keep them short."""
    return re.sub(r"\{.{80,}?\} ", "value ", message)
