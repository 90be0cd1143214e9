"""Fixtures for the docs tests: a copy of the real project, Graphviz, and a real local run made by Spark."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.docs.docs_fixtures import CHROMIUM_ARGS, REPO, LocalRun, Problems, build_local_run, copy_project, load_valid


def _ensure_tool(tool: str, script: str) -> None:
    """Install a Debian package through the project's own script when its binary is missing."""
    if shutil.which(tool):
        return
    if (os.geteuid() != 0 and not shutil.which("sudo")) or not shutil.which("apt-get"):
        pytest.skip(f"`{tool}` is missing and cannot be installed here (needs apt-get as root): run {script}")
    result = subprocess.run(["bash", str(REPO / script)], capture_output=True, text=True, timeout=900)
    if result.returncode != 0 or not shutil.which(tool):
        pytest.fail(f"{script} did not install `{tool}`:\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="session")
def graphviz_dot() -> None:
    """`dot` draws the lineage graph; `make test` installs it, a bare `pytest` installs it here."""
    _ensure_tool("dot", "tools/ensure-graphviz.sh")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium for the end-to-end test, installed by tools/ensure-chromium.sh when missing."""
    _ensure_tool("/usr/bin/chromium", "tools/ensure-chromium.sh")
    return "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser(chromium: str):
    """One headless Chromium for the browser tests, driven by Playwright."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip package `playwright` is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser context per test; `page.problems` collects what DevTools would show in red."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.problems = Problems(page)
    yield page
    context.close()


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def _session(request: pytest.FixtureRequest, root: Path):
    """The suite's shared `spark` fixture when tests/conftest.py has one, else the engine's session."""
    try:
        return request.getfixturevalue("spark")
    except pytest.FixtureLookupError:
        from framework.engine.spark import build_session

        return build_session(load_valid(root).environment("local"))


@pytest.fixture(scope="session")
def local_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LocalRun:
    """A project copy with a real local run (see build_local_run)."""
    root = copy_project(tmp_path_factory.mktemp("local-run"))
    return build_local_run(_session(request, root), root)
