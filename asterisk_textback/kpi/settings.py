"""The numbers the KPIs need that the database does not hold: costs, windows, benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

__all__ = ["DEFAULT_CLOSE_BAND", "KpiSettings"]

#: The seed's benchmark band for phone-conversion close rates.
DEFAULT_CLOSE_BAND: Final = (0.20, 0.35)


@dataclass(frozen=True, slots=True)
class KpiSettings:
    """Costs, the qualification rule, attribution and calculator inputs (a future ``[kpi]``)."""

    #: ISO currency of costs, booking values and revenue.
    currency: str = "USD"
    #: What the provider charges per outbound SMS segment.
    sms_cost_per_segment: float = 0.0
    #: Software and labour cost per month, prorated over the period (30.44-day months).
    software_cost_per_month: float = 0.0
    labour_cost_per_month: float = 0.0
    #: A reply of at least this many characters (trimmed) makes a conversation qualified.
    qualified_min_chars: int = 20
    #: A booking is attributed to a call whose text reached the caller this long before.
    attribution_window: timedelta = timedelta(days=14)
    #: Calculator: close rate point value and band, and the average order value if known.
    close_rate: float = 0.25
    close_rate_band: tuple[float, float] = DEFAULT_CLOSE_BAND
    average_order_value: float | None = None
    #: A/B tests: fewest delivered texts per variant before a verdict is shown.
    min_sample_per_variant: int = 30

    def __post_init__(self) -> None:
        """Refuse values that would make the formulas meaningless."""
        low, high = self.close_rate_band
        if not 0 <= low <= high <= 1 or not 0 <= self.close_rate <= 1:
            raise ValueError("close rates must lie in [0, 1] with band low <= high")
        if self.qualified_min_chars < 1 or self.min_sample_per_variant < 1:
            raise ValueError("qualified_min_chars and min_sample_per_variant must be >= 1")
        if self.attribution_window <= timedelta(0):
            raise ValueError("attribution_window must be positive")
        costs = (
            self.sms_cost_per_segment,
            self.software_cost_per_month,
            self.labour_cost_per_month,
        )
        if min(costs) < 0:
            raise ValueError("costs must not be negative")
