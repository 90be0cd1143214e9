"""Geometry of the small pass-rate chart on a table page (one line per expectation, one point per run).

The template draws an inline SVG from these numbers; keeping the arithmetic here keeps the template
readable and lets tests check the chart without parsing SVG. Coordinates are rounded to 0.1 px so the
same history always gives the same markup.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from framework.eventlog import QualityHistory

PALETTE = ("#2f6fab", "#c0504d", "#4f9a55", "#8064a2", "#d08a1c", "#2a9ca0", "#9c5b34", "#6b7785")
WIDTH, HEIGHT = 420, 130
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 10, 22


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    points: tuple[Point, ...]

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right_edge: int
    series: tuple[Series, ...]
    y_ticks: tuple[tuple[float, str], ...]
    x_ticks: tuple[tuple[float, str, str], ...]
    """(x, label, text-anchor): the first run's date starts at its point, the last one's ends at it."""


def percent(rate: float) -> str:
    """99.95% rather than 100.0% when something failed: a rounded-up pass rate would hide failures."""
    value = math.floor(rate * 10000) / 100
    return f"{value:.2f}%"


def _floor(rates: list[float]) -> float:
    """Bottom of the y axis: the 5% step below the worst rate, so small dips stay visible."""
    worst = min(rates, default=1.0)
    return max(0.0, min(0.95, math.floor((worst - 1e-9) * 20) / 20))


def _when(started: str) -> str:
    """`2026-11-25T21:05:00.000000Z` -> `2026-11-25 21:05 UTC`."""
    return started[:16].replace("T", " ") + " UTC"


def pass_rate_chart(history: QualityHistory) -> Chart:
    runs = history.runs
    rates = [r for run in runs for name in history.expectations if (r := run.pass_rate(name)) is not None]
    bottom = _floor(rates)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w / 2 if len(runs) == 1 else plot_w * i / (len(runs) - 1))

    def y(rate: float) -> float:
        return TOP + plot_h * (1 - (rate - bottom) / (1 - bottom))

    series = []
    for n, name in enumerate(history.expectations):
        points = tuple(Point(round(x(i), 1), round(y(rate), 1),
                             f"{name}: {percent(rate)} (run of {_when(run.started)})")
                       for i, run in enumerate(runs) if (rate := run.pass_rate(name)) is not None)
        series.append(Series(name, PALETTE[n % len(PALETTE)], points))
    ticks = tuple((round(y(v), 1), f"{round(v * 100, 1):g}%") for v in (bottom, (bottom + 1) / 2, 1.0))
    same_day = runs[0].started[:10] == runs[-1].started[:10]
    label = (lambda started: _when(started)[11:]) if same_day and len(runs) > 1 else (lambda started: started[:10])
    if len(runs) == 1:
        x_ticks = ((round(x(0), 1), label(runs[0].started), "middle"),)
    else:
        x_ticks = ((round(x(0), 1), label(runs[0].started), "start"),
                   (round(x(len(runs) - 1), 1), label(runs[-1].started), "end"))
    return Chart(WIDTH, HEIGHT, LEFT, WIDTH - RIGHT, tuple(series), ticks, x_ticks)
