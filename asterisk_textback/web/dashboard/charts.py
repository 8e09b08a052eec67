"""Server-rendered SVG line charts: no JavaScript, no CDN, readable without colour alone."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from markupsafe import Markup, escape

from asterisk_textback.wording.times import day_label

__all__ = ["Series", "line_chart"]

WIDTH: Final = 640
HEIGHT: Final = 200
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 28, 28
_MAX_MARKERS: Final = 92


@dataclass(frozen=True, slots=True)
class Series:
    """One line: its legend label, a value per day (None: no data) and a CSS class."""

    label: str
    values: Sequence[float | None]
    css: str = "s1"


def _ticks(high: float, whole: bool) -> list[float]:
    """0 and evenly spaced ticks (at most five steps) up to one at or above ``high``.

    Steps are 1, 2, 2.5 or 5 times a power of ten; ``whole`` (counts, money in whole units)
    keeps them integers, so an axis never reads 2.50 calls. Nothing above 0: just 0.
    """
    if high <= 0:
        return [0.0]
    raw = high / 5
    magnitude = 10.0 ** math.floor(math.log10(raw))
    multiples = (1, 2, 2.5, 5, 10) if not whole or magnitude >= 10 else (1, 2, 5, 10)
    step = next(m * magnitude for m in multiples if m * magnitude >= raw * (1 - 1e-9))
    if whole:
        step = float(max(1, math.ceil(step)))
    count = math.ceil(high / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:,.2f}"


def line_chart(
    title: str,
    days: Sequence[date],
    series: Sequence[Series],
    *,
    fmt: Callable[[float], str] = _number,
    top: float | None = None,
    whole: bool = True,
) -> Markup:
    """An accessible ``<svg>`` line chart of ``series`` over ``days``.

    ``top`` fixes the axis's top (1.0 for rates); ``whole`` keeps its ticks whole numbers
    (counts). With nothing above zero the axis reads 0 only, and the chart says so.
    """
    values = [v for s in series for v in s.values if v is not None]
    ticks = _ticks(top if top is not None else max(values, default=0.0), whole)
    empty = ticks == [0.0]
    y_max = ticks[-1] if not empty else 1.0
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    step = plot_w / max(len(days) - 1, 1)

    def x(i: int) -> float:
        return _LEFT + (i * step if len(days) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return _TOP + plot_h - min(v / y_max, 1.0) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text class="chart-title" x="{_LEFT}" y="16">{escape(title)}</text>',
    ]
    for tick in ticks:
        gy = y(tick)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{gy:.1f}" y2="{gy:.1f}"/>'
            f'<text class="axis" x="{_LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end">'
            f"{escape(fmt(tick))}</text>"
        )
    if empty:
        parts.append(
            f'<text class="axis empty" x="{_LEFT + plot_w / 2:.1f}" y="{_TOP + plot_h / 2:.1f}" '
            f'text-anchor="middle">Nothing yet in this period</text>'
        )
    if days:
        picks = sorted({0, len(days) // 2, len(days) - 1})
        for i in picks:
            anchor = "start" if i == 0 and len(days) > 1 else "end" if i == picks[-1] else "middle"
            if len(days) == 1:
                anchor = "middle"
            parts.append(
                f'<text class="axis" x="{x(i):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">'
                f"{escape(day_label(days[i]))}</text>"
            )
    for s in series:
        runs: list[list[str]] = [[]]
        for i, v in enumerate(s.values):
            if v is None:
                runs.append([])
            else:
                runs[-1].append(f"{x(i):.1f},{y(v):.1f}")
        for run in runs:
            if len(run) > 1:
                parts.append(f'<polyline class="line {s.css}" points="{" ".join(run)}"/>')
        if len(days) <= _MAX_MARKERS:
            for i, v in enumerate(s.values):
                if v is not None:
                    tip = f"{s.label} {day_label(days[i])}: {fmt(v)}"
                    parts.append(
                        f'<circle class="dot {s.css}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5">'
                        f"<title>{escape(tip)}</title></circle>"
                    )
    legend_x = WIDTH - _RIGHT
    for s in reversed(series):
        parts.append(
            f'<text class="legend {s.css}" x="{legend_x}" y="16" text-anchor="end">'
            f"■ {escape(s.label)}</text>"
        )
        legend_x -= 12 + 8 * len(s.label)
    parts.append("</svg>")
    return Markup("".join(parts))
