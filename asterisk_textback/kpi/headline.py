"""The Overview's headline: the period in one sentence an owner reads first (pure: no I/O).

"30 missed calls, 24 texted, 3 replied, 2 booked — about $2,175 recovered". The money part
appears only when an average order value is known (``kpi.average_order_value``): bookings
times that value, "about" because a booking's own value may differ.
"""

from __future__ import annotations

from typing import Final

from asterisk_textback.kpi.metrics import KpiReport

__all__ = ["headline", "money_words"]

_SYMBOLS: Final = {"USD": "$", "CAD": "CA$", "AUD": "A$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def _count(report: KpiReport, key: str, numerator: bool = False) -> int:
    kpi = report[key]
    value = kpi.numerator if numerator else kpi.value
    return int(value or 0)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def money_words(amount: float, currency: str) -> str:
    """``$2,175`` (whole units: a headline is an estimate), ``2,175 CHF`` without a symbol."""
    code = currency.upper()
    symbol = _SYMBOLS.get(code)
    whole = f"{round(amount):,}"
    return f"{symbol}{whole}" if symbol else f"{whole} {code}"


def headline(report: KpiReport, average_order_value: float | None) -> str:
    """The period's missed calls, texts, replies and bookings (and money) in words."""
    missed = _count(report, "missed_calls")
    texted = _count(report, "texts_sent")
    replied = _count(report, "reply_rate", numerator=True)
    booked = _count(report, "booking_rate", numerator=True)
    words = (
        f"{_plural(missed, 'missed call', 'missed calls')}, {texted:,} texted, "
        f"{replied:,} replied, {booked:,} booked"
    )
    if average_order_value is None:
        return words
    recovered = money_words(booked * average_order_value, report.currency)
    return f"{words} — about {recovered} recovered"
