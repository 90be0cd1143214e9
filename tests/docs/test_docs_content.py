"""What the generated site says: every table, column, expectation and neighbour, for the real specs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from framework.docs.site import build_site

from tests.docs.docs_fixtures import load_valid

pytestmark = pytest.mark.usefixtures("graphviz_dot")


def spec_documents(root: Path) -> list[dict]:
    """The specs as plain YAML, read independently of the framework's loader."""
    return [yaml.safe_load(p.read_text()) for p in sorted((root / "tables").rglob("*.yaml"))]


def generate(root: Path, out: Path, env: str = "local"):
    return build_site(load_valid(root), env, out, live_stats="off")


def site_data(site: Path) -> dict:
    """assets/catalog.js, the data file behind the sidebar, search and lineage graphs."""
    text = (site / "assets" / "catalog.js").read_text()
    return json.loads(text.removeprefix("window.MEDALLION_CATALOG = ").removesuffix(";\n"))


def data_table(site: Path, name: str) -> dict:
    found = [t for t in site_data(site)["tables"] if t["name"] == name]
    assert len(found) == 1, name
    return found[0]


def upstream_names(site: Path, name: str) -> list[str]:
    tables = site_data(site)["tables"]
    return [tables[i]["name"] for i in data_table(site, name)["up"]]


NEW_SPEC = """\
name: weekly_bars
layer: gold
description: One bar per symbol and ISO week | rolled up from daily bars <script>alert(1)</script>.
owner: quant-research
tags: [market-data]
source:
  tables: [daily_bars]
  mode: batch
columns:
  - {name: symbol, type: STRING, nullable: false, description: Ticker.}
  - {name: week_start, type: DATE, nullable: false, description: "Monday of the week | New York."}
  - {name: close, type: DOUBLE, description: Close of the last day of the week.}
keys: [symbol, week_start]
transform:
  sql: |
    SELECT symbol, date_trunc('week', trade_date) AS week_start, max_by(close, trade_date) AS close
    FROM source
    GROUP BY symbol, date_trunc('week', trade_date)
expectations:
  - {name: has_close, rule: close IS NOT NULL, action: drop}
"""


def test_every_table_in_tables_is_documented(project_dir, tmp_path):
    site = tmp_path / "site"
    generate(project_dir, site)
    specs = spec_documents(project_dir)
    assert len(specs) >= 7
    index = (site / "index.html").read_text()
    lineage = (site / "lineage.svg").read_text()
    data = site_data(site)
    readme = (site / "README.md").read_text()
    for spec in specs:
        name = spec["name"]
        page = (site / "tables" / f"{name}.html").read_text()
        markdown = (site / "tables" / f"{name}.md").read_text()
        assert f'href="tables/{name}.html"' in index
        assert f"(tables/{name}.md)" in readme
        assert f'id="node&#45;{name}"' in lineage and f'xlink:href="tables/{name}.html"' in lineage
        entry = data_table(site, name)
        assert (entry["layer"], entry["domain"], entry["tags"]) == (spec["layer"], spec["owner"], spec["tags"])
        assert f"<h1>{name} " in page and markdown.startswith(f"# {name}\n")
        assert [c[0] for c in entry["columns"]] == [c["name"] for c in spec["columns"]]
        for column in spec["columns"]:
            assert f'<tr id="col-{column["name"]}">' in page, (name, column["name"])
            assert f"| `{column['name']}`" in markdown
        for expectation in spec.get("expectations", []):
            assert f"<td>{expectation['name']}</td>" in page
            assert f"| {expectation['name']} |" in markdown
        for catalog in ("medallion_local", "medallion_dev", "medallion_prod"):
            assert f"<code>{catalog}.{spec['layer']}.{name}</code>" in page
    pages = sorted(p.stem for p in (site / "tables").glob("*.html"))
    assert pages == sorted(s["name"] for s in specs)
    assert [t["name"] for t in data["tables"]][:2] == ["bars_raw", "nyse_sessions_raw"]  # dependency order
    assert data["grouped"] is False and data["event_log"] == "medallion_local.ops.event_log"


def test_pages_carry_only_their_own_table(project_dir, tmp_path):
    """The site grows linearly: adding 120 tables elsewhere leaves a page's size alone (give or take the
    total in its footer), because the table list and search data live once, in assets/catalog.js."""
    site = tmp_path / "site"
    generate(project_dir, site)
    before = (site / "tables" / "bars.html").read_text()
    for i in range(120):
        (project_dir / "tables" / "gold" / f"extra_{i:03d}.yaml").write_text(
            NEW_SPEC.replace("weekly_bars", f"extra_{i:03d}").replace("daily_bars", "daily_indicators")
            .replace("quant-research", f"team-{i % 4}"))
    generate(project_dir, site)
    after = (site / "tables" / "bars.html").read_text()
    assert after.replace("127 table specs", "7 table specs") == before
    assert "extra_000" not in after and "extra_000" in (site / "assets" / "catalog.js").read_text()
    data = site_data(site)
    assert data["grouped"] is True and len(data["tables"]) == 127
    assert upstream_names(site, "extra_007") == ["daily_indicators"]
    lineage = (site / "lineage.svg").read_text()  # above GROUP_ABOVE tables: layer x domain groups
    assert 'id="node&#45;group&#45;gold&#45;team&#45;2"' in lineage and "30 tables" in lineage
    assert "extra_000" not in lineage


def test_table_page_shows_the_spec(project_dir, tmp_path):
    site = tmp_path / "site"
    generate(project_dir, site)
    bars = (site / "tables" / "bars.html").read_text()
    assert "market-data-team" in bars and '<span class="tag">clean</span>' in bars
    assert "the latest by <code>_ingested_at</code> wins" in bars  # de-duplication
    assert "<code>bars_quarantine</code>" in bars
    assert '<a href="bars_raw.html">bars_raw</a>' in bars and '<a href="daily_bars.html">daily_bars</a>' in bars
    assert '<div class="highlight"><pre><span></span><code><span class="k">SELECT</span>' in bars
    assert "<code>delta.enableChangeDataFeed</code></td><td><code>true</code>" in bars
    assert "<dt>Z-order by</dt><dd><code>symbol</code>, <code>trade_date</code></dd>" in bars
    assert '<span class="action action-drop">drop</span>' in bars
    assert "<code>.medallion/local/tables/silver/bars</code>" in bars
    bars_raw = (site / "tables" / "bars_raw.html").read_text()
    assert "files in <code>.medallion/local/landing/bars</code> (json)" in bars_raw
    assert "<code>${landing_path}/${bars_folder}</code>" in bars_raw
    summary = (site / "tables" / "symbol_summary.html").read_text()
    assert 'a SQL query over <a href="daily_bars.html">daily_bars</a>, <a href="trading_sessions.html">' in summary
    assert summary.count('<div class="highlight">') == 1  # its source query; it has no transform


def test_documenting_another_environment_resolves_its_paths(project_dir, tmp_path):
    site = tmp_path / "site"
    generate(project_dir, site, env="prod")
    bars_raw = (site / "tables" / "bars_raw.html").read_text()
    assert "files in <code>/Volumes/medallion_prod/bronze/landing/bars</code>" in bars_raw
    assert '<tr class="current"><td><a href="../environments.html">prod</a>' in bars_raw
    assert "medallion_prod.ops.pipeline_event_log" in (site / "quality.html").read_text()  # databricks.event_log_table


def test_a_new_spec_appears_and_a_removed_one_disappears(project_dir, tmp_path):
    site = tmp_path / "site"
    generate(project_dir, site)
    (project_dir / "tables" / "gold" / "weekly_bars.yaml").write_text(NEW_SPEC)
    report = generate(project_dir, site)
    assert {"tables/weekly_bars.html", "tables/weekly_bars.md", "index.html", "lineage.svg",
            "tables/daily_bars.html"} <= set(report.files.written)
    page = (site / "tables" / "weekly_bars.html").read_text()
    assert '<tr id="col-week_start">' in page and "<td>has_close</td>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert '<a href="daily_bars.html">daily_bars</a> <span class="muted">(gold)</span>' in page
    daily = (site / "tables" / "daily_bars.html").read_text()
    assert '<a href="weekly_bars.html">weekly_bars</a>' in daily.split("<h3>Downstream</h3>")[1]
    index = (site / "index.html").read_text()
    assert '<span class="big">4</span> gold tables' in index
    assert 'href="tables/weekly_bars.html"' in index
    assert 'xlink:href="tables/weekly_bars.html"' in (site / "lineage.svg").read_text()
    markdown = (site / "tables" / "weekly_bars.md").read_text()
    assert "| Monday of the week \\| New York. |" in markdown  # a pipe stays inside its cell
    assert "  daily_bars --> weekly_bars" in markdown
    assert ["symbol", "week_start", "close"] == [c[0] for c in data_table(site, "weekly_bars")["columns"]]
    assert upstream_names(site, "weekly_bars") == ["daily_bars"]

    (project_dir / "tables" / "gold" / "symbol_summary.yaml").unlink()
    report = generate(project_dir, site)
    assert set(report.files.removed) == {"tables/symbol_summary.html", "tables/symbol_summary.md"}
    assert "symbol_summary" not in (site / "index.html").read_text()


def test_python_transform_shows_the_function_source(project_dir, tmp_path):
    (project_dir / "transforms").mkdir(exist_ok=True)  # the copy holds the shipped transforms
    (project_dir / "transforms" / "weekly.py").write_text(
        'def roll_up(df):\n    """Weekly bars."""\n    return df.groupBy("symbol").count()\n')
    spec = NEW_SPEC.split("transform:")[0] + "transform:\n  python: transforms.weekly:roll_up\n"
    (project_dir / "tables" / "gold" / "weekly_bars.yaml").write_text(spec)
    site = tmp_path / "site"
    generate(project_dir, site)
    page = (site / "tables" / "weekly_bars.html").read_text()
    assert "Python function <code>transforms.weekly:roll_up</code>." in page
    assert '<span class="k">def</span> <span class="nf">roll_up</span>(df):' in page
    assert "```python\ndef roll_up(df):" in (site / "tables" / "weekly_bars.md").read_text()


def test_lineage_graph_runs_landing_to_checks(project_dir, tmp_path):
    site = tmp_path / "site"
    generate(project_dir, site)
    svg = (site / "lineage.svg").read_text()
    clusters = re.findall(r'<g id="cluster&#45;(\w+)" class="cluster">', svg)
    assert clusters == ["landing", "bronze", "silver", "gold", "checks"]
    edges = re.findall(r"<title>([^<]*)&#45;&gt;([^<]*)</title>", svg)
    assert ("landing&#45;1", "bars_raw") in edges and ("bars", "daily_bars") in edges
    assert ("event log", "quality checks") in edges
    assert ("trading_sessions", "symbol_summary") in edges and ("daily_bars", "symbol_summary") in edges
    assert 'xlink:href="quality.html"' in svg
    assert "<!--" not in svg  # no graphviz version banner: output must not depend on it
    # a table page's neighbourhood is drawn in the browser from the catalog data (test_docs_browser.py)
    page = (site / "tables" / "trading_sessions.html").read_text()
    assert '<figure class="lineage" id="lineage-graph" data-view="table" data-focus="trading_sessions">' in page
    assert upstream_names(site, "trading_sessions") == ["nyse_sessions_raw"]
    assert upstream_names(site, "symbol_summary") == ["daily_bars", "trading_sessions"]
    data = site_data(site)
    landing = data["landings"][data_table(site, "nyse_sessions_raw")["landing"]]
    assert landing["path"] == ".medallion/local/landing/calendar" and landing["domain"] == "market-data-team"


def test_environments_page_compares_settings(project_dir, tmp_path):
    site = tmp_path / "site"
    generate(project_dir, site)
    page = (site / "environments.html").read_text()
    header = page.split("<thead>")[1].split("</thead>")[0]
    assert re.findall(r"<th[^>]*>(\w+)", header)[1:] == ["local", "dev", "prod"]
    assert "extends dev" in header
    rows = {m[1]: (m[0], re.findall(r"<td>([^<]*)</td>", m[2]))
            for m in re.findall(r'<tr( class="differs")?><td><code>([^<]+)</code></td>(.*?)</tr>', page)}
    assert rows["continuous"] == (' class="differs"', ["false", "false", "true"])
    assert rows["photon"][1] == ["false", "true", "true"]
    assert rows["clusters[0].node_type_id"][1] == ["—", "i3.xlarge", "i3.xlarge"]
    assert rows["schedule.pause_status"][1] == ["—", "PAUSED", "UNPAUSED"]
    assert rows["notifications.email.recipients"][1][2] == "data-platform-oncall@example.com"
    assert rows["schemas.gold"] == ("", ["gold", "gold", "gold"])
    titles = re.findall(r'scope="colgroup">([^<]+)<', page)
    assert titles[:5] == ["Pipeline", "Compute", "Schedule and job", "Notifications", "Storage and schemas"]
