"""build_site(): load -> catalog -> live statistics -> pages -> files. The one entry point for the CLI and tests."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from framework.docs.catalog import build_catalog
from framework.docs.output import WriteResult, check_output_folder, write_site
from framework.docs.render import render_site
from framework.docs.stats import LiveStats, RunStats, collect_stats, stats_unavailable
from framework.project import Project


@dataclass(frozen=True)
class SiteReport:
    out: Path
    tables: int
    files: WriteResult
    stats: RunStats | None
    seconds: float
    stats_note: str | None = None
    """Why live statistics were skipped although a local run exists (pyarrow missing), for the CLI to say."""

    @property
    def index(self) -> Path:
        return self.out / "index.html"


def build_site(project: Project, env_name: str, out: Path, live_stats: LiveStats = "auto") -> SiteReport:
    """Generate the documentation of a valid project for one environment into `out`."""
    started = time.perf_counter()
    check_output_folder(out)  # fail before doing any work
    catalog = build_catalog(project, env_name)
    stats = collect_stats(catalog, live_stats)
    files = render_site(catalog, stats, project.root)
    result = write_site(out, files)
    return SiteReport(out, len(catalog.tables), result, stats, time.perf_counter() - started,
                      stats_unavailable(catalog, live_stats))
