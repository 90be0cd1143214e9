"""Every error Medallion raises on purpose, under one base class.

The CLI catches `MedallionError` once (framework/cli/__init__.py), prints its message and exits with
its `exit_code`; nobody parses exception text to decide what happened. Each class says what kind of
problem it is, and carries structured detail where a caller needs more than the message
(`ExpectationViolation.sample`, `DocumentError.finding`, `HttpStatusError.status`...).

    MedallionError                      exit code 1
    ├── UsageError                      exit code 2: the command cannot run as asked
    │   ├── SetupError                  Java or the Delta jars are missing
    │   └── RunError                    a run cannot start (unknown table, storage in use...)
    ├── SpecError                       a spec cannot be read or turned into datasets
    │   ├── DocumentError               a YAML file cannot be read (carries a located Finding)
    │   └── PipelineDefinitionError     a spec cannot become DLT datasets (never retried)
    ├── FlowError                       a flow of an update failed (retried in production mode)
    │   ├── ExpectationViolation        a `fail` expectation was not met (never retried)
    │   ├── ViewExpectationViolation    ... by a row of a view, seen by the flow reading it (never retried)
    │   ├── SchemaEvolutionError        landing files bring fields the spec refuses (never retried)
    │   ├── CastError                   a value cannot be cast to its declared column type (never retried)
    │   └── FilesNotSettled             landing files still being written: not a failure, a replay
    ├── DeltaLogError                   a Delta transaction log cannot be read without Spark
    ├── WorkspaceError, RenderError, GrantError (exit code 2)   Databricks bundle and workspace
    └── DocsError                       the documentation site

A project's own code (its job tasks) subclasses MedallionError too, so the CLI reports its errors the
same way.

Messages are for people: one line (or one paragraph) saying what is wrong and how to fix it.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from framework.findings import Finding


class MedallionError(Exception):
    """Base of every deliberate Medallion error; `str()` is the message for people."""

    exit_code = 1
    retryable = False
    """Whether running the same thing again may succeed (a transient failure, not a definition error)."""


class UsageError(MedallionError):
    """The command cannot do what was asked (exit code 2, as for a wrong option)."""

    exit_code = 2


class SetupError(UsageError):
    """Java or the Delta jars are missing; the message says what to do, in one line."""


class RunError(UsageError):
    """The run could not start (bad selection, storage in use...); the message says why."""


class UnresolvedReference(UsageError):
    """A `module:function` the project names (a task's `run`, a check kind, a Python transform) does not
    import or is no callable; the message is one line naming it and the cause (framework/references.py)."""


class SpecError(MedallionError):
    """A spec cannot be read or used."""


class DocumentError(SpecError):
    """A file could not be read as YAML; carries a located finding."""

    def __init__(self, finding: "Finding"):
        super().__init__(finding.render())
        self.finding = finding


class PipelineDefinitionError(SpecError):
    """A spec cannot be turned into DLT datasets; the message names the spec file and what is wrong."""


class FlowError(MedallionError):
    """A flow failed; `str()` is a one-paragraph explanation for people. Transient unless a subclass says not."""

    retryable = True


class ExpectationViolation(FlowError):
    """A `fail` expectation was not met: names the rule, how many rows failed and shows one of them."""

    retryable = False

    def __init__(self, dataset: str, rule: str, expression: str, failed: int, sample: dict[str, Any]):
        self.dataset, self.rule, self.expression, self.failed, self.sample = dataset, rule, expression, failed, sample
        shown = json.dumps(sample, default=str, ensure_ascii=False)
        super().__init__(f"expectation `{rule}` ({expression}) failed for {failed} row(s) of {dataset}; "
                         f"first failing row: {shown}")


class ViewExpectationViolation(FlowError):
    """A flow read a row of a view that violates one of the view's `fail` expectations (the message,
    raised inside the query, names the rule, the view and the row)."""

    retryable = False


class SchemaEvolutionError(FlowError):
    """A landing file has fields the spec does not allow (`schema_evolution: none`)."""

    retryable = False


class CastError(FlowError):
    """The query gave a value that cannot be cast to its declared column type (`on_type_error: fail`);
    the message names the spec file, the column, the value and the type."""

    retryable = False


class FilesNotSettled(FlowError):
    """Files of a micro-batch are still being written: nothing was written, the stream must be restarted."""

    def __init__(self, table: str, files: list[str]):
        from pathlib import PurePath

        self.files = files
        shown = ", ".join(PurePath(f).name for f in files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
        super().__init__(f"{table}: landing file(s) still being written: {shown}; they are read once they "
                         "settle (land files atomically: write a temp file, then rename it)")


class DeltaLogError(MedallionError):
    """A Delta log cannot be read into a snapshot (gaps without a checkpoint, unreadable files)."""


class WorkspaceError(MedallionError):
    """Anything that stops a workspace command, as one line fit for the terminal."""


class RenderError(MedallionError):
    """The bundle templates are missing or broken; the message says which and where."""


class GrantError(MedallionError):
    """A principal variable has no value; the message says which and how to pass it."""

    exit_code = 2


class DocsError(MedallionError):
    """The documentation site cannot be generated as asked."""


_CLASS_PREFIX = re.compile(r"(?:^|\b)(?:[\w.]+\.)?(?:" + "|".join(
    ("FlowError", "ExpectationViolation", "SchemaEvolutionError", "PipelineDefinitionError", "FilesNotSettled",
     "CastError"))
    + r"): ")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, safe on empty messages.

    Spark hands back exceptions raised inside a streaming batch function as Java text that embeds the
    Python one (`... FlowError: <message>`); the message after our own class name is the useful part.
    """
    text = str(exc).strip()
    if match := _CLASS_PREFIX.search(text):
        text = text[match.end():]
    lines = text.splitlines()
    return lines[0].strip() if lines and lines[0].strip() else type(exc).__name__


_IO_CAUSE = re.compile(r"(?:IOException|OSError|FileSystemException)[^:\n]*: ([^\n]+)")


def io_root_cause(exc: BaseException) -> str:
    """The innermost I/O cause of a (Java) exception, e.g. `No space left on device`, else its first line."""
    causes = _IO_CAUSE.findall(str(exc))
    return causes[-1].strip() if causes else first_line(exc)
