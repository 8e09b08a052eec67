"""The ``[kpi]`` section: the numbers the KPIs need that the database does not hold.

Costs, the qualification rule, attribution and calculator inputs. One frozen pydantic model
serves both the TOML section and the KPI code (there used to be a second, hand-copied one).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DEFAULT_CLOSE_BAND", "KpiSettings"]

#: The seed's benchmark band for phone-conversion close rates.
DEFAULT_CLOSE_BAND: Final = (0.20, 0.35)


class KpiSettings(BaseModel):
    """Costs, the qualification rule, attribution and calculator inputs (``[kpi]``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: ISO currency of costs, booking values and revenue (upper-cased on load).
    currency: str = Field(default="USD", min_length=3, max_length=3)
    #: What the provider charges per outbound SMS segment.
    sms_cost_per_segment: float = Field(default=0.0, ge=0)
    #: Software and labour cost per month, prorated over the period (30.44-day months).
    software_cost_per_month: float = Field(default=0.0, ge=0)
    labour_cost_per_month: float = Field(default=0.0, ge=0)
    #: A reply of at least this many characters (trimmed) makes a conversation qualified.
    qualified_min_chars: int = Field(default=20, ge=1)
    #: A booking is attributed to a call whose text reached the caller this long before.
    attribution_window_days: float = Field(default=14.0, gt=0)
    #: Calculator: close rate point value and band, and the average order value if known.
    close_rate: float = Field(default=0.25, ge=0, le=1)
    close_rate_band: tuple[float, float] = DEFAULT_CLOSE_BAND
    average_order_value: float | None = Field(default=None, ge=0)
    #: A/B tests: fewest delivered texts per variant before a verdict is shown.
    min_sample_per_variant: int = Field(default=30, ge=1)

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        # Every consumer compares codes upper-cased; normalising once keeps them in step.
        return value.upper()

    @field_validator("close_rate_band")
    @classmethod
    def _band(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0 <= low <= high <= 1:
            raise ValueError("must be [low, high] with 0 <= low <= high <= 1")
        return value

    @property
    def attribution_window(self) -> timedelta:
        """``attribution_window_days`` as a duration."""
        return timedelta(days=self.attribution_window_days)
