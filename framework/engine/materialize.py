"""Materialized views: recompute a view only when what it was computed from changed.

A view's *fingerprint* is the data version of every table it reads (through views, which hold no data:
`TableGraph.inputs`), its spec, and the environment's variables. It is saved beside the view's
checkpoint after each recomputation; an update whose fingerprint matches leaves the view as it is
(UP_TO_DATE), as DLT does for a materialized view whose sources did not change.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from framework.delta_log import is_delta_table
from framework.engine.tables import data_version
from framework.errors import FlowError
from framework.naming import TableRef

if TYPE_CHECKING:
    from framework.engine.flows import FlowRun
    from framework.engine.plan import PlannedFlow
    from framework.spec.environment import Environment
    from framework.spec.model import TableSpec
    from framework.spec.project import Project

INPUTS_STATE = "_inputs.json"


class Materializer:
    def __init__(self, project: "Project", env: "Environment"):
        self.project, self.env = project, env
        self.graph = project.graph()

    def refresh(self, item: "PlannedFlow", run: "FlowRun") -> bool:
        """Recompute `item`'s view if its fingerprint changed (or it does not exist). True if it ran."""
        assert item.flow is not None
        df = item.flow.source.query()
        if df.isStreaming:
            raise FlowError(f"{item.flow.name}: a materialized view needs a batch source (source.mode: batch)")
        fingerprint = self.fingerprint(item.spec)
        if self.is_current(item.spec, fingerprint):
            return False
        state = run.checkpoint / INPUTS_STATE
        run.prepare(df)
        run.process_batch(df, None)
        state.parent.mkdir(parents=True, exist_ok=True)
        state.write_text(json.dumps({"inputs": fingerprint}))
        return True

    def is_current(self, spec: "TableSpec", fingerprint: str | None = None) -> bool:
        """True when the view exists and was computed from what it would be computed from now."""
        ref = TableRef.of(spec, self.env)
        state = ref.checkpoint / INPUTS_STATE
        if not (is_delta_table(ref.path) and state.is_file()):
            return False
        try:
            saved = json.loads(state.read_text()).get("inputs")
        except ValueError:
            return False
        return saved == (fingerprint or self.fingerprint(spec))

    def fingerprint(self, spec: "TableSpec") -> str:
        """What the view would be computed from now: input data versions, spec and variables."""
        inputs: dict[str, int | None] = {}
        for name in self.graph.inputs(spec.name):
            ref = TableRef.of(self.project.tables[name], self.env)
            inputs[ref.published] = data_version(ref.path)
        document = spec.document.data if spec.document else repr(spec)
        payload = json.dumps({"inputs": inputs, "spec": document, "variables": self.env.variables()},
                             sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()
