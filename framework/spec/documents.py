"""Read a YAML file into plain data plus a map of where every value sits in the file.

Validation errors must point at a line and column, so we cannot use `yaml.safe_load` (it forgets
positions). We compose the node graph with libyaml (PyYAML's C loader, fast enough for thousands of
specs) and build the plain data ourselves, recording the position of every key and value. Building it
ourselves also lets us reject what a hostile file may contain — duplicate keys, alias "billion laughs"
bombs, absurd nesting, non-UTF-8 bytes — as located findings instead of crashes or hangs.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from framework.findings import Finding

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_BYTES = 1_000_000
"""A table spec is a page of YAML; anything near a megabyte is a mistake or an attack."""
MAX_NODES = 200_000
"""Upper bound on values after alias expansion (stops 'billion laughs')."""
MAX_DEPTH = 64


DocPath = tuple[str | int, ...]


@dataclass
class Document:
    """One YAML file: its data and the (line, column) of every value and key, 1-based."""

    file: str
    data: Any
    values: dict[DocPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[DocPath, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: DocPath, *, key: bool = False) -> tuple[int, int]:
        """Position of the value (or its key) at `path`, falling back to the nearest parent."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))

    def finding(self, path: DocPath, message: str, *, hint: str = "", key: bool = False,
                code: str = "invalid", severity: str = "error") -> Finding:
        line, column = self.where(path, key=key)
        return Finding(self.file, line, column, message, format_path(path), hint, code, severity)


def format_path(path: DocPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class DocumentError(Exception):
    """The file could not be read as YAML; carries a located finding."""

    def __init__(self, finding: Finding):
        super().__init__(finding.render())
        self.finding = finding


def read_document(path: Path, display_name: str | None = None) -> Document:
    """Load one YAML file. Raises DocumentError (never anything else) for unreadable input."""
    name = display_name or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DocumentError(Finding(name, 1, 1, f"cannot read file: {exc.strerror or exc}", code="io")) from None
    return parse_document(raw, name)


def parse_document(raw: bytes, name: str) -> Document:
    if len(raw) > MAX_BYTES:
        raise DocumentError(Finding(name, 1, 1, f"file is {len(raw):,} bytes; specs are limited to {MAX_BYTES:,}",
                                    hint="split the file or remove generated content", code="too-large"))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DocumentError(Finding(name, line, column, f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                                    hint="save the file as UTF-8", code="encoding")) from None
    if "\x00" in text:
        index = text.index("\x00")
        line = text.count("\n", 0, index) + 1
        raise DocumentError(Finding(name, line, 1, "file contains NUL bytes; it looks binary, not YAML", code="encoding"))
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        hint = "YAML indentation must use spaces, not tabs" if "\t" in text and "tab" in str(exc).lower() else ""
        raise DocumentError(Finding(name, line, column, f"YAML syntax error: {problem}", hint=hint, code="yaml")) from None
    except yaml.YAMLError as exc:
        raise DocumentError(Finding(name, 1, 1, f"YAML error: {exc}", code="yaml")) from None
    except RecursionError:
        raise DocumentError(Finding(name, 1, 1, "YAML nesting is too deep", code="yaml")) from None
    doc = Document(name, None)
    if node is None:
        raise DocumentError(Finding(name, 1, 1, "file is empty", hint="a spec needs at least name, layer, description, source and columns", code="empty"))
    doc.data = _Builder(doc).build(node, (), 0)
    return doc


class _Builder:
    """Turns a composed node graph into plain Python data, recording positions as it goes."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.count = 0
        self.scalars = SafeConstructor()

    def fail(self, node: Node, message: str, hint: str = "", code: str = "yaml") -> DocumentError:
        mark = node.start_mark
        return DocumentError(Finding(self.doc.file, mark.line + 1, mark.column + 1, message, hint=hint, code=code))

    def build(self, node: Node, path: DocPath, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, f"document expands to more than {MAX_NODES:,} values (alias/anchor bomb?)", code="too-large")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nesting deeper than {MAX_DEPTH} levels", code="too-deep")
        self.doc.values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if isinstance(node, SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self.mapping(node, path, depth)
        raise self.fail(node, "unsupported YAML node")

    def scalar(self, node: ScalarNode) -> Any:
        try:
            value = self.scalars.construct_object(node)
        except yaml.YAMLError as exc:
            raise self.fail(node, f"invalid value: {exc}") from None
        except (ValueError, OverflowError) as exc:
            raise self.fail(node, f"invalid value {node.value!r}: {exc}") from None
        if isinstance(value, (_dt.date, _dt.datetime)):
            return value.isoformat()
        if isinstance(value, bytes):
            raise self.fail(node, "binary values are not allowed in specs")
        return value

    def mapping(self, node: MappingNode, path: DocPath, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self.fail(key_node, "YAML merge keys (<<) are not supported in specs", hint="write the keys out")
            if not isinstance(key_node, ScalarNode):
                raise self.fail(key_node, "mapping keys must be plain strings")
            key = key_node.value
            if key in out:
                first = self.doc.keys[path + (key,)]
                raise self.fail(key_node, f"duplicate key `{key}` (first defined at line {first[0]})",
                                hint="remove one of them", code="duplicate-key")
            self.doc.keys[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.build(value_node, path + (key,), depth + 1)
        return out
