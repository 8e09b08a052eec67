"""The SVG charts: escaped labels, gaps for days without data, a fixed top for rates."""

from __future__ import annotations

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
    assert "2026-11-01" in svg
    assert "2026-11-04" in svg


def test_empty_and_single_day() -> None:
    """No data draws axes only; one day draws one point."""
    assert "<polyline" not in str(line_chart("Empty", DAYS, [Series("a", [None] * 4)]))
    one = str(line_chart("One", DAYS[:1], [Series("a", [5])]))
    assert one.count("<circle") == 1
    assert "<polyline" not in one
