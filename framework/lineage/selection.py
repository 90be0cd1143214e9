"""`state:modified` in a table selection (as in dbt): the tables whose specs differ from a git revision.

`run --tables state:modified+` selects the changed tables and every table reading them; `+state:modified`
adds what they read from. Other names in the list are kept as they are.
"""

from __future__ import annotations

from framework.errors import RunError
from framework.graph import selector
from framework.lineage.changes import compare
from framework.lineage.gitref import default_ref, project_at
from framework.spec.project import Project

STATE_MODIFIED = "state:modified"


def uses_state(names: list[str] | None) -> bool:
    return any(selector(n)[0] == STATE_MODIFIED for n in names or ())


def expand_state(names: list[str], project: Project, ref: str | None = None) -> tuple[list[str], str]:
    """`names` with each `[+]state:modified[+]` replaced by the modified tables (each with the same `+`s);
    returns them and the revision compared with."""
    ref = ref or default_ref(project.root)
    modified: list[str] | None = None
    out: list[str] = []
    for pattern in names:
        name, upstream, downstream = selector(pattern)
        if name != STATE_MODIFIED:
            out.append(pattern)
            continue
        if modified is None:
            modified = compare(project_at(project.root, ref, project), project).modified
        out += [("+" if upstream else "") + table + ("+" if downstream else "") for table in modified]
    if not out:
        raise RunError(f"no table spec differs from {ref}: `{STATE_MODIFIED}` selects nothing")
    return out, ref
