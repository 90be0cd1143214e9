"""The search index: one entry per table and per column, searched in the browser (assets/search.js).

The index is a small JS file (`assets/search-index.js` sets `window.MEDALLION_SEARCH`) rather than
JSON fetched at run time, because browsers refuse `fetch()` of local files: a script tag works from
`file://` and from `--serve` alike, and every page shares the one file instead of inlining a copy.
"""

from __future__ import annotations

import json
from typing import Any

from framework.docs.catalog import Catalog


def search_entries(catalog: Catalog) -> list[dict[str, Any]]:
    """Entries in page order; URLs are relative to the site root (the script prefixes the page's root).

    A table's `tags` include its owner, so "quant-research" finds that team's tables.
    """
    entries: list[dict[str, Any]] = []
    for doc in catalog.tables:
        page = f"tables/{doc.name}.html"
        entries.append({"kind": "table", "name": doc.name, "table": doc.name, "layer": doc.layer,
                        "text": doc.summary, "tags": [*doc.spec.tags, doc.spec.owner], "url": page})
        for column in doc.spec.columns:
            entries.append({"kind": "column", "name": column.name, "table": doc.name, "layer": doc.layer,
                            "text": f"{column.type} — {column.description}".rstrip(" —"),
                            "url": f"{page}#col-{column.name}"})
    return entries


def search_index_js(catalog: Catalog) -> str:
    payload = json.dumps(search_entries(catalog), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    # "</" cannot end a script element that loads this file, but escaping it keeps the file safe to inline.
    return "window.MEDALLION_SEARCH = " + payload.replace("</", "<\\/") + ";\n"
