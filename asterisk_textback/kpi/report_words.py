"""The words of ``report``: figures rounded to the currency, formulas, and what each row means.

Pure (no I/O): the table and the CSV of :mod:`asterisk_textback.kpi.report` both read their
labels, rounding and formula lines here, so the two always say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from typing import Final

from asterisk_textback.kpi.calculator import CalculatorResult, Estimate
from asterisk_textback.kpi.definitions import Kpi, Unit, minor_exponent
from asterisk_textback.kpi.metrics import KpiReport
from asterisk_textback.kpi.periods import Period
from asterisk_textback.kpi.settings import KpiSettings
from asterisk_textback.wording.times import local

__all__ = [
    "AOV_EXAMPLE",
    "Inputs",
    "Row",
    "calculator_legend",
    "calculator_rows",
    "estimate_formula",
    "kpi_legend",
    "kpi_rows",
    "money",
    "no_value_note",
    "percent",
    "period_words",
    "recovered",
    "rounded",
]

#: A table row: label, figure, and how it was worked out (basis, formula or source).
Row = tuple[str, str, str]
#: The order value the "no average order value" hint suggests.
AOV_EXAMPLE: Final = 250
#: Digits kept for ratios in CSV (0.7857 = 78.57%) and for seconds.
RATIO_DIGITS: Final = 4
SECONDS_DIGITS: Final = 1

#: What a rate's numerator and denominator count, for "3 replied of 4 delivered".
_BASIS: Final = {
    "missed_call_rate": ("missed", "inbound calls"),
    "auto_text_send_rate": ("texted", "missed calls"),
    "delivery_rate": ("delivered", "texts sent"),
    "reply_rate": ("replied", "texts delivered"),
    "qualified_conversation_rate": ("qualified", "replies"),
    "booking_rate": ("booked", "texts delivered"),
    "opt_out_rate": ("opted out", "texts delivered"),
    "contactability": ("could get a text", "missed calls"),
}


@dataclass(frozen=True, slots=True)
class Inputs:
    """Where the calculator's inputs came from, said in the report (a flag or a setting)."""

    #: ``--aov`` or ``kpi.average_order_value``.
    aov: str = "kpi.average_order_value"
    #: ``--close-rate`` or ``kpi.close_rate / kpi.close_rate_band``.
    close_rate: str = "kpi.close_rate and kpi.close_rate_band"


def rounded(value: float, currency: str) -> float:
    """``value`` rounded to the currency's minor unit (2 decimals for USD, none for JPY)."""
    return round(value, minor_exponent(currency))


def money(value: float, currency: str) -> str:
    """``1,234.50 USD`` / ``1,235 JPY``."""
    digits = minor_exponent(currency)
    return f"{value:,.{digits}f} {currency}"


def percent(rate: float) -> str:
    """``25%``, ``37.5%`` (a close rate as people write it)."""
    return f"{round(rate * 100, 2):g}%"


def _count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _many(value: float, word: str) -> str:
    """``1 booking``, ``2 bookings``, ``2.75 bookings``."""
    return f"{_count(value)} {word}" if value == 1 else f"{_count(value)} {word}s"


def period_words(period: Period, zone: tzinfo) -> str:
    """``Nov 1, 2026 to Nov 30, 2026`` for whole local days, else both times to the minute."""
    start, end = local(period.start, zone), local(period.end, zone)
    if start.time() == time() and end.time() == time():
        last = datetime.fromordinal(end.toordinal() - 1)
        if last.date() == start.date():
            return f"{start:%a, %b} {start.day}, {start.year}"
        return f"{start:%b} {start.day}, {start.year} to {last:%b} {last.day}, {last.year}"
    return f"{start:%b} {start.day}, {start.year} {start:%H:%M} to {end:%b} {end.day}, {end:%H:%M}"


def _shown(kpi: Kpi, currency: str) -> str:
    value, unit = kpi.value, kpi.definition.unit
    if value is None:
        return "n/a"
    if unit is Unit.RATIO:
        return f"{value * 100:.1f}%"
    if unit is Unit.SECONDS:
        return f"{value:.1f} s"
    if unit is Unit.MONEY:
        return money(value, currency)
    return f"{value:,.0f}"


def _money_formula(kpi: Kpi, report: KpiReport, settings: KpiSettings) -> str:
    cur = report.currency
    if kpi.key == "revenue":
        booked = report["booking_rate"].numerator or 0
        return f"= the values of {_many(booked, 'attributed booking')}, added up"
    if kpi.key == "revenue_per_missed_call":
        sent = kpi.denominator or 0
        if not sent:
            return "n/a until a text is sent (revenue ÷ texts sent)"
        return f"= revenue {money(kpi.numerator or 0, cur)} ÷ texts sent {_count(sent)}"
    if kpi.key == "cost":
        months = report.period.months
        fixed = (settings.software_cost_per_month + settings.labour_cost_per_month) * months
        sms = max((kpi.value or 0) - fixed, 0.0)
        per = settings.sms_cost_per_segment
        segments = _many(round(sms / per), "segment") if per else "segments"
        return (
            f"= SMS {money(sms, cur)} ({segments} × {per:g} {cur}) "
            f"+ software and labour {money(fixed, cur)} ({months:.2f} months of the monthly costs)"
        )
    booked = kpi.denominator or 0
    if not booked:
        return "n/a until something is booked (cost ÷ bookings)"
    return f"= cost {money(kpi.numerator or 0, cur)} ÷ bookings {_count(booked)}"


def _basis(kpi: Kpi) -> str:
    if kpi.numerator is None or kpi.denominator is None:
        return ""
    what, of = _BASIS.get(kpi.key, ("", ""))
    if not what:
        return f"{kpi.numerator:g} / {kpi.denominator:g}"
    if not kpi.denominator:
        return f"n/a: no {of} yet"
    return f"{_count(kpi.numerator)} {what} of {_count(kpi.denominator)} {of}"


def kpi_rows(report: KpiReport, settings: KpiSettings) -> list[Row]:
    """Each KPI: label, figure, and its basis (``3 replied of 4 texts delivered``) or formula."""
    rows = []
    for kpi in report.kpis:
        if kpi.definition.unit is Unit.MONEY:
            how = _money_formula(kpi, report, settings)
        else:
            how = _basis(kpi)
        rows.append((kpi.definition.label, _shown(kpi, report.currency), how))
    return rows


def kpi_legend(report: KpiReport) -> list[str]:
    """What every KPI row means (its definition), the cohort rule said once at the end."""
    lines = ["What the figures mean:"]
    cohort = ""
    for kpi in report.kpis:
        text, _, rest = kpi.definition.text.partition(" Cohort: ")
        cohort = cohort or rest
        lines.append(f"  {kpi.definition.label}: {text}")
    if cohort:
        lines.append(f"  Every rate counts the same calls: {cohort}")
    lines.append("  n/a: nothing to divide by yet (e.g. no delivery reports for a rate per text).")
    return lines


def estimate_formula(result: CalculatorResult, estimate: Estimate, currency: str) -> str:
    """``11 missed calls × 25% × 77.00 USD = 211.75 USD`` (or the bookings without a value)."""
    head = f"{_many(result.missed_calls, 'missed call')} × {percent(estimate.close_rate)}"
    value = result.average_order_value
    if value is None or estimate.revenue is None:
        return f"{head} = {_many(estimate.bookings, 'booking')}"
    return f"{head} × {money(value, currency)} = {money(estimate.revenue, currency)}"


def _value_source(result: CalculatorResult, inputs: Inputs) -> str:
    if result.value_source == "bookings":
        return "the average of the bookings recorded"
    if result.value_source == "settings":
        return inputs.aov
    return result.value_source


def _estimates(result: CalculatorResult) -> tuple[tuple[str, Estimate], ...]:
    return (
        ("expected", result.point),
        ("low end", result.low),
        ("high end", result.high),
    )


def calculator_rows(result: CalculatorResult, currency: str, inputs: Inputs) -> list[Row]:
    """Missed calls, the order value, and each estimate with its formula."""
    rows: list[Row] = [("Missed calls", f"{result.missed_calls:,}", "")]
    value = result.average_order_value
    if value is None:
        for name, estimate in _estimates(result):
            label = f"Bookings missed at {percent(estimate.close_rate)} ({name})"
            rows.append((label, _count(estimate.bookings), estimate_formula(result, estimate, "")))
        return rows
    rows.append(
        ("Average order value", money(value, currency), f"from {_value_source(result, inputs)}")
    )
    for name, estimate in _estimates(result):
        label = f"Revenue left on the table at {percent(estimate.close_rate)} ({name})"
        shown = money(estimate.revenue or 0.0, currency)
        rows.append((label, shown, estimate_formula(result, estimate, currency)))
    return rows


def recovered(bookings: float, result: CalculatorResult, currency: str) -> Row | None:
    """``Revenue recovered (estimate)``: the period's bookings x the order value, if known."""
    value = result.average_order_value
    if value is None:
        return None
    total = money(bookings * value, currency)
    formula = f"{_many(bookings, 'booking')} × {money(value, currency)} = {total}"
    return ("Revenue recovered (estimate)", total, formula)


def no_value_note(result: CalculatorResult) -> str | None:
    """The one line saying how to give an order value, when none is known."""
    if result.average_order_value is not None:
        return None
    return (
        f"No average order value: pass --aov {AOV_EXAMPLE} or set kpi.average_order_value "
        "to see the revenue left on the table."
    )


def calculator_legend(
    result: CalculatorResult, inputs: Inputs, with_recovered: bool = False
) -> list[str]:
    """What the calculator's rows mean and where its close rates came from."""
    low, high = percent(result.low.close_rate), percent(result.high.close_rate)
    recovered_line = (
        [
            "  Revenue recovered (estimate) = bookings credited to the texts × average order "
            "value;",
            "  the Revenue row above adds up the values the bookings themselves came with.",
        ]
        if with_recovered
        else []
    )
    return [
        "What this means:",
        "  Revenue left on the table = missed calls × close rate × average order value.",
        "  Close rate: the share of those callers who would have booked had someone answered:",
        f"  expected {percent(result.point.close_rate)}, in a range of {low} (low end) to {high}"
        " (high end),",
        f"  from {inputs.close_rate}.",
        *recovered_line,
    ]
