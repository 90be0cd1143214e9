"""Validate bundle files against the official Databricks bundle JSON Schema, offline.

The schema (≈900 KB, from the Databricks CLI source) lives beside the project in
`../shared/databricks/bundle.schema.json`. Its regexes use `\\p{..}` classes, which jsonschema-rs
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
from pathlib import Path
from typing import Any

import jsonschema_rs

from framework.deploy.bundle import Bundle
from framework.findings import Finding, did_you_mean
from framework.validation.schema import _type_name, _types_text

SCHEMA_FILE = Path("databricks") / "bundle.schema.json"


def official_schema_path(root: Path) -> Path | None:
    """`../shared/databricks/bundle.schema.json` relative to the project root, when present."""
    path = root.resolve().parent / "shared" / SCHEMA_FILE
    return path if path.is_file() else None


@lru_cache(maxsize=2)
def _load(path: str, mtime: float) -> tuple[dict[str, Any], Any]:
    schema = json.loads(Path(path).read_text("utf-8"))
    return schema, jsonschema_rs.Draft202012Validator(schema)


def load_schema(path: Path) -> tuple[dict[str, Any], Any]:
    """The parsed schema and its compiled validator (cached; recompiled if the file changes)."""
    return _load(str(path), path.stat().st_mtime)


def validate_bundle(bundle: Bundle, schema_path: Path) -> list[Finding]:
    """Schema findings for the bundle, each located in the file that holds the offending value.

    The merged configuration is validated, as the CLI does: a target override in one file may rely on
    required keys (a schema's `name`) written in another.
    """
    schema, validator = load_schema(schema_path)
    findings = [doc.finding((), f"a bundle file must be a YAML mapping, not {_type_name(doc.data)}",
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
    kind = error.kind
    owner = _node(schema, list(error.schema_path)[:-1])
    described = _description(schema, path)
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties):
        allowed = list(owner.get("properties", {}))
        return [bundle.finding([path + (key,)], f"unknown key `{key}`", key=True, code="bundle-schema",
                               hint=did_you_mean(key, allowed) or f"allowed keys: {', '.join(sorted(allowed))}")
                for key in kind.unexpected]
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Required):
        return [bundle.finding([path], f"missing required key `{kind.property}`", code="bundle-schema", key=True)]
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Enum):
        options = [str(o) for o in kind.options]
        value = error.instance
        return [bundle.finding([path], f"{json.dumps(value)} is not one of {', '.join(options)}", code="bundle-schema",
                               hint=(did_you_mean(str(value), options) if isinstance(value, str) else "") or described)]
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Type):
        return [bundle.finding([path], f"expected {_types_text(owner.get('type'))}, got {_type_name(error.instance)}",
                               code="bundle-schema", hint=described)]
    message = error.message if len(error.message) < 200 else error.message[:197] + "..."
    return [bundle.finding([path], message, code="bundle-schema", hint=described)]


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
