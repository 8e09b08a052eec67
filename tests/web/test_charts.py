"""The SVG charts: escaped labels, gaps for days without data, a fixed top for rates."""

from __future__ import annotations

import re
from datetime import date, timedelta

from asterisk_textback.web.dashboard.charts import Series, line_chart

DAYS = [date(2026, 11, 1) + timedelta(days=n) for n in range(4)]


def test_labels_are_escaped_and_gaps_break_the_line() -> None:
    """A None value splits the polyline; titles and legends are text."""
    svg = str(line_chart("<b>Rate</b>", DAYS, [Series("<x>", [0.1, None, 0.2, 0.3])], top=1.0))
    assert svg.startswith("<svg")
    assert "<b>" not in svg
    assert "&lt;b&gt;Rate" in svg
    assert svg.count("<polyline") == 1
    assert svg.count("<circle") == 3
    assert "Sun, Nov 1" in svg
    assert "Wed, Nov 4" in svg


def test_empty_and_single_day() -> None:
    """No data draws axes only; one day draws one point."""
    assert "<polyline" not in str(line_chart("Empty", DAYS, [Series("a", [None] * 4)]))
    one = str(line_chart("One", DAYS[:1], [Series("a", [5])]))
    assert one.count("<circle") == 1
    assert "<polyline" not in one


def _axis(svg: str) -> list[str]:
    return re.findall(
        r'<text class="axis" x="\d+" y="[\d.]+" text-anchor="end">([^<]*)</text>', svg
    )


def test_count_axes_have_whole_numbers() -> None:
    """Counts of 0..3 (or 0..7) tick at whole numbers, never 1.50 or 2.50."""
    for top in (1, 2, 3, 5, 7, 13, 24, 99):
        svg = str(line_chart("Replies", DAYS, [Series("replies", [0, top, 1, None])]))
        ticks = _axis(svg)
        assert ticks[0] == "0"
        assert all(t.replace(",", "").isdigit() for t in ticks), (top, ticks)
        assert int(ticks[-1].replace(",", "")) >= top


def test_an_empty_axis_reads_zero_and_says_so() -> None:
    """No revenue at all: the axis has 0 alone (not 1, 0, 0) and the chart says why."""
    svg = str(line_chart("Revenue", DAYS, [Series("revenue", [0.0] * 4)], fmt="{:,.0f}".format))
    assert _axis(svg) == ["0"]
    assert "Nothing yet in this period" in svg


def test_rates_keep_their_fixed_top() -> None:
    """A rate chart runs 0..100% whatever its values."""
    svg = str(
        line_chart(
            "Rate", DAYS, [Series("r", [0.1] * 4)], top=1.0, whole=False, fmt="{:.0%}".format
        )
    )
    assert _axis(svg)[0] == "0%"
    assert _axis(svg)[-1] == "100%"
