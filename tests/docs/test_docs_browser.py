"""End to end in real headless Chromium: the site of the real specs, served on 127.0.0.1 and from file://.

Playwright drives Debian's /usr/bin/chromium (installed by tools/ensure-chromium.sh when missing); we
never download Playwright's own browser builds. Screenshots land in tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.docs.serve import serve_in_background, url_of
from framework.docs.site import build_site

from docs_fixtures import REPO, copy_project, load_valid

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("graphviz_dot")]

ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("browser-project"))
    out = tmp_path_factory.mktemp("browser-site") / "site"
    build_site(load_valid(root), "local", out, live_stats="off")
    return out


@pytest.fixture(scope="module")
def browser(chromium: str):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip package `playwright` is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class Problems:
    """Everything that would show up red in DevTools: console errors, page errors, failed or 4xx/5xx loads."""

    def __init__(self, page) -> None:
        self.items: list[str] = []
        page.on("console",
                lambda m: m.type in ("error", "warning") and self.items.append(f"console {m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.items.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.items.append(f"request failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.items.append(f"HTTP {r.status}: {r.url}"))


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.problems = Problems(page)
    yield page
    context.close()


def test_served_site_lineage_click_and_search(site, page):
    server, thread = serve_in_background(site, port=0)
    try:
        page.goto(url_of(server))
        assert page.title() == "Overview · Medallion data catalog"
        assert page.locator("#lineage-section svg g.node").count() >= 7 + 2 + 2  # tables, landings, checks, log
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "docs-home.png"), full_page=True)

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
