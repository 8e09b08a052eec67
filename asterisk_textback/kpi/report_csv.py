"""``report --format csv``: one row per figure, rounded as the table shows it, times local.

Money is rounded to the currency's minor unit, ratios to four decimals (0.7857 = 78.57%),
estimated bookings to two; times are the business's local time (``wording.times.csv_time``)
and reasons are in words (``wording.labels``), the raw key kept in the ``key`` column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Any, Final, TextIO

from asterisk_textback.cdr.history import HistorySources
from asterisk_textback.cdr.summary import CdrSummary
from asterisk_textback.kpi.calculator import CalculatorResult
from asterisk_textback.kpi.definitions import Kpi, Unit, minor_exponent
from asterisk_textback.kpi.metrics import KpiReport
from asterisk_textback.kpi.periods import Period
from asterisk_textback.kpi.report_words import (
    RATIO_DIGITS,
    SECONDS_DIGITS,
    Inputs,
    estimate_formula,
    no_value_note,
    percent,
    recovered,
    rounded,
)
from asterisk_textback.wording.labels import reason_label
from asterisk_textback.wording.times import csv_time

__all__ = [
    "FIELDS",
    "calculator_rows",
    "cdr_rows",
    "header_rows",
    "kpi_rows",
    "money_cell",
    "recovered_rows",
    "write",
]

FIELDS: Final = (
    "section",
    "key",
    "label",
    "value",
    "numerator",
    "denominator",
    "unit",
    "definition",
)
_CDR_LABELS: Final = {
    "inbound": "Inbound calls",
    "answered": "Answered",
    "missed": "Missed",
    "missed_rate": "Missed-call rate (missed / inbound)",
    "missed_textable": "Missed with a number to text",
    "missed_reached_voicemail": "Missed that reached voicemail (left a message or not)",
    "internal": "Internal calls (not counted)",
    "outbound": "Outbound calls (not counted)",
    "first_call": "First inbound call",
    "last_call": "Last inbound call",
}


def money_cell(value: float | None, currency: str) -> str | None:
    """``296.45`` / ``77.00`` for USD, ``3395`` for JPY: exactly the digits the currency has."""
    if value is None:
        return None
    return f"{rounded(value, currency):.{minor_exponent(currency)}f}"


def _number(value: float | None, unit: Unit, currency: str) -> float | str | None:
    if value is None:
        return None
    if unit is Unit.MONEY:
        return money_cell(value, currency)
    if unit is Unit.RATIO:
        return round(value, RATIO_DIGITS)
    if unit is Unit.SECONDS:
        return round(value, SECONDS_DIGITS)
    return value


def header_rows(period: Period | None, zone: tzinfo, currency: str) -> list[dict[str, Any]]:
    """The period in local time, the zone and the currency the other rows use."""
    rows: list[dict[str, Any]] = [
        {"section": "report", "key": "timezone", "label": "Times in", "value": str(zone)},
        {"section": "report", "key": "currency", "label": "Currency", "value": currency},
    ]
    if period is not None:
        rows += [
            {
                "section": "report",
                "key": "start",
                "label": "From",
                "value": csv_time(period.start, zone),
            },
            {
                "section": "report",
                "key": "end",
                "label": "Until (not included)",
                "value": csv_time(period.end, zone),
            },
        ]
    return rows


def _kpi_row(kpi: Kpi, currency: str) -> dict[str, Any]:
    unit = kpi.definition.unit
    # A rate's parts are counts, except the money per figure (revenue, cost / something).
    part_unit = unit if unit is Unit.MONEY else Unit.COUNT
    return {
        "section": "kpi",
        "key": kpi.key,
        "label": kpi.definition.label,
        "value": _number(kpi.value, unit, currency),
        "numerator": _number(kpi.numerator, part_unit, currency),
        "denominator": kpi.denominator,
        "unit": currency if unit is Unit.MONEY else unit.value,
        "definition": kpi.definition.text,
    }


def kpi_rows(report: KpiReport) -> list[dict[str, Any]]:
    """One row per KPI, rounded (money to the currency, ratios to four decimals)."""
    return [_kpi_row(kpi, report.currency) for kpi in report.kpis]


def calculator_rows(
    result: CalculatorResult, currency: str, inputs: Inputs
) -> list[dict[str, Any]]:
    """The calculator's inputs and estimates; each estimate's formula in ``definition``."""
    value = result.average_order_value
    source = inputs.aov if result.value_source == "settings" else "the bookings recorded"
    rows: list[dict[str, Any]] = [
        {
            "section": "calculator",
            "key": "missed_calls",
            "label": "Missed calls",
            "value": result.missed_calls,
        },
        {
            "section": "calculator",
            "key": "average_order_value",
            "label": "Average order value",
            "value": money_cell(value, currency),
            "unit": currency,
            "definition": no_value_note(result) or f"from {source}",
        },
    ]
    for name, estimate in (("point", result.point), ("low", result.low), ("high", result.high)):
        rows.append(
            {
                "section": "calculator",
                "key": f"revenue_left_{name}",
                "label": f"Revenue left on the table at {percent(estimate.close_rate)}",
                "value": money_cell(estimate.revenue, currency),
                "numerator": estimate.bookings,
                "unit": currency,
                "definition": estimate_formula(result, estimate, currency),
            }
        )
    return rows


def recovered_rows(booked: float, result: CalculatorResult, currency: str) -> list[dict[str, Any]]:
    """The period's bookings x the order value, when the value is known (else no row)."""
    row = recovered(booked, result, currency)
    if row is None or result.average_order_value is None:
        return []
    return [
        {
            "section": "calculator",
            "key": "revenue_recovered_estimate",
            "label": row[0],
            "value": money_cell(booked * result.average_order_value, currency),
            "numerator": booked,
            "unit": currency,
            "definition": row[2],
        }
    ]


def _local(value: Any, zone: tzinfo) -> Any:
    return csv_time(value, zone) if isinstance(value, datetime) else value


def cdr_rows(summary: CdrSummary, sources: HistorySources, zone: tzinfo) -> list[dict[str, Any]]:
    """The CDR/CEL counts, the sources used, and the missed calls by reason in words."""
    rows: list[dict[str, Any]] = []
    for key, label in _CDR_LABELS.items():
        value = getattr(summary, key)
        if key == "missed_rate" and value is not None:
            value = round(value, RATIO_DIGITS)
        rows.append({"section": "cdr", "key": key, "label": label, "value": _local(value, zone)})
    rows += [
        {"section": "source", "key": key, "value": value}
        for key, value in sources.as_dict().items()
        if key != "cel_skipped_lines"
    ]
    rows += [
        {
            "section": "cel",
            "key": f"missed_{reason}",
            "label": f"Missed: {reason_label(reason)}",
            "value": count,
        }
        for reason, count in sorted(summary.missed_by_reason.items())
    ]
    return rows


def write(rows: Iterable[dict[str, Any]], out: TextIO) -> None:
    """Write ``rows`` with the report's columns."""
    writer = csv.DictWriter(out, fieldnames=list(FIELDS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
