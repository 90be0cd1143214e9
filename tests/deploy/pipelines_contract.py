"""The pipelines API as Databricks publishes it, and a recorder that checks every call against it.

Databricks publishes the `dlt` module's interface as the PyPI stub package `databricks-dlt`; `make
setup` installs it without its dependencies (databricks-connect would replace pyspark) into
`.cache/dlt-stub/`, and `load_stub()` imports it under another name, so nothing called `dlt` is shadowed.
The newer `pyspark.pipelines` (dp) names are checked against the open-source `pyspark.pipelines`
signatures where that module has the function, and against the stub's legacy counterpart (Databricks
documents `create_auto_cdc_flow` as having `apply_changes`' signature): a call must fit both.

`Recorder` stands in for the module while `framework.pipeline.register_pipeline` registers the real
project: it offers exactly the published names (anything else is an AttributeError, so
`hasattr`-based capability checks see the real module's shape), records every call and every
decorator application, and `violations()` binds each call with `inspect.signature(...).bind` and checks
the values against the annotations the published signatures carry.
"""

from __future__ import annotations

import collections.abc
import importlib.util
import inspect
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[2]
STUB_DIR = REPO / ".cache" / "dlt-stub"
STUB_VERSION = "0.3.0"
STUB_MODULE = "databricks_dlt_stub"

DECORATORS = frozenset({"table", "view", "materialized_view", "temporary_view", "append_flow", "expect",
                        "expect_or_drop", "expect_or_fail", "expect_all", "expect_all_or_drop", "expect_all_or_fail"})
"""Functions that return a decorator (or decorate directly, when handed the query function)."""
DP_COUNTERPARTS = {"table": "table", "materialized_view": "table", "temporary_view": "view",
                   "create_streaming_table": "create_streaming_table", "create_auto_cdc_flow": "apply_changes",
                   "expect_all": "expect_all", "expect_all_or_drop": "expect_all_or_drop",
                   "expect_all_or_fail": "expect_all_or_fail"}
"""A `pyspark.pipelines` name -> the function of the legacy `dlt` module it replaces."""


def load_stub() -> types.ModuleType:
    """The databricks-dlt stub's `dlt` package, imported as `databricks_dlt_stub`."""
    if STUB_MODULE in sys.modules:
        return sys.modules[STUB_MODULE]
    package = STUB_DIR / "dlt"
    metadata = STUB_DIR / f"databricks_dlt-{STUB_VERSION}.dist-info" / "METADATA"
    if not (package / "__init__.py").is_file() or not metadata.is_file():
        raise FileNotFoundError(f"databricks-dlt {STUB_VERSION} is not in {STUB_DIR}: run `make setup`")
    spec = importlib.util.spec_from_file_location(STUB_MODULE, package / "__init__.py",
                                                  submodule_search_locations=[str(package)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[STUB_MODULE] = module  # the package's relative imports (.api, .helpers) resolve under this name
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Published:
    """One published signature of a function: where it comes from, and the function itself."""

    source: str
    function: Callable[..., Any]

    @property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.function)

    def hints(self) -> dict[str, Any]:
        try:
            return typing.get_type_hints(self.function)
        except Exception:  # an annotation that does not resolve is not checked
            return {}


def legacy_api() -> dict[str, list[Published]]:
    """The `dlt` module: every public function of the stub."""
    stub = load_stub()
    return {name: [Published(f"databricks-dlt {STUB_VERSION} dlt.{name}", getattr(stub, name))]
            for name in stub.__all__}


def dp_api(names: tuple[str, ...]) -> dict[str, list[Published]]:
    """Databricks' `pyspark.pipelines`: each name bound to open-source pyspark's and the stub's counterpart."""
    from pyspark import pipelines as open_source

    stub = load_stub()
    api: dict[str, list[Published]] = {}
    for name in names:
        published = []
        if hasattr(open_source, name):
            published.append(Published(f"pyspark.pipelines.{name} (open source)", getattr(open_source, name)))
        counterpart = DP_COUNTERPARTS[name]
        published.append(Published(f"databricks-dlt {STUB_VERSION} dlt.{counterpart}", getattr(stub, counterpart)))
        api[name] = published
    return api


@dataclass
class Call:
    function: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    applied: bool = False
    """A decorator application: `args` is the decorated query function."""

    def render(self) -> str:
        shown = [_short(a) for a in self.args] + [f"{k}={_short(v)}" for k, v in self.kwargs.items()]
        return f"{'@' if self.applied else ''}{self.function}({', '.join(shown)})"


@dataclass
class Recorder:
    """Stands in for the pipelines module; offers exactly `api`'s names and records what is called."""

    api: dict[str, list[Published]]
    label: str
    calls: list[Call] = field(default_factory=list)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__") or name not in self.api:
            raise AttributeError(f"{self.label} has no function `{name}`")

        def record(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(Call(name, args, kwargs))
            if name not in DECORATORS:
                return None
            if args and callable(args[0]):  # used as a bare decorator: the query function itself
                return args[0]

            def apply(function: Callable[..., Any]) -> Callable[..., Any]:
                self.calls.append(Call(name, (function,), {}, applied=True))
                return function

            return apply

        # capability checks (`inspect.signature`, e.g. for `cluster_by_auto`) see the published
        # signature; with two (open source and the stub), the stub's, which every call must fit too
        record.__signature__ = self.api[name][-1].signature  # type: ignore[attr-defined]
        record.__name__ = name
        return record

    def violations(self) -> list[str]:
        """One message per call that a published signature rejects."""
        found = []
        for call in self.calls:
            if call.applied:
                found.extend(_check_application(call))
                continue
            for published in self.api[call.function]:
                try:
                    bound = published.signature.bind(*call.args, **call.kwargs)
                except TypeError as exc:
                    found.append(f"{call.render()}: {published.source} rejects it: {exc}")
                    continue
                hints = published.hints()
                for parameter, value in bound.arguments.items():
                    expected = hints.get(parameter)
                    if expected is not None and not conforms(value, expected):
                        found.append(f"{call.render()}: {published.source} expects `{parameter}` to be "
                                     f"{_type_text(expected)}, got {type(value).__name__} {_short(value)}")
        return found


def _check_application(call: Call) -> list[str]:
    """A decorated query function must be callable without arguments (the runtime calls it so)."""
    function = call.args[0]
    if not callable(function):
        return [f"{call.render()}: decorates {type(function).__name__}, not a function"]
    try:
        inspect.signature(function).bind()
    except TypeError as exc:
        return [f"{call.render()}: the query function must take no arguments ({exc})"]
    return []


def conforms(value: Any, expected: Any) -> bool:
    """Whether `value` fits a plain typing annotation (unknown forms are not checked)."""
    origin = typing.get_origin(expected)
    args = typing.get_args(expected)
    if expected is Any:
        return True
    if expected is type(None) or expected is None:
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, option) for option in args)
    if origin is typing.Literal:
        return value in args
    if origin in (list, collections.abc.Collection, collections.abc.Sequence):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, set, frozenset)):
            return False
        if origin is list and not isinstance(value, list):
            return False
        return not args or all(conforms(item, args[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict) and (not args or all(conforms(k, args[0]) and conforms(v, args[1])
                                                            for k, v in value.items()))
    if origin is collections.abc.Callable or expected is collections.abc.Callable:
        return callable(value)
    if isinstance(expected, type):
        return isinstance(value, expected)
    return True


def _type_text(expected: Any) -> str:
    return str(expected).replace("typing.", "")


def _short(value: Any, limit: int = 60) -> str:
    text = getattr(value, "__name__", None) if callable(value) else None
    text = text or repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
