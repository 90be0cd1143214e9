"""Project check kinds: `{name: "module:function"}` (`check_kinds:` in medallion.yaml) -> callables.

A check kind is `function(ctx, spec, params) -> Iterable[CheckResult]`: `ctx` is the `CheckContext`
(framework/checks/context.py), `spec` the `TableSpec` declaring `- kind: <name>` under `checks.custom`,
`params` the entry's parameters over the environment's `checks.<name>` defaults. It uses only the public
API of framework/checks (the context and `framework.checks.results`). The table exists when it is
called (a missing one is reported before, as a critical FAIL).

Modules are imported from the project root, as Python transforms are. A reference that does not import
is not a crash of the whole gate: every check of that kind becomes a critical FAIL saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from framework.errors import UnresolvedReference
from framework.references import import_reference

if TYPE_CHECKING:
    from framework.checks.results import CheckResult
    from framework.spec.model import TableSpec

CheckFunction = Callable[[Any, "TableSpec", dict[str, Any]], Iterable["CheckResult"]]
"""(ctx: CheckContext, spec, params) -> results (the context is typed `Any` here: it imports this module)."""


@dataclass(frozen=True)
class CheckKind:
    name: str
    reference: str
    """`module:function`, as declared."""
    function: CheckFunction | None
    error: str = ""
    """Why `function` is None: the import or lookup failed (one line)."""


def resolve_kinds(declared: Mapping[str, str], root: Path) -> dict[str, CheckKind]:
    """Import each declared kind's function from the project root; one that does not import is kept
    with the one-line reason, so every check of that kind can FAIL saying why."""
    return {name: _resolve(name, reference, root) for name, reference in declared.items()}


def _resolve(name: str, reference: str, root: Path) -> CheckKind:
    try:
        return CheckKind(name, reference, import_reference(reference, root))
    except UnresolvedReference as exc:
        return CheckKind(name, reference, None, str(exc))
