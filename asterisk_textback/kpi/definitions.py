"""The KPIs of DESIGN §8: names, units, the section they belong to and their definition."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

__all__ = [
    "DEFINITIONS",
    "SECTIONS",
    "Definition",
    "Kpi",
    "Unit",
    "minor_exponent",
    "ratio",
]


class Unit(StrEnum):
    """How a KPI's value reads."""

    COUNT = "count"
    RATIO = "ratio"
    SECONDS = "seconds"
    MONEY = "money"


@dataclass(frozen=True, slots=True)
class Definition:
    """A KPI's label, unit and definition (the seed's formula, then how it is counted)."""

    label: str
    unit: Unit
    text: str

    @property
    def brief(self) -> str:
        """The definition without the cohort sentence (the Overview states it once)."""
        return self.text.removesuffix(_COHORT)


_COHORT = (
    " Cohort: inbound calls that ended in the period (and DID), with everything that "
    "followed from them, whenever it happened."
)

_DEFINITIONS: Final = {
    "inbound_calls": Definition(
        "Inbound calls", Unit.COUNT, "Inbound calls that ended in the period (and DID)."
    ),
    "missed_calls": Definition(
        "Missed calls",
        Unit.COUNT,
        "Inbound calls nobody answered (voicemail or not).",
    ),
    "missed_call_rate": Definition(
        "Missed-call rate", Unit.RATIO, "missed / inbound calls (reduce over time)." + _COHORT
    ),
    "texts_sent": Definition(
        "Texts sent",
        Unit.COUNT,
        "Text-back messages the provider accepted (sent_at set) for the missed calls.",
    ),
    "auto_text_send_rate": Definition(
        "Auto-text send rate",
        Unit.RATIO,
        "texts sent / missed calls (aim near 100%, minus landlines and invalid numbers)." + _COHORT,
    ),
    "delivery_rate": Definition(
        "SMS delivery rate",
        Unit.RATIO,
        "delivered / sent: texts with a delivery report over texts sent." + _COHORT,
    ),
    "time_to_first_response_p50": Definition(
        "Time to first response (median)",
        Unit.SECONDS,
        "Seconds from call end to text sent, 50th percentile (nearest rank) over texted "
        "missed calls; target < 60 s." + _COHORT,
    ),
    "time_to_first_response_p90": Definition(
        "Time to first response (p90)",
        Unit.SECONDS,
        "Seconds from call end to text sent, 90th percentile (nearest rank) over texted "
        "missed calls; target < 60 s." + _COHORT,
    ),
    "reply_rate": Definition(
        "Reply rate",
        Unit.RATIO,
        "replies / delivered: missed calls whose caller replied (not STOP/START/HELP) at "
        "least once, over texts delivered (over texts sent while no delivery report has "
        "arrived in the period)." + _COHORT,
    ),
    "qualified_conversation_rate": Definition(
        "Qualified conversation rate",
        Unit.RATIO,
        "qualified / replies: a reply is qualified when the caller wrote at least N characters "
        "(the kpi qualified_min_chars setting) in one reply, or a booking was attributed to "
        "the call." + _COHORT,
    ),
    "booking_rate": Definition(
        "Booking rate",
        Unit.RATIO,
        "bookings / delivered: bookings attributed to the missed calls (not cancelled) over "
        "texts delivered (over texts sent while no delivery report has arrived)." + _COHORT,
    ),
    "revenue": Definition(
        "Revenue", Unit.MONEY, "Sum of the values of the attributed, not cancelled bookings."
    ),
    "revenue_per_missed_call": Definition(
        "Revenue per missed call",
        Unit.MONEY,
        "revenue from these leads / texts sent." + _COHORT,
    ),
    "cost": Definition(
        "Cost",
        Unit.MONEY,
        "SMS (cost per segment x segments of every text sent for these calls) + software "
        "+ labour (monthly settings prorated over the period).",
    ),
    "cost_per_booking": Definition(
        "Cost per booked appointment",
        Unit.MONEY,
        "(SMS + software + labour) / bookings." + _COHORT,
    ),
    "opt_out_rate": Definition(
        "Opt-out rate",
        Unit.RATIO,
        "STOPs / delivered: missed calls whose caller sent STOP, over texts delivered (over "
        "texts sent while no delivery report has arrived)." + _COHORT,
    ),
    "contactability": Definition(
        "Contactability rate",
        Unit.RATIO,
        "SMS-capable missed calls / all missed calls (your ceiling): a missed call is "
        "SMS-capable unless the number is anonymous or invalid, the contact is known not to "
        "receive texts, or the decision was suppressed for the kind of number (landline, "
        "toll-free, premium, VoIP, pager, short code ...)." + _COHORT,
    ),
    "ab_lift": Definition(
        "A/B test lift",
        Unit.RATIO,
        "metric change vs control: (variant rate - control rate) / control rate, with a 95% "
        "Newcombe interval for the difference and a two-proportion z-test p-value.",
    ),
}
#: Every KPI by key, read-only.
DEFINITIONS: Final = MappingProxyType(_DEFINITIONS)

#: The Overview's sections and the KPIs in each, in reading order (the A/B lift has its own).
SECTIONS: Final = (
    ("Calls", ("inbound_calls", "missed_calls", "missed_call_rate", "contactability")),
    (
        "Texts",
        (
            "texts_sent",
            "auto_text_send_rate",
            "delivery_rate",
            "time_to_first_response_p50",
            "time_to_first_response_p90",
        ),
    ),
    ("Conversations", ("reply_rate", "qualified_conversation_rate", "booking_rate")),
    ("Money", ("revenue", "revenue_per_missed_call", "cost", "cost_per_booking")),
    ("Compliance", ("opt_out_rate",)),
)


@dataclass(frozen=True, slots=True)
class Kpi:
    """One computed KPI: its value (None when undefined), how it was computed, and why."""

    key: str
    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    #: What the denominator counts, in words ("texts delivered", "texts sent").
    over: str | None = None
    #: For people: why there is no value, or what it was computed over instead.
    note: str | None = None

    @property
    def definition(self) -> Definition:
        """The KPI's label, unit and definition text."""
        return DEFINITIONS[self.key]

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready mapping, definition included."""
        definition = self.definition
        return {
            "key": self.key,
            "label": definition.label,
            "unit": definition.unit.value,
            "value": self.value,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "definition": definition.text,
        }


def ratio(
    key: str,
    numerator: float,
    denominator: float,
    over: str | None = None,
    note: str | None = None,
) -> Kpi:
    """A ratio KPI; None (never a division error) when the denominator is zero."""
    value = numerator / denominator if denominator else None
    return Kpi(key, value, numerator, denominator, over, note)


_ZERO_DECIMAL: Final = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "XAF", "XOF", "PYG", "UGX"})


def minor_exponent(currency: str) -> int:
    """Digits after the decimal point of ``currency`` (2 unless it has no minor unit)."""
    return 0 if currency.upper() in _ZERO_DECIMAL else 2
