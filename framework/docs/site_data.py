"""The one data file every page loads (`assets/catalog.js`): tables, their lineage, their columns.

The sidebar, the search box and the lineage graphs are drawn in the browser from this file instead of
being copied into every page: at 1,000 tables the sidebar alone was 80 KB per page and the site grew
with the square of the table count; now each page holds only its own table. The file is a script that
sets `window.MEDALLION_CATALOG` rather than JSON fetched at run time because browsers refuse `fetch()`
of local files: a script tag works from file:// and from `--serve` alike.

Shape (kept compact: columns are the bulk at scale, so they are `[name, type, description]` triples and
lineage edges are indices into `tables`, which is in dependency order):

    {"env": "local", "grouped": false, "layers": ["bronze", "silver", "gold"],
     "event_log": "medallion_local.ops.event_log",
     "landings": [{"id": "landing-1", "path": ..., "spec_path": ..., "domain": ...}],
     "tables": [{"name", "layer", "kind", "domain", "summary", "tags", "up": [i, ...],
                 "landing": i | null, "columns": [[name, type, description, ["i.column", ...]?], ...],
                 "opaque": why its column lineage is unknown?}]}

Column lineage is one step per column (the columns it is computed from, "table index.column");
`assets/columns.js` inverts it for the readers and follows it across pages.
"""

from __future__ import annotations

import json
from typing import Any

from framework.docs.catalog import Catalog, TableDoc
from framework.docs.lineage import is_grouped, landing_domain
from framework.spec.model import LAYERS


def _table(doc: TableDoc, index: dict[str, int], landing_index: dict[str, int]) -> dict[str, Any]:
    return {"name": doc.name, "layer": doc.layer, "kind": doc.spec.kind, "domain": doc.domain,
            "summary": doc.summary, "tags": list(doc.spec.tags), "up": [index[u] for u in doc.upstreams],
            "landing": landing_index[doc.landing.id] if doc.landing else None,
            "columns": [_column(c.name, c.type, c.description, doc, index) for c in doc.spec.columns],
            **({"opaque": doc.lineage_note} if doc.lineage_note else {})}


def _column(name: str, type_: str, description: str, doc: TableDoc, index: dict[str, int]) -> list[Any]:
    """[name, type, description] and, when it has any, the columns it is computed from as "i.column"."""
    entry: list[Any] = [name, type_, " ".join(description.split())]
    sources = [f"{index[table]}.{column}" for table, column in doc.column_sources.get(name, ()) if table in index]
    if sources:
        entry.append(sources)
    return entry


def site_data(catalog: Catalog) -> dict[str, Any]:
    """Everything the browser needs to draw navigation, search and lineage, in catalog (dependency) order."""
    index = {doc.name: i for i, doc in enumerate(catalog.tables)}
    landing_index = {landing.id: i for i, landing in enumerate(catalog.landings)}
    return {
        "env": catalog.env.name,
        "grouped": is_grouped(catalog),
        "layers": list(LAYERS),
        "event_log": catalog.event_log,
        "landings": [{"id": l.id, "path": l.path, "spec_path": l.spec_path, "domain": landing_domain(l, catalog)}
                     for l in catalog.landings],
        "tables": [_table(doc, index, landing_index) for doc in catalog.tables],
    }


def site_data_js(catalog: Catalog) -> str:
    payload = json.dumps(site_data(catalog), ensure_ascii=False, separators=(",", ":"))
    # "</" cannot end a script element that loads this file, but escaping it keeps the file safe to inline.
    return "window.MEDALLION_CATALOG = " + payload.replace("</", "<\\/") + ";\n"
