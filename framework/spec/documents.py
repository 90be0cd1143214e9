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

from framework.errors import DocumentError
from framework.findings import Finding, tidy

_STR, _NULL, _BOOL, _INT, _SEQ, _MAP = (f"tag:yaml.org,2002:{t}" for t in ("str", "null", "bool", "int", "seq", "map"))
_BOOLS = SafeConstructor.bool_values

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader with a leaner tag resolver.

    The composer asks the resolver for the tag of every node (170,000 calls for 1,000 specs), and the
    default resolver also walks path resolvers we never register. Same answers, a third of the time.
    """

    _implicit = {first: tuple(resolvers) + tuple(_BaseLoader.yaml_implicit_resolvers.get(None, ()))
                 for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items() if first is not None}

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            if implicit[0]:
                for tag, regexp in self._implicit.get(value[:1], ()):
                    if regexp.match(value):
                        return tag
            return _STR
        return _SEQ if kind is SequenceNode else _MAP

MAX_BYTES = 1_000_000
"""A table spec is a page of YAML; anything near a megabyte is a mistake or an attack."""
MAX_NODES = 200_000
"""Upper bound on values after alias expansion (stops 'billion laughs')."""
MAX_DEPTH = 64
"""Deepest nesting of lists/mappings a spec may have (real specs need 5)."""
_SCAN_THRESHOLD = 2_000
"""Below this many `[`, `{`, `-` and `?` characters a file cannot nest deeply enough to hurt the composer."""
_OPENERS = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken, yaml.FlowMappingStartToken,
            yaml.FlowSequenceStartToken)
_CLOSERS = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


DocPath = tuple[str | int, ...]


@dataclass
class Document:
    """One YAML file: its data and the (line, column) of every value and key, 1-based."""

    file: str
    data: Any
    values: dict[DocPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[DocPath, tuple[int, int]] = field(default_factory=dict)
    texts: dict[DocPath, tuple[str, int, int]] = field(default_factory=dict)
    """For quoted and block scalars: their style and where their content starts (to locate SQL errors)."""

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

    def within(self, path: DocPath, text_line: int, text_column: int) -> tuple[int, int]:
        """File position of (line, column) inside the string at `path`, e.g. of a SQL syntax error.

        Exact for literal blocks (`|`) and for the first line of other scalars; elsewhere YAML folding
        has moved the characters around, so we fall back to where the value starts.
        """
        line, column = self.where(path)
        style, start_line, start_column = self.texts.get(path, ("", line, column))
        if style == "|":
            return start_line + text_line - 1, start_column + text_column - 1
        if text_line == 1:
            return start_line, start_column + text_column - 1
        return line, column

    def finding(self, path: DocPath, message: str, *, hint: str = "", key: bool = False,
                code: str = "invalid", severity: str = "error", at: tuple[int, int] | None = None) -> Finding:
        """A finding at the value (or key) at `path`; `at` = (line, column) inside that string value.

        A finding about a block scalar (`sql: |`) points at its first content line, not at the `|`.
        """
        if at is None and not key and self.texts.get(path, ("",))[0] in ("|", ">"):
            at = (1, 1)
        line, column = self.within(path, *at) if at else self.where(path, key=key)
        return Finding(self.file, line, column, tidy(message), tidy(format_path(path), 200), tidy(hint), code, severity)


def format_path(path: DocPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


Stamp = tuple[int, int]
_preloaded: dict[str, tuple[str, Stamp, Document | Finding]] = {}
"""Documents parsed ahead of time (by `framework.validation.prefetch`), by absolute path."""


def file_stamp(path: Path) -> Stamp | None:
    """(mtime in ns, size): enough to notice that a preloaded file changed since it was parsed."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


def preload(path: Path, display_name: str, stamp: Stamp, result: Document | Finding) -> None:
    """Remember the outcome of parsing `path` so the next `read_document` of it is free."""
    _preloaded[str(path)] = (display_name, stamp, result)


def preloaded_count() -> int:
    """Documents parsed ahead of time and not read yet."""
    return len(_preloaded)


def peek_preloaded(path: Path) -> Document | Finding | None:
    """What was parsed ahead of time for `path`, without using it up."""
    entry = _preloaded.get(str(path))
    return entry[2] if entry else None


def forget_preloaded() -> None:
    """Drop every document parsed ahead of time (the next reads parse the files)."""
    _preloaded.clear()


def read_document(path: Path, display_name: str | None = None) -> Document:
    """Load one YAML file. Raises DocumentError (never anything else) for unreadable input."""
    name = display_name or str(path)
    cached = _preloaded.pop(str(path), None)
    if cached is not None and cached[0] == name and cached[1] == file_stamp(path):
        if isinstance(cached[2], Finding):
            raise DocumentError(cached[2])
        return cached[2]
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
    _check_nesting(text, name)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise DocumentError(_syntax_finding(exc, text, name)) from None
    except RecursionError:
        raise DocumentError(Finding(name, 1, 1, "YAML nesting is too deep", code="too-deep")) from None
    doc = Document(name, None)
    if node is None:
        raise DocumentError(Finding(name, 1, 1, "file is empty", hint="a spec needs at least name, layer, description, source and columns", code="empty"))
    doc.data = _Builder(doc, text).build(node, (), 0)
    return doc


def _syntax_finding(exc: yaml.YAMLError, text: str, name: str) -> Finding:
    """A located finding for a libyaml scanner/parser/composer error."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return Finding(name, 1, 1, f"YAML error: {_first_line(str(exc))}", code="yaml")
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or exc.context or "invalid YAML"
    hint = ""
    if "\t" in text and ("tab" in str(exc).lower() or "cannot start any token" in str(exc)):
        hint = "YAML indentation must use spaces, not tabs"
    elif "another document" in problem:
        hint = "a spec file holds one YAML document; remove the `---` separator and what follows"
    return Finding(name, line, column, f"YAML syntax error: {problem}", hint=hint, code="yaml")


def _check_nesting(text: str, name: str) -> None:
    """Reject absurd nesting before libyaml composes the document.

    libyaml's composer recurses in C once per nesting level: a file of 50,000 `[` crashes the
    interpreter with a segmentation fault, which no `except` can catch. The scanner is iterative, so we
    count nesting on its tokens first. Ordinary specs skip this: nesting needs one of `[ { - ?` per
    level (or ever-deeper indentation, which a 1 MB file cannot reach past ~1,400 levels).
    """
    if sum(text.count(c) for c in "[{-?") <= _SCAN_THRESHOLD:
        return
    depth = 0
    try:
        for token in yaml.scan(text, Loader=_Loader):
            if isinstance(token, _OPENERS):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = token.start_mark
                    raise DocumentError(Finding(name, mark.line + 1, mark.column + 1,
                                                f"nesting deeper than {MAX_DEPTH} levels", code="too-deep"))
            elif isinstance(token, _CLOSERS):
                depth -= 1
    except yaml.YAMLError as exc:
        raise DocumentError(_syntax_finding(exc, text, name)) from None


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _short_tag(tag: str) -> str:
    return _first_line(tag.replace("tag:yaml.org,2002:", "!!"), 80)


def _short(value: str, limit: int = 60) -> str:
    return repr(value) if len(value) <= limit else repr(value[: limit - 1] + "…")


class _Builder:
    """Turns a composed node graph into plain Python data, recording positions as it goes."""

    def __init__(self, doc: Document, text: str = ""):
        self.doc = doc
        self.text = text
        self._lines: list[str] | None = None
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
        mark = node.start_mark
        self.doc.values.setdefault(path, (mark.line + 1, mark.column + 1))
        kind = type(node)
        if kind is ScalarNode:
            if node.style:
                self.record_text(node, path)
            return self.scalar(node)
        if kind is MappingNode and node.tag == _MAP:
            return self.mapping(node, path, depth)
        if kind is SequenceNode and node.tag == _SEQ:
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        raise self.fail(node, f"YAML tag `{_short_tag(node.tag)}` is not supported in specs",
                        hint="specs use plain YAML values; custom `!tags` are not supported")

    def record_text(self, node: ScalarNode, path: DocPath) -> None:
        """Where the content of a quoted or block scalar starts (after the quote; the first content line)."""
        mark = node.start_mark
        if node.style in "|>":
            if self._lines is None:
                self._lines = self.text.split("\n")
            index = mark.line + 1
            while index < len(self._lines) - 1 and not self._lines[index].strip():
                index += 1
            content = self._lines[index] if index < len(self._lines) else ""
            self.doc.texts.setdefault(path, (node.style, index + 1, len(content) - len(content.lstrip(" ")) + 1))
        else:
            self.doc.texts.setdefault(path, (node.style, mark.line + 1, mark.column + 2))

    def scalar(self, node: ScalarNode) -> Any:
        """Plain data from a scalar node. Strings, nulls, booleans and decimal integers (nearly every value
        in a spec) are converted here directly; PyYAML's constructor handles the rest (floats, hex,
        timestamps...) and rejects tags we do not support."""
        tag, value = node.tag, node.value
        if tag == _STR:
            return value
        if tag == _NULL:
            return None
        if tag == _BOOL and value.lower() in _BOOLS:
            return _BOOLS[value.lower()]
        if tag == _INT and value.isdigit() and (value == "0" or value[0] != "0") and len(value) < 100:
            return int(value)
        try:
            value = self.scalars.construct_object(node)
        except yaml.YAMLError as exc:
            problem = (getattr(exc, "problem", None) or _first_line(str(exc))).replace("tag:yaml.org,2002:", "!!")
            hint = "specs use plain YAML values; custom `!tags` are not supported" if node.tag.startswith("!") or \
                "python/" in node.tag else ""
            raise self.fail(node, f"invalid value: {problem}", hint=hint) from None
        except (ValueError, OverflowError, TypeError) as exc:
            raise self.fail(node, f"invalid value {_short(node.value)}: {_first_line(str(exc))}") from None
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
            if type(key_node) is not ScalarNode:
                raise self.fail(key_node, "mapping keys must be plain strings")
            key = key_node.value
            key_path = path + (key,)
            if key in out:
                first = self.doc.keys[key_path]
                raise self.fail(key_node, f"duplicate key `{key}` (first defined at line {first[0]})",
                                hint="remove one of them", code="duplicate-key")
            mark = key_node.start_mark
            self.doc.keys[key_path] = (mark.line + 1, mark.column + 1)
            out[key] = self.build(value_node, key_path, depth + 1)
        return out
