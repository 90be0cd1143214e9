"""End to end in real headless Chromium: the site of the real specs, served on 127.0.0.1 and from file://.

Playwright drives Debian's /usr/bin/chromium (installed by tools/ensure-chromium.sh when missing); we
never download Playwright's own browser builds. Screenshots land in tests/artifacts/ (git-ignored).
The 1,000-table catalog is tested in test_docs_browser_scale.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.docs.serve import serve_in_background, url_of
from framework.docs.site import build_site
from framework.graph import TableGraph

from tests.docs.docs_fixtures import ARTIFACTS, copy_project, drawn_nodes, load_valid

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("graphviz_dot")]


@pytest.fixture(scope="module")
def project_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("browser-project"))


@pytest.fixture(scope="module")
def site(project_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser-site") / "site"
    build_site(load_valid(project_root), "local", out, live_stats="off")
    return out


def test_served_site_lineage_click_and_search(site, page):
    server, thread = serve_in_background(site, port=0)
    try:
        page.goto(url_of(server))
        assert page.title() == "Overview · Medallion data catalog"
        assert page.locator("#lineage-section svg g.node").count() >= 7 + 2 + 2  # tables, landings, checks, log
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "docs-home.png"), full_page=True)

        page.wait_for_selector("#lineage-graph[data-state=ready]")
        page.click("#lineage-section svg #node-bars a")  # follow the lineage graph to a table page
        page.wait_for_url("**/tables/bars.html")
        assert page.locator("h1").inner_text().startswith("bars")
        assert page.locator("#columns tbody tr").count() == 18
        page.click("#lineage-section svg #node-daily_bars a")  # and on along its own lineage
        page.wait_for_url("**/tables/daily_bars.html")

        search = page.locator("#search")
        search.fill("trade_date")
        results = page.locator("#search-results li[role=option]")
        results.first.wait_for()
        texts = results.all_inner_texts()
        assert any("bars.trade_date" in t for t in texts) and any("daily_indicators.trade_date" in t for t in texts)
        page.locator("#search-results a", has_text="daily_indicators.trade_date").click()
        page.wait_for_url("**/tables/daily_indicators.html#col-trade_date")
        assert page.locator("tr#col-trade_date").evaluate("row => row.matches(':target')")

        page.keyboard.press("/")  # the shortcut focuses the search box
        page.keyboard.type("indicators quant")  # every word must match: the table by its owner
        page.locator("#search-results li[aria-selected=true]", has_text="daily_indicators").wait_for()
        page.keyboard.press("Enter")
        page.wait_for_url("**/tables/daily_indicators.html")
        page.screenshot(path=str(ARTIFACTS / "docs-table.png"), full_page=True)

        search.fill("no such column anywhere")
        assert "No table or column matches" in page.locator("#search-results").inner_text()

        page.click("nav.topnav >> text=Environments")
        page.wait_for_url("**/environments.html")
        visible_rows = page.locator("#settings tbody tr:not(.section):visible")
        everything = visible_rows.count()
        page.check("#only-differences")
        assert 0 < visible_rows.count() < everything
        assert page.locator("#settings tbody tr.differs:visible", has_text="continuous").count() == 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert page.problems.items == []


def test_site_works_from_file_urls(site, page):
    page.goto((site / "index.html").as_uri())
    page.locator("#search").fill("vwap")
    page.locator("#search-results li[role=option]").first.wait_for()
    assert page.locator("#search-results li[role=option]").count() == 3  # bars_raw, bars, daily_bars
    page.click("#lineage-section svg #node-symbol_summary a")
    page.wait_for_url("**/tables/symbol_summary.html")
    assert page.locator("#transform").count() == 0 and page.locator("#source .highlight").count() == 1
    assert page.problems.items == []


def test_selection_focuses_the_overview_lineage(site, page):
    """dbt's syntax from the URL, the graph's own box and the search box; the drawn nodes must be exactly
    what the project's own graph says (framework.graph), landing folders included."""
    page.goto((site / "index.html").as_uri() + "#select=%2Bdaily_bars")
    page.wait_for_selector("#lineage-graph[data-state=ready]")
    assert drawn_nodes(page) == {"landing-1", "bars_raw", "bars", "daily_bars"}
    assert page.locator("#node-daily_bars.current").count() == 1  # the named table stands out
    assert page.input_value("#lineage-select") == "+daily_bars"

    cases = {
        "bars+1": {"bars", "daily_bars"},
        "bars+": {"bars", "daily_bars", "daily_indicators", "symbol_summary"},
        "+symbol_summary": {"symbol_summary", "daily_bars", "trading_sessions", "nyse_sessions_raw", "bars",
                            "bars_raw", "landing-1", "landing-2"},
        "1+symbol_summary": {"symbol_summary", "daily_bars", "trading_sessions"},
        "@trading_sessions": {"trading_sessions", "symbol_summary", "nyse_sessions_raw", "landing-2", "daily_bars",
                              "bars", "bars_raw", "landing-1"},
        "layer:gold,domain:quant-research": {"daily_indicators"},
        "tag:calendar bars_raw": {"nyse_sessions_raw", "trading_sessions", "bars_raw"},
        "daily_*": {"daily_bars", "daily_indicators"},
    }
    for selection, expected in cases.items():
        page.fill("#lineage-select", selection)
        page.wait_for_function("s => location.hash === '#select=' + encodeURIComponent(s)", arg=selection)
        assert drawn_nodes(page) == expected, selection

    page.fill("#lineage-select", "no_such_table+")
    page.locator("#lineage-status.error", has_text="nothing matches").wait_for()
    page.click("#lineage-reset")
    assert len(drawn_nodes(page)) == 7 + 2 and page.evaluate("location.hash") == ""

    page.fill("#search", "bars_raw+")  # the search box offers the selection first; Enter shows it
    page.locator("#search-results li[aria-selected=true]", has_text="lineage").wait_for()
    page.keyboard.press("Enter")
    page.wait_for_function("location.hash === '#select=bars_raw%2B'")
    page.wait_for_function("document.getElementById('lineage-select').value === 'bars_raw+'")
    assert drawn_nodes(page) == {"bars_raw", "bars", "daily_bars", "daily_indicators", "symbol_summary"}
    assert page.problems.items == []


def test_table_page_neighbourhood_levels(project_root, site, page):
    graph = TableGraph(dict(load_valid(project_root).tables))
    page.goto((site / "tables" / "bars.html").as_uri())
    page.wait_for_selector("#lineage-graph[data-state=ready]")
    assert drawn_nodes(page) == {"landing-1", "bars_raw", "bars", "daily_bars", "daily_indicators", "symbol_summary"}
    assert page.locator("#node-bars.current").count() == 1
    assert page.locator("#node-symbol_summary .more text").text_content() == "+1"  # trading_sessions is not shown
    page.select_option("#lineage-up", "1")
    page.select_option("#lineage-down", "1")
    assert drawn_nodes(page) == {"bars_raw", "bars", "daily_bars"}
    page.select_option("#lineage-down", "all")
    page.select_option("#lineage-up", "all")
    expected = graph.closure(["bars"], upstream=True) | graph.closure(["bars"], upstream=False) | {"landing-1"}
    assert drawn_nodes(page) == expected
    page.goto((site / "tables" / "daily_bars.html").as_uri())  # the levels chosen are kept between pages
    page.wait_for_selector("#lineage-graph[data-state=ready]")
    assert page.input_value("#lineage-up") == "all" and "landing-1" in drawn_nodes(page)
    page.click("#node-daily_indicators a")
    page.wait_for_url("**/tables/daily_indicators.html")
    assert page.problems.items == []


def test_a_column_is_traced_across_pages_one_click_per_step(site, page):
    """Each column's sources and readers are links to their rows on their own pages, from file:// too."""
    page.goto((site / "tables" / "symbol_summary.html").as_uri())
    page.wait_for_selector("#columns table[data-lineage=ready]")
    row = page.locator("#col-latest_close")
    assert row.locator("td.col-from a").all_text_contents() == ["daily_bars.close", "daily_bars.trade_date"]
    assert row.locator("td.col-readers").text_content() == "—"
    row.get_by_role("link", name="daily_bars.close").click()
    page.wait_for_url("**/tables/daily_bars.html#col-close")
    page.wait_for_selector("#columns table[data-lineage=ready]")
    assert page.evaluate("document.querySelector('#columns tr:target').id") == "col-close"
    close = page.locator("#col-close")
    assert close.locator("td.col-from a").all_text_contents() == ["bars.close", "bars.ts"]
    assert "symbol_summary.latest_close" in close.locator("td.col-readers a").all_text_contents()
    close.get_by_role("link", name="bars.close").click()
    page.wait_for_url("**/tables/bars.html#col-close")
    page.wait_for_selector("#columns table[data-lineage=ready]")
    assert page.locator("#col-close td.col-from a").all_text_contents() == ["bars_raw.close"]
    assert {"daily_bars.close", "daily_bars.vwap"} <= set(page.locator("#col-close td.col-readers a").all_text_contents())
    page.locator("#col-close td.col-from a").click()
    page.wait_for_url("**/tables/bars_raw.html#col-close")
    page.wait_for_selector("#columns table[data-lineage=ready]")
    assert page.locator("#col-close td.col-from").text_content() == "landing files"
    page.goto((site / "tables" / "daily_indicators.html").as_uri())  # a Python transform without a mapping
    page.wait_for_selector("#columns table[data-lineage=ready]")
    opaque = page.locator("#col-sma_5 td.col-from span")
    assert opaque.text_content() == "not traced" and "transform.lineage" in opaque.get_attribute("title")
    page.screenshot(path=str(ARTIFACTS / "column-trace.png"), full_page=False)
    assert page.problems.items == []
