"""``[kpi]`` is validated straight into the KPI code's own settings (one model, not two)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from asterisk_textback.config import settings_from_mapping
from asterisk_textback.errors import ConfigError
from asterisk_textback.kpi.settings import KpiSettings


def test_the_section_is_the_kpi_settings() -> None:
    kpi = settings_from_mapping({"kpi": {"currency": "eur", "attribution_window_days": 7}}).kpi
    assert isinstance(kpi, KpiSettings)
    assert kpi.currency == "EUR"
    assert kpi.attribution_window == timedelta(days=7)


def test_a_bad_band_is_named_by_its_key() -> None:
    with pytest.raises(ConfigError, match=r"kpi\.close_rate_band"):
        settings_from_mapping({"kpi": {"close_rate_band": [0.5, 0.2]}})


@pytest.mark.parametrize(
    "fields",
    [
        {"close_rate": 1.5},
        {"qualified_min_chars": 0},
        {"attribution_window_days": 0},
        {"sms_cost_per_segment": -0.01},
    ],
)
def test_values_that_break_the_formulas_are_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        KpiSettings.model_validate(fields)
