"""The static lineage drawing (`lineage.svg`, embedded by the site's README.md), laid out by Graphviz `dot`.

We describe the graph (nodes, edges, one cluster per stage) with the `graphviz` package and let `dot`
do the layout: a maintained layout engine instead of hand-placed boxes, and the same input always
gives the same SVG, so pages diff cleanly. Each table node is an SVG link to its page; each node has a
stable id (`node-<table>`) so tests and readers can address it.

Up to GROUP_ABOVE tables the drawing shows every table; above it, one node per layer and domain (the
owning team, `TableDoc.domain`) with its count, because a drawing of a thousand boxes is one nobody can
read (and `dot` needs seconds for it). The HTML pages draw their interactive graphs in the browser
(templates/docs/assets/lineage.js) from the same catalog data; this module serves Markdown readers,
GitHub, and pages viewed without JavaScript.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from typing import Callable, Iterable

import graphviz

from framework.docs.catalog import CHECKS_NODE, Catalog, Landing, TableDoc
from framework.errors import DocsError
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
GROUP_ABOVE = 50
"""Above this many tables, overviews group tables by layer and domain instead of drawing each one."""
KIND_LABEL = {"streaming_table": "streaming table", "materialized_view": "materialized view", "view": "view"}
_COMMENT = re.compile(r"<!--.*?-->\s*", re.S)


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


def _add_checks(graph: graphviz.Digraph, catalog: Catalog, anchors: dict[str, str], checks_url: str) -> None:
    """The checks job after gold: it reads every silver and gold table (one edge per layer cluster) and the event log."""
    checked = [layer for layer in ("silver", "gold") if layer in anchors]
    if not checked:
        return
    with graph.subgraph(name="cluster_checks") as cluster:
        cluster.attr(label="checks", id="cluster-checks", style="dashed", color="#c5ccd3", fontcolor="#52606d")
        cluster.node(CHECKS_NODE, label="quality checks", id="node-checks", URL=checks_url, target="_top",
                     tooltip="the checks job: freshness, completeness, duplicates, reconciliation and "
                             "expectation pass rates", **STAGE_STYLE["checks"])
        cluster.node("event log", label="event log", shape="cylinder", style="filled", id="node-event-log",
                     tooltip=f"{catalog.event_log}: flow progress and "
                             "expectation results of every run", **STAGE_STYLE["landing"])
    for layer in checked:
        graph.edge(anchors[layer], CHECKS_NODE, ltail=f"cluster_{layer}", style="dashed")
    graph.edge("event log", CHECKS_NODE, style="dashed")


def pipeline_graph(catalog: Catalog, link: Link, checks_url: str) -> graphviz.Digraph:
    """The whole pipeline: landing -> bronze -> silver -> gold -> quality checks (which also read the event log)."""
    graph = _new_graph("lineage")
    _add_landings(graph, catalog.landings)
    anchors = _add_layers(graph, catalog.tables, link, None)
    _add_edges(graph, catalog.tables)
    _add_checks(graph, catalog, anchors, checks_url)
    return graph


def landing_domain(landing: Landing, catalog: Catalog) -> str:
    """A landing folder belongs to the domain of most of the tables that read it (ties: by name)."""
    counts = Counter(catalog.table(name).domain for name in landing.tables)
    return min(counts, key=lambda domain: (-counts[domain], domain))


def group_id(stage: str, domain: str) -> str:
    """`group-<stage>-<domain>` with anything but letters, digits, `_` and `-` replaced: a valid SVG id."""
    return "group-" + re.sub(r"[^A-Za-z0-9_-]", "_", f"{stage}-{domain}")


def _add_group(cluster: graphviz.Digraph, stage: str, domain: str, count: int, noun: str) -> None:
    label = (f'<<B>{html.escape(domain)}</B><BR/><FONT POINT-SIZE="9">{count:,} {noun}'
             f'{"s" if count != 1 else ""}</FONT>>')
    cluster.node(group_id(stage, domain), label=label, id=f"node-{group_id(stage, domain)}",
                 tooltip=f"{stage}: {count:,} {noun}{'s' if count != 1 else ''} owned by {domain}",
                 shape="box3d" if count > 1 else "box", **STAGE_STYLE[stage])


def _add_landing_groups(graph: graphviz.Digraph, catalog: Catalog) -> dict[str, str]:
    """One node per domain for the landing folders; returns the group of every folder."""
    group_of = {landing.id: landing_domain(landing, catalog) for landing in catalog.landings}
    if group_of:
        counts = Counter(group_of.values())
        with graph.subgraph(name="cluster_landing") as cluster:
            cluster.attr(label=f"landing ({len(group_of):,} folders)", id="cluster-landing", style="dashed",
                         color="#b8c4d0", fontcolor="#52606d")
            for domain in sorted(counts):
                _add_group(cluster, "landing", domain, counts[domain], "landing folder")
    return {folder: group_id("landing", domain) for folder, domain in group_of.items()}


def _add_layer_groups(graph: graphviz.Digraph, catalog: Catalog, group_of: dict[str, str]) -> dict[str, str]:
    """One cluster per layer, one node per domain in it; fills `group_of` for every table and returns the
    first group of each non-empty layer (to anchor the edges to the checks)."""
    anchors: dict[str, str] = {}
    for layer, docs in catalog.by_layer():
        if not docs:
            continue
        counts = Counter(d.domain for d in docs)
        with graph.subgraph(name=f"cluster_{layer}") as cluster:
            cluster.attr(label=f"{layer} ({len(docs):,} tables)", id=f"cluster-{layer}", style="dashed",
                         color="#c5ccd3", fontcolor="#52606d")
            for domain in sorted(counts):
                _add_group(cluster, layer, domain, counts[domain], "table")
        anchors[layer] = group_id(layer, min(counts))
        group_of.update({doc.name: group_id(layer, doc.domain) for doc in docs})
    return anchors


def _add_group_edges(graph: graphviz.Digraph, catalog: Catalog, group_of: dict[str, str]) -> None:
    """One edge per pair of groups with dependencies between them, thicker the more there are."""
    weights: Counter[tuple[str, str]] = Counter()
    for doc in catalog.tables:
        for source in [*([doc.landing.id] if doc.landing else []), *doc.upstreams]:
            if group_of[source] != group_of[doc.name]:
                weights[group_of[source], group_of[doc.name]] += 1
    for (tail, head), count in sorted(weights.items()):
        graph.edge(tail, head, penwidth=f"{min(1 + count ** 0.5 / 2, 6):.1f}",
                   tooltip=f"{count:,} dependenc{'ies' if count != 1 else 'y'} between these groups")


def domain_graph(catalog: Catalog, checks_url: str) -> graphviz.Digraph:
    """The pipeline by layer and domain: one node per (stage, domain) with its count, one edge per pair of
    groups that depend on each other, as thick as the number of table-to-table dependencies it stands for."""
    graph = _new_graph("lineage")
    group_of = _add_landing_groups(graph, catalog)
    anchors = _add_layer_groups(graph, catalog, group_of)
    _add_group_edges(graph, catalog, group_of)
    _add_checks(graph, catalog, anchors, checks_url)
    return graph


def is_grouped(catalog: Catalog) -> bool:
    """Whether overviews show layer-and-domain groups (the drawing, the sidebar, the interactive graph)."""
    return len(catalog.tables) > GROUP_ABOVE


def overview_graph(catalog: Catalog, link: Link, checks_url: str) -> graphviz.Digraph:
    """Every table while they fit in a readable drawing, else the layer-and-domain groups."""
    if is_grouped(catalog):
        return domain_graph(catalog, checks_url)
    return pipeline_graph(catalog, link, checks_url)


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
