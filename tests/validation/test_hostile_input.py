"""Whatever a spec file contains, validation ends with located findings (or success) in bounded time:
never a traceback, never a crash of the interpreter, never a hang.

A corpus of broken files covers the known ways YAML hurts parsers (binary junk, bad encodings, deep
nesting, alias bombs, huge files); hypothesis then throws generated YAML texts, raw bytes and mutated
spec-shaped documents at the whole loader.
"""

from __future__ import annotations

import copy
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framework.findings import Finding
from framework.project import load_project
from framework.errors import DocumentError
from framework.spec.documents import MAX_BYTES, parse_document
from tests.validation.spec_project import DAILY_SPEND, EVENTS, LOCAL_ENV, RAW_EVENTS

TARGET = "tables/silver/events.yaml"
BILLION_LAUGHS = "\n".join(
    [f"l0: &l0 [{', '.join(['lol'] * 9)}]"]
    + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]) + "\n"

CORPUS: dict[str, bytes] = {
    "binary junk": random.Random(1).randbytes(4096),
    "empty file": b"",
    "only whitespace": b"   \n\n  \n",
    "only comments": b"# a spec\n# with nothing in it\n",
    "non-UTF-8 (latin-1)": "name: événements\n".encode("latin-1"),
    "UTF-16 with BOM": "name: events\n".encode("utf-16"),
    "NUL bytes": b"name: events\x00\nlayer: silver\n",
    "tab indentation": b"name: events\nsource:\n\ttables: [raw_events]\n",
    "10k unclosed [": b"[" * 10_000,
    "10k nested lists": b"[" * 10_000 + b"]" * 10_000,
    "10k nested mappings": b"{a: " * 10_000 + b"}" * 10_000,
    "deep block nesting": "".join(" " * i + f"k{i}:\n" for i in range(200)).encode(),
    "compact nested sequences": b"- " * 5_000 + b"x\n",
    "file over the size limit": b"name: events\ndescription: " + b"x" * (MAX_BYTES + 10) + b"\n",
    "billion laughs": BILLION_LAUGHS.encode(),
    "recursive alias": b"a: &a [*a]\n",
    "undefined alias": b"a: *nowhere\n",
    "duplicate keys": b"name: events\nname: events\n",
    "list at top level": b"- name: events\n- layer: silver\n",
    "scalar at top level": b"just some words\n",
    "number at top level": b"42\n",
    "merge keys": b"base: &b {name: events}\n<<: *b\n",
    "1 MB single line": b"description: " + b"y" * (MAX_BYTES - 100) + b"\n",
    "1 MB single flow list": b"tags: [" + b"a, " * ((MAX_BYTES - 100) // 3) + b"a]\n",
    "many findings": b"\n".join(f"key_{i}: {i}".encode() for i in range(20_000)) + b"\n",
    "complex key": b"? [a, b]\n: value\n",
    "python object tag": b"name: !!python/object/apply:os.system ['true']\n",
    "binary tag": b"name: !!binary aGVsbG8=\n",
    "bad timestamp": b"name: 2024-13-45\n",
    "huge integer": b"name: " + b"9" * 5_000 + b"\n",
    "set tag": b"tags: !!set {a, b}\n",
    "two documents": b"name: a\n---\nname: b\n",
    "unterminated quote": b"name: 'events\nlayer: silver\n",
    "control characters": b"name: ev\x07ents\x1b[31m\n",
    "lone surrogate escape": b'name: "\\ud800"\n',
    "invalid escape": b'name: "\\q"\n',
    "very long key": b"k" * 100_000 + b": 1\n",
    "sql bomb in a transform": ("name: events\nlayer: silver\ndescription: x\nsource: {tables: [raw_events]}\n"
                                "columns: [{name: a, type: STRING}]\ntransform:\n  sql: SELECT "
                                + "(" * 3000 + "1" + ")" * 3000 + " FROM source\n").encode(),
    "type bomb": b"name: events\nlayer: silver\ndescription: x\nsource: {tables: [raw_events]}\n"
                 b"columns: [{name: a, type: '" + b"ARRAY<" * 20000 + b"INT" + b"'}]\n",
}


def _project(root: Path, target_bytes: bytes | None = None, target_text: str | None = None) -> Path:
    (root / "environments").mkdir(parents=True, exist_ok=True)
    (root / "environments" / "local.yaml").write_text(LOCAL_ENV)
    for layer, name, text in (("bronze", "raw_events", RAW_EVENTS), ("gold", "daily_spend", DAILY_SPEND)):
        (root / "tables" / layer).mkdir(parents=True, exist_ok=True)
        (root / "tables" / layer / f"{name}.yaml").write_text(text)
    target = root / TARGET
    target.parent.mkdir(parents=True, exist_ok=True)
    if target_bytes is not None:
        target.write_bytes(target_bytes)
    else:
        target.write_text(target_text or "", encoding="utf-8", errors="surrogatepass")
    return root


def _assert_located(findings: list[Finding]) -> None:
    for finding in findings:
        assert finding.file and finding.line >= 1 and finding.column >= 1, finding
        assert finding.message.strip(), finding
        assert len(finding.message) < 2_000, finding.message[:200]
        assert "Traceback" not in finding.message


def _validate(root: Path) -> list[Finding]:
    project = load_project(root)
    _assert_located(project.findings)
    return project.findings


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", list(CORPUS))
def test_broken_file_ends_in_located_findings(name: str, tmp_path: Path) -> None:
    started = time.perf_counter()
    findings = _validate(_project(tmp_path, CORPUS[name]))
    assert time.perf_counter() - started < 15, "validation must stay bounded"
    own = [f for f in findings if f.file == TARGET]
    assert own, f"{name}: expected findings for {TARGET}"
    # The readers of the broken table are not buried in consequences of it.
    assert not any("does not exist" in f.message for f in findings if f.file != TARGET)


@pytest.mark.parametrize("name, expected", [
    ("binary junk", "not valid UTF-8"),
    ("empty file", "file is empty"),
    ("only comments", "file is empty"),
    ("non-UTF-8 (latin-1)", "file is not valid UTF-8 (byte 0xe9)"),
    ("NUL bytes", "file contains NUL bytes"),
    ("10k nested lists", "nesting deeper than 64 levels"),
    ("10k nested mappings", "nesting deeper than 64 levels"),
    ("compact nested sequences", "nesting deeper than 64 levels"),
    ("file over the size limit", "specs are limited to 1,000,000"),
    ("billion laughs", "(alias/anchor bomb?)"),
    ("duplicate keys", "duplicate key `name` (first defined at line 1)"),
    ("list at top level", "must be a YAML mapping of keys to values, not a list"),
    ("merge keys", "YAML merge keys (<<) are not supported"),
    ("python object tag", "is not supported in specs"),
    ("binary tag", "binary values are not allowed in specs"),
    ("huge integer", "invalid value '99999"),
    ("sql bomb in a transform", "SQL is nested too deeply to parse"),
])
def test_corpus_messages(name: str, expected: str, tmp_path: Path) -> None:
    findings = [f for f in _validate(_project(tmp_path, CORPUS[name])) if f.file == TARGET]
    assert any(expected in f.message for f in findings), [f.render() for f in findings]


@pytest.mark.timeout(60)
def test_broken_environment_files_end_in_located_findings(tmp_path: Path) -> None:
    for index, (name, raw) in enumerate(CORPUS.items()):
        root = _project(tmp_path / str(index), EVENTS.encode())
        (root / "environments" / "local.yaml").write_bytes(raw)
        findings = _validate(root)
        assert any(f.file == "environments/local.yaml" for f in findings), name


def test_environment_paths_with_braces_do_not_crash(tmp_path: Path) -> None:
    root = _project(tmp_path, EVENTS.encode())
    (root / "environments" / "local.yaml").write_text(
        LOCAL_ENV + "landing_path: /data/{weird}/{env}/x{\nstorage_root: '{'\n")
    project = load_project(root)
    assert project.errors == []
    assert str(project.environments["local"].landing_path) == "/data/{weird}/local/x{"


def test_findings_per_file_are_capped(tmp_path: Path) -> None:
    findings = [f for f in _validate(_project(tmp_path, CORPUS["many findings"])) if f.file == TARGET]
    assert len(findings) <= 60
    assert findings[-1].message.endswith("more schema errors in this file") or \
        any("more schema errors" in f.message for f in findings)


def test_non_utf8_is_located_at_the_byte(tmp_path: Path) -> None:
    findings = _validate(_project(tmp_path, b"name: events\nlayer: silv\xe9r\n"))
    finding = next(f for f in findings if f.file == TARGET)
    assert (finding.line, finding.column) == (2, 12)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("payload", [
    "b'[' * 200_000 + b']' * 200_000",
    "b'{a: ' * 100_000 + b'}' * 100_000",
    "b'[' * 400_000",
    "b'- ' * 400_000 + b'x'",
    "b'? ' * 400_000 + b'x'",
    "b'[' * 200_000 + b'\\t@'",
])
def test_extreme_nesting_does_not_crash_the_interpreter(payload: str) -> None:
    """libyaml's composer recurses in C: without the pre-scan these inputs kill Python with SIGSEGV.
    Run in a subprocess so that a regression fails this test instead of the whole session."""
    code = textwrap.dedent(f"""
        from framework.errors import DocumentError
        from framework.spec.documents import parse_document
        try:
            parse_document({payload}, "deep.yaml")
        except DocumentError as exc:
            print(exc.finding.render())
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-500:]}"
    assert done.stdout.startswith("deep.yaml:1:"), done.stdout


def test_symlink_loop_and_folders_named_yaml_are_skipped(tmp_path: Path) -> None:
    root = _project(tmp_path, RAW_EVENTS.replace("raw_events", "events").replace("bronze", "silver").encode())
    (root / "tables" / "silver" / "loop.yaml").symlink_to("loop.yaml")
    (root / "tables" / "silver" / "folder.yaml").mkdir()
    findings = _validate(root)
    assert all(f.file not in ("tables/silver/loop.yaml", "tables/silver/folder.yaml") for f in findings)


# ---------------------------------------------------------------------------------------------- fuzzing

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                database=None)


@pytest.mark.timeout(120)
@FUZZ
@given(st.binary(max_size=2_000))
def test_fuzz_bytes_never_raise(raw: bytes) -> None:
    try:
        doc = parse_document(raw, "fuzz.yaml")
    except DocumentError as exc:
        _assert_located([exc.finding])
    else:
        assert doc.file == "fuzz.yaml"


YAML_ALPHABET = st.sampled_from(list("abc:-[]{},&*!|>'\"#?%@`\\ \n\t0123456789.~") + ["name", "layer", "  ", "- ", ": "])


@pytest.mark.timeout(180)
@FUZZ
@given(st.lists(YAML_ALPHABET, max_size=300).map("".join))
def test_fuzz_yaml_like_texts_through_the_whole_loader(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        _validate(_project(Path(folder), text.encode("utf-8", "surrogatepass")))


def _mutations() -> st.SearchStrategy:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                        st.text(max_size=30), st.sampled_from(["raw_events", "events", "SELECT 1", "${nope}",
                                                                "amount > 0", "DROP TABLE x", "a.b:c", ""]))
    values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                           st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                          max_leaves=10)
    return st.lists(st.tuples(st.sampled_from(["set", "delete", "add"]), st.integers(0, 10_000), values), max_size=6)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, prefix + (index,))
    return out


def _mutate(spec: dict, operations: list) -> Any:
    data: Any = copy.deepcopy(spec)
    for op, pick, value in operations:
        paths = _paths(data)
        path = paths[pick % len(paths)]
        if not path:
            data = value if op == "set" else data
            continue
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        if op == "set":
            parent[path[-1]] = value
        elif op == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[f"extra_{pick}"] = value
        else:
            parent.insert(path[-1], value)
    return data


@pytest.mark.timeout(180)
@FUZZ
@given(_mutations(), st.sampled_from([RAW_EVENTS, EVENTS, DAILY_SPEND]))
def test_fuzz_mutated_specs_through_the_whole_loader(operations: list, base: str) -> None:
    spec = yaml.safe_load(base)
    mutated = _mutate(spec, operations)
    text = yaml.safe_dump(mutated, allow_unicode=True, sort_keys=False)
    with tempfile.TemporaryDirectory() as folder:
        findings = _validate(_project(Path(folder), text.encode("utf-8", "surrogatepass")))
        if not operations and base == EVENTS:
            assert findings == []
