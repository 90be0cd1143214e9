"""The lineage graph, laid out by Graphviz `dot` and embedded as SVG.

We describe the graph (nodes, edges, one cluster per stage) with the `graphviz` package and let `dot`
do the layout: a maintained layout engine instead of hand-placed boxes, and the same input always
gives the same SVG, so pages diff cleanly. Each table node is an SVG link to its page; each node has a
stable id (`node-<table>`) so tests and readers can address it.
"""

from __future__ import annotations

import html
import re
from typing import Callable, Iterable

import graphviz

from framework.docs.catalog import CHECKS_NODE, Catalog, Landing, TableDoc
from framework.errors import DocsError
from framework.graph import TableGraph
from framework.naming import TableRef
from framework.spec.model import LAYERS

Link = Callable[[str], str]
"""Maps a table name to the URL of its page, relative to the page that embeds the graph."""

FONT = "Helvetica,Arial,sans-serif"
STAGE_STYLE = {
    "landing": {"fillcolor": "#eef3f8", "color": "#8aa4bf"},
    "bronze": {"fillcolor": "#f6e7d8", "color": "#b07a47"},
    "silver": {"fillcolor": "#eceff2", "color": "#8c97a3"},
    "gold": {"fillcolor": "#fbf1cf", "color": "#c09a2b"},
    "checks": {"fillcolor": "#e8f4ea", "color": "#5f9a6b"},
}
KIND_LABEL = {"streaming_table": "streaming table", "materialized_view": "materialized view", "view": "view"}
_COMMENT = re.compile(r"<!--.*?-->\s*", re.S)
_PROLOG = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*", re.S)


def node_id(table: str) -> str:
    return f"node-{table}"


def _new_graph(graph_id: str) -> graphviz.Digraph:
    graph = graphviz.Digraph(name=graph_id)
    graph.attr(rankdir="LR", compound="true", nodesep="0.25", ranksep="0.55", bgcolor="transparent",
               fontname=FONT, fontsize="11", id=graph_id)
    graph.attr("node", fontname=FONT, fontsize="11", style="filled,rounded", shape="box", margin="0.15,0.06")
    graph.attr("edge", color="#7b8794", arrowsize="0.7")
    return graph


def _table_label(doc: TableDoc) -> str:
    kind = KIND_LABEL.get(doc.spec.kind, doc.spec.kind)
    return f'<<B>{html.escape(doc.name)}</B><BR/><FONT POINT-SIZE="9">{html.escape(kind)}</FONT>>'


def _add_table(cluster: graphviz.Digraph, doc: TableDoc, link: Link, *, current: bool = False) -> None:
    cluster.node(doc.name, label=_table_label(doc), id=node_id(doc.name), URL=link(doc.name), target="_top",
                 tooltip=f"{doc.name} ({doc.layer}): {doc.summary}", penwidth="2.5" if current else "1",
                 **STAGE_STYLE[doc.layer])


def _add_landings(graph: graphviz.Digraph, landings: Iterable[Landing]) -> None:
    landings = list(landings)
    if not landings:
        return
    with graph.subgraph(name="cluster_landing") as cluster:
        cluster.attr(label="landing", id="cluster-landing", style="dashed", color="#b8c4d0", fontcolor="#52606d")
        for landing in landings:
            cluster.node(landing.id, label=landing.path, shape="folder", style="filled", id=f"node-{landing.id}",
                         tooltip=f"landing folder {landing.spec_path}", **STAGE_STYLE["landing"])


def _add_layers(graph: graphviz.Digraph, docs: Iterable[TableDoc], link: Link, current: str | None) -> dict[str, str]:
    """One cluster per layer; returns the first node of each non-empty layer (to anchor cluster edges)."""
    anchors: dict[str, str] = {}
    docs = list(docs)
    for layer in LAYERS:
        members = [d for d in docs if d.layer == layer]
        if not members:
            continue
        anchors[layer] = members[0].name
        with graph.subgraph(name=f"cluster_{layer}") as cluster:
            cluster.attr(label=layer, id=f"cluster-{layer}", style="dashed", color="#c5ccd3", fontcolor="#52606d")
            for doc in members:
                _add_table(cluster, doc, link, current=doc.name == current)
    return anchors


def _add_edges(graph: graphviz.Digraph, docs: Iterable[TableDoc]) -> None:
    docs = list(docs)
    names = {d.name for d in docs}
    for doc in docs:
        if doc.landing is not None:
            graph.edge(doc.landing.id, doc.name)
        for upstream in doc.upstreams:
            if upstream in names:
                graph.edge(upstream, doc.name)


def pipeline_graph(catalog: Catalog, link: Link, checks_url: str) -> graphviz.Digraph:
    """The whole pipeline: landing -> bronze -> silver -> gold -> quality checks (which also read the event log)."""
    graph = _new_graph("lineage")
    _add_landings(graph, catalog.landings)
    anchors = _add_layers(graph, catalog.tables, link, None)
    _add_edges(graph, catalog.tables)
    checked = [layer for layer in ("silver", "gold") if layer in anchors]
    if checked:
        with graph.subgraph(name="cluster_checks") as cluster:
            cluster.attr(label="checks", id="cluster-checks", style="dashed", color="#c5ccd3", fontcolor="#52606d")
            cluster.node(CHECKS_NODE, label="quality checks", id="node-checks", URL=checks_url, target="_top",
                         tooltip="the checks job: freshness, completeness, duplicates, reconciliation and "
                                 "expectation pass rates", **STAGE_STYLE["checks"])
            cluster.node("event log", label="event log", shape="cylinder", style="filled", id="node-event-log",
                         tooltip=f"{TableRef.event_log(catalog.env).unity_catalog_name}: flow progress and "
                                 "expectation results of every run", **STAGE_STYLE["landing"])
        for layer in checked:
            graph.edge(anchors[layer], CHECKS_NODE, ltail=f"cluster_{layer}", style="dashed")
        graph.edge("event log", CHECKS_NODE, style="dashed")
    return graph


def table_graph(catalog: Catalog, name: str, link: Link) -> graphviz.Digraph:
    """The neighbourhood of one table: everything it reads from and everything that reads it."""
    graph_of = TableGraph({d.name: d.spec for d in catalog.tables})
    members = graph_of.closure([name], upstream=True) | graph_of.closure([name], upstream=False)
    docs = [d for d in catalog.tables if d.name in members]
    graph = _new_graph("lineage")
    _add_landings(graph, [l for l in catalog.landings if any(t in members for t in l.tables)])
    _add_layers(graph, docs, link, name)
    _add_edges(graph, docs)
    return graph


def render_svg(graph: graphviz.Digraph) -> str:
    """The graph as an SVG document (comments dropped: they only carry graphviz's version banner)."""
    try:
        svg = graph.pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        raise DocsError("Graphviz `dot` is not installed; it draws the lineage graph. Install it with "
                        "`tools/ensure-graphviz.sh` (Debian/Ubuntu: apt-get install graphviz, macOS: "
                        "brew install graphviz)") from None
    except graphviz.CalledProcessError as exc:
        raise DocsError(f"Graphviz `dot` failed to draw the lineage graph: {exc.stderr or exc}") from None
    return _COMMENT.sub("", svg)


def inline_svg(svg: str) -> str:
    """The SVG element alone, to embed in an HTML page (XML prolog and doctype removed)."""
    return _PROLOG.sub("", svg).strip()
