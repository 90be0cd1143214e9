"""Catalog -> the site's files as text: Jinja2 templates `docs/` (framework.templates: the package's, or a
project's own templates/docs/ file by file), Pygments for code.

Templates get plain data (catalog.py, stats.py) and a few filters; all layout lives in the templates
and all decisions in the data. HTML templates autoescape; Markdown templates (`*.md`) do not, and use
`md_cell` to keep `|` and line breaks from breaking GitHub tables.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer, SqlLexer

from framework import __version__, templates
from framework.docs import lineage
from framework.docs.catalog import Catalog, TableDoc
from framework.docs.chart import pass_rate_chart, percent
from framework.docs.environments import parent, settings_sections
from framework.errors import DocsError
from framework.docs.site_data import site_data_js
from framework.docs.stats import RunStats, TableStats

TEMPLATES_DIR = "docs"
"""The docs site's folder among the templates (framework.templates)."""
STATIC_ASSETS = ("style.css", "search.js", "nav.js", "graph.js", "lineage.js", "columns.js")
_FORMATTER = HtmlFormatter(cssclass="highlight", wrapcode=True)
_LEXERS = {"sql": SqlLexer(), "python": PythonLexer()}
_CODE_SPAN = re.compile(r"`([^`]+)`")
_PLAIN_TOKEN = re.compile(r'<span class="([a-z0-9]+)">([^<]*)</span>')
_STYLED = frozenset(cls for cls in _FORMATTER.class2style if cls != "w")
"""Token classes the stylesheet colours; whitespace (`w`) is invisible whatever its colour."""


def _unwrap_plain(match: re.Match[str]) -> str:
    return match.group(0) if match.group(1) in _STYLED else match.group(2)


def highlight(code: str, language: str) -> Markup:
    """Pygments HTML without the spans of tokens the stylesheet does not style (names, punctuation,
    whitespace): they change nothing on screen and were half of a highlighted transform's bytes."""
    html_text = pygments_highlight(code.rstrip() + "\n", _LEXERS[language], _FORMATTER)
    return Markup(_PLAIN_TOKEN.sub(_unwrap_plain, html_text))


def inline_code(text: str) -> Markup:
    """Escape text and show `backticked` words as code, as spec authors write them."""
    return Markup(_CODE_SPAN.sub(r"<code>\1</code>", html.escape(text, quote=False)))


def md_cell(text: Any) -> str:
    """Text that stays inside one GitHub Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|") or " "


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def thousands(value: int | None) -> str:
    return "unknown" if value is None else f"{value:,}"


def environment(root: Path | None = None) -> jinja2.Environment:
    """The site's Jinja environment: the project's templates/docs/ overrides first, then the package's."""
    base = templates.path(root, f"{TEMPLATES_DIR}/base.html")
    if not base.is_file():
        raise DocsError(f"documentation templates not found in {base.parent} (is the medallion installation "
                        "complete?)")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates.search_path(root, TEMPLATES_DIR)),
                             autoescape=jinja2.select_autoescape(["html"], default_for_string=False),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters.update(highlight=highlight, inline_code=inline_code, md_cell=md_cell, bytes=human_bytes,
                       thousands=thousands, percent=percent)
    env.globals.update(version=__version__)
    return env


def render_site(catalog: Catalog, stats: RunStats | None, root: Path | None = None) -> dict[str, str]:
    """Every file of the site, by path relative to the site root.

    Pages hold their own content only; what every page shares (the table list, search, lineage) is the
    one data file `assets/catalog.js`, so the site grows linearly with the number of tables.
    """
    jinja = environment(root)
    common = {"catalog": catalog, "run": stats}
    files = {
        "index.html": jinja.get_template("index.html").render(
            **common, root="", page="home", title="Overview", grouped=lineage.is_grouped(catalog)),
        "quality.html": jinja.get_template("quality.html").render(**common, root="", page="quality", title="Quality"),
        "environments.html": jinja.get_template("environments.html").render(
            **common, root="", page="environments", title="Environments",
            sections=settings_sections(catalog.environments),
            parents={e.name: parent(e) for e in catalog.environments}),
        "README.md": jinja.get_template("README.md").render(**common),
        "lineage.svg": lineage.render_svg(lineage.overview_graph(catalog, lambda n: f"tables/{n}.html",
                                                                 "quality.html")),
        "assets/pygments.css": _FORMATTER.get_style_defs(".highlight") + "\n",
        "assets/catalog.js": site_data_js(catalog),
    }
    for name in STATIC_ASSETS:
        files[f"assets/{name}"] = templates.path(root, f"{TEMPLATES_DIR}/assets/{name}").read_text(encoding="utf-8")
    table_html = jinja.get_template("table.html")
    table_md = jinja.get_template("table.md")
    for doc in catalog.tables:
        table_stats = stats.tables.get(doc.name) if stats else None
        context = _table_context(doc, table_stats)
        files[f"tables/{doc.name}.html"] = table_html.render(**common, **context, root="../", page="table",
                                                             title=doc.name)
        files[f"tables/{doc.name}.md"] = table_md.render(**common, **context)
    return files


def _table_context(doc: TableDoc, stats: TableStats | None) -> dict[str, Any]:
    quality = stats.quality if stats else None
    return {"doc": doc, "spec": doc.spec, "stats": stats, "quality": quality,
            "chart": pass_rate_chart(quality) if quality else None}
