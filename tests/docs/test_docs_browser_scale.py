"""The catalog of 1,000 tables (the benchmark's generated project) in real headless Chromium.

What issue 15 asks of a large catalog: output that grows linearly and stays under 15 MB, an overview that
is interactive within 2 s, search that finds a table by a column name, a table's neighbourhood drawn,
and dbt-style selection that agrees with the project's own dependency graph. Generation speed is measured
in bench/docs.py, not here.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from framework.docs.serve import serve_in_background, url_of
from framework.docs.site import build_site
from framework.graph import TableGraph
from framework.project import Project

from tests.docs.docs_fixtures import ARTIFACTS, drawn_nodes, load_valid, write_bench_project

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("graphviz_dot")]

TABLES = 1000
SITE_BYTES = 15_000_000
READY_MS = 2000


@dataclass(frozen=True)
class BigSite:
    project: Project
    out: Path
    url: str
    """index.html served on 127.0.0.1 (so that the browser reports the bytes it loaded)."""

    @property
    def graph(self) -> TableGraph:
        return TableGraph(dict(self.project.tables))


@pytest.fixture(scope="module")
def big_site(tmp_path_factory: pytest.TempPathFactory):
    root = write_bench_project(tmp_path_factory.mktemp("bench-project") / "project", TABLES)
    project = load_valid(root)
    out = tmp_path_factory.mktemp("bench-site") / "site"
    build_site(project, "local", out, live_stats="off")
    server, thread = serve_in_background(out, port=0)
    try:
        yield BigSite(project, out, url_of(server))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def loaded_bytes(page) -> int:
    """Bytes of the page and everything it loaded, as the browser's resource timing reports them."""
    return page.evaluate("""() => performance.getEntriesByType('navigation').concat(
        performance.getEntriesByType('resource')).reduce((sum, e) => sum + e.encodedBodySize, 0)""")


def test_output_grows_linearly_and_stays_under_target(big_site):
    files = [p for p in big_site.out.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    assert total < SITE_BYTES, f"{total:,} bytes"
    pages = [p.stat().st_size for p in (big_site.out / "tables").glob("*.html")]
    assert len(pages) == TABLES and max(pages) < 24_000  # a page holds its own table, never the catalog's
    assert (big_site.out / "index.html").stat().st_size < 400_000


def test_overview_is_interactive_within_two_seconds(big_site, page):
    # The best of two loads: the machine running the suite is shared, and a spike of other work should
    # not fail the test; an overview that needs more than 2 s fails it every time.
    times = []
    for _ in range(2):
        page.goto(big_site.url)
        page.wait_for_selector("#lineage-graph[data-state=ready]")
        times.append(page.evaluate("window.MEDALLION_LINEAGE_READY"))
    assert min(times) < READY_MS, f"the overview's lineage was ready after {times} ms"
    assert loaded_bytes(page) < 1_500_000

    tables = big_site.project.tables.values()
    groups = Counter((t.layer, t.owner) for t in tables)
    landings = {t.owner for t in tables if t.layer == "bronze"}
    drawn = drawn_nodes(page)
    assert len(drawn) == len(groups) + len(landings)  # one box per layer x domain, landing folders too
    silver_growth = groups["silver", "growth"]
    assert page.locator("#node-group-silver-growth .sub").text_content().startswith(f"{silver_growth} tables")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("#lineage-section").screenshot(path=str(ARTIFACTS / "docs-1000-overview.png"))

    page.click("#node-group-silver-growth")  # a group opens into its tables
    opened = drawn_nodes(page)
    names = {t.name for t in tables if (t.layer, t.owner) == ("silver", "growth")}
    assert opened == (drawn - {"group-silver-growth"}) | names
    page.click(".frame[data-group='silver/growth']")  # and closes again from its frame's title
    assert drawn_nodes(page) == drawn
    page.click("#lineage-open")
    assert len(drawn_nodes(page)) == TABLES + len(big_site.project.tables) // 4  # every table and folder
    assert page.problems.items == []


def test_search_finds_a_table_by_a_column_name(big_site, page):
    counts = Counter(c.name for t in big_site.project.tables.values() for c in t.columns)
    column = min((name for name, n in counts.items() if n == 1), key=len)  # a column only one table has
    (owner,) = [t.name for t in big_site.project.tables.values() if any(c.name == column for c in t.columns)]
    page.goto(big_site.url.replace("index.html", "tables/" + owner + ".html"))
    page.fill("#search", column)
    hit = page.locator("#search-results li[aria-selected=true]")
    hit.wait_for()
    assert f"{owner}.{column}" in hit.inner_text()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/tables/{owner}.html#col-{column}")
    page.fill("#search", "amount")  # a common column: many tables, the first twenty shown
    assert page.locator("#search-results li[role=option]").count() == 20
    assert page.problems.items == []


def within(name: str, step, depth: int) -> set[str]:
    """`name` and every table at most `depth` steps away along `step` (upstreams or downstreams)."""
    seen, frontier = {name}, {name}
    for _ in range(depth):
        frontier = {n for f in frontier for n in step(f)} - seen
        seen |= frontier
    return seen


def tables_only(ids: set[str]) -> set[str]:
    return {i for i in ids if not i.startswith("landing-")}


def test_a_table_shows_its_neighbourhood(big_site, page):
    graph = big_site.graph
    name = max(graph.tables, key=lambda n: (len(graph.downstreams(n)), n))  # the most read table
    page.goto(big_site.url.replace("index.html", f"tables/{name}.html"))
    drawn = drawn_nodes(page)  # two levels up and down by default
    up, down = within(name, graph.upstreams, 2), within(name, graph.downstreams, 2)
    assert tables_only(drawn) == up | down
    bronze_one_up = [n for n in within(name, graph.upstreams, 1) if graph.tables[n].layer == "bronze"]
    assert len(drawn - tables_only(drawn)) == len(bronze_one_up)  # their landing folders
    assert page.locator(f"#node-{name}.current").count() == 1
    assert loaded_bytes(page) < 1_200_000
    page.select_option("#lineage-down", "all")
    page.select_option("#lineage-up", "all")
    assert tables_only(drawn_nodes(page)) == graph.closure([name], upstream=False) | graph.closure([name])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("#lineage-section").screenshot(path=str(ARTIFACTS / "docs-1000-table.png"))
    assert page.problems.items == []


def test_selection_agrees_with_the_dependency_graph(big_site, page):
    """`+name`, `name+`, `2+name` and `@name` in the browser against framework.graph, on sampled tables."""
    graph = big_site.graph
    page.goto(big_site.url)
    page.wait_for_selector("#lineage-graph[data-state=ready]")

    def select(text: str) -> set[str]:
        return tables_only(set(page.evaluate("t => MedallionLineage.select(t)", text)))

    for name in random.Random(15).sample(sorted(graph.tables), 25):
        up, down = graph.closure([name], upstream=True), graph.closure([name], upstream=False)
        assert select(f"+{name}") == up, name
        assert select(f"{name}+") == down, name
        assert select(f"+{name}+") == up | down, name
        assert select(f"2+{name}") == within(name, graph.upstreams, 2), name
        assert select(f"@{name}") == graph.closure(down, upstream=True), name
    owners = {t.owner for t in graph.tables.values()}
    owner = sorted(owners)[0]
    assert select(f"layer:gold,domain:{owner}") == {n for n, t in graph.tables.items()
                                                     if t.layer == "gold" and t.owner == owner}
    page.goto(big_site.url + "#select=layer:gold")  # more tables than are drawn one by one: grouped
    assert {n.split("-")[1] for n in drawn_nodes(page)} == {"gold"}
    assert "300 of 1,000 tables selected" in page.inner_text("#lineage-status")
