"""Generating and serving: byte-identical output, a safe output folder, the CLI, the 127.0.0.1 server."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from framework.cli import cli
from framework.docs import lineage
from framework.docs.catalog import build_catalog
from framework.errors import DocsError
from framework.docs.output import MARKER
from framework.docs.serve import HOST, make_server, serve_in_background, url_of
from framework.docs.site import build_site

from tests.docs.docs_fixtures import load_valid

pytestmark = pytest.mark.usefixtures("graphviz_dot")


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_input_gives_byte_identical_files(project_dir, tmp_path):
    project = load_valid(project_dir)
    first = build_site(project, "local", tmp_path / "a", live_stats="off")
    build_site(load_valid(project_dir), "local", tmp_path / "b", live_stats="off")
    a, b = tree(tmp_path / "a"), tree(tmp_path / "b")
    assert a == b
    assert len(a) == len(first.files.written) == 2 * 7 + 14  # 7 tables x (html + md) + shared pages and assets (columns.js: column lineage)
    again = build_site(project, "local", tmp_path / "a", live_stats="off")
    assert again.files.written == () and again.files.removed == ()  # nothing rewritten, mtimes kept
    machine_specific = (str(project_dir), str(tmp_path), str(Path.home()))
    for name, data in a.items():
        assert not any(s.encode() in data for s in machine_specific), name


def test_generation_is_fast_and_needs_no_jvm(project_dir, tmp_path):
    report = build_site(load_valid(project_dir), "local", tmp_path / "site", live_stats="auto")
    assert report.stats is None  # no local run in a fresh copy
    assert report.seconds < 5
    # no JVM: generating never imports pyspark (checked in a clean interpreter; this one may have Spark)
    code = ("import sys; from pathlib import Path; from framework.project import load_project; "
            "from framework.docs.site import build_site; "
            f"build_site(load_project(Path({str(project_dir)!r})), 'local', Path({str(tmp_path / 'clean')!r})); "
            "print('pyspark' in sys.modules, 'py4j' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False False"


def test_refuses_to_replace_a_folder_it_did_not_create(project_dir, tmp_path):
    project = load_valid(project_dir)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(DocsError, match="did not create"):
        build_site(project, "local", precious)
    assert (precious / "notes.txt").read_text() == "keep me"
    a_file = tmp_path / "file.html"
    a_file.write_text("x")
    with pytest.raises(DocsError, match="is a file"):
        build_site(project, "local", a_file)
    site = tmp_path / "site"
    build_site(project, "local", site)
    assert (site / MARKER).is_file()
    (site / "tables" / "stale.html").write_text("from an older run")
    assert "tables/stale.html" in build_site(project, "local", site).files.removed


def test_missing_graphviz_is_a_clear_error(project_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` anywhere
    catalog = build_catalog(load_valid(project_dir), "local")
    with pytest.raises(DocsError, match=r"Graphviz `dot` is not installed.*tools/ensure-graphviz.sh"):
        lineage.render_svg(lineage.pipeline_graph(catalog, lambda n: n, "#"))


def test_cli_generates_and_reports(project_dir, tmp_path):
    out = tmp_path / "site"
    result = CliRunner().invoke(cli, ["docs", "--project", str(project_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "7 tables" in result.output and "28 written" in result.output and "no local run" in result.output
    assert (out / "index.html").is_file()
    result = CliRunner().invoke(cli, ["docs", "--project", str(project_dir), "--out", str(out), "--env", "prod"])
    assert result.exit_code == 0 and "Documented environment: <strong>prod</strong>" in (out / "index.html").read_text()


@pytest.mark.parametrize("args, message", [
    (["--out", "{tmp}"], "did not create"),
    (["--live-stats", "on", "--out", "{tmp}/site"], "has no local run"),
    (["--env", "dev", "--live-stats", "on", "--out", "{tmp}/site"], "runs on databricks"),
])
def test_cli_errors_are_one_line_without_traceback(project_dir, tmp_path, args, message):
    (tmp_path / "something.txt").write_text("x")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = CliRunner().invoke(cli, ["docs", "--project", str(project_dir), *args])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output


def test_cli_reports_invalid_specs_with_their_location(project_dir, tmp_path):
    (project_dir / "tables" / "gold" / "broken.yaml").write_text("name: broken\nlayer: platinum\n")
    result = CliRunner().invoke(cli, ["docs", "--project", str(project_dir), "--out", str(tmp_path / "site")])
    assert result.exit_code == 1
    assert "tables/gold/broken.yaml:" in result.output and "Traceback" not in result.output


def test_serves_the_site_on_loopback_only(project_dir, tmp_path):
    site = tmp_path / "site"
    build_site(load_valid(project_dir), "local", site)
    server, thread = serve_in_background(site, port=0)
    try:
        assert server.server_address[0] == HOST == "127.0.0.1"
        url = url_of(server)
        with httpx.Client(timeout=10) as client:
            page = client.get(url)
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            assert page.text == (site / "index.html").read_text()
            base = url.removesuffix("index.html")
            assert client.get(base + "tables/bars.html").status_code == 200
            assert client.get(base + "assets/catalog.js").text.startswith("window.MEDALLION_CATALOG = ")
            assert client.get(base + "tables/nope.html").status_code == 404
        with pytest.raises(DocsError, match="cannot serve on 127.0.0.1"):
            make_server(site, server.server_address[1])  # port taken
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    with socket.socket() as probe:  # nothing listens on the port any more (TIME_WAIT connections aside)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((HOST, server.server_address[1]))
