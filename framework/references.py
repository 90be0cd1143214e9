"""The project's own code named in its files as `module:function`: a job task's `run`, a check kind
(`check_kinds:` in medallion.yaml) and a Python transform (`transform.python`).

One way to import them, so the three behave alike: the module is imported with the project root first
on the import path, and anything that goes wrong while importing it — a missing dependency, a syntax
error, an exception raised at import time — is the project's code failing, not Medallion: it becomes an
`UnresolvedReference` whose message is one line naming the reference and the cause, never a traceback.
Each caller says where the reference came from (the spec file, the task, the check kind).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any, Callable

from framework.errors import UnresolvedReference


def import_reference(reference: str, root: Path | None = None) -> Callable[..., Any]:
    """The callable `reference` (`module:function`) names, imported with `root` first on sys.path."""
    module_name, separator, attribute = reference.partition(":")
    if not separator or not module_name.strip() or not attribute.strip():
        raise UnresolvedReference(f"`{reference}` is not `module:function`")
    if root is not None and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the project's module failed to import, whatever the reason: said in one line
        raise UnresolvedReference(f"cannot import `{module_name}` (for `{reference}`): {_one_line(exc)}") from None
    target = getattr(module, attribute, None)
    if not callable(target):
        raise UnresolvedReference(f"`{reference}`: module `{module_name}` has no callable `{attribute}`")
    return target


def _one_line(exc: BaseException) -> str:
    """`No module named 'x'` for an ImportError (its text says it all), `SyntaxError: ...` for the rest."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text if isinstance(exc, ImportError) else f"{type(exc).__name__}: {text}".rstrip(": ")
