"""What the texts earned: the DESIGN §8 KPIs, conversions, A/B statistics, the calculator.

``metrics.compute_kpis`` aggregates one period's cohort in SQL; ``conversions`` stores and
attributes bookings (parsed from webhooks by the ``bookings`` package); ``stats`` holds the
A/B maths and ``experiments`` feeds it from the database; ``calculator`` is the seed's
revenue calculator; ``report.run_report`` is ``asterisk-textback report``.
"""

from asterisk_textback.kpi.calculator import (
    CalculatorResult,
    Estimate,
    average_booking_value,
    calculator_from_history,
    revenue_left_on_table,
)
from asterisk_textback.kpi.conversions import (
    Attribution,
    NewBooking,
    attribute,
    make_token,
    mark_booked,
    parse_token,
    record_booking,
    tracking_url,
)
from asterisk_textback.kpi.definitions import DEFINITIONS, Definition, Kpi, Unit
from asterisk_textback.kpi.experiments import VariantCounts, experiment_results, variant_counts
from asterisk_textback.kpi.metrics import KpiReport, compute_kpis
from asterisk_textback.kpi.periods import Period, parse_period
from asterisk_textback.kpi.report import ReportConfig, run_report, text_progress
from asterisk_textback.kpi.settings import KpiSettings
from asterisk_textback.kpi.stats import (
    Arm,
    Comparison,
    Experiment,
    compare,
    evaluate,
    factorial,
    newcombe_interval,
    two_proportion_p_value,
    wilson_interval,
)

__all__ = [
    "DEFINITIONS",
    "Arm",
    "Attribution",
    "CalculatorResult",
    "Comparison",
    "Definition",
    "Estimate",
    "Experiment",
    "Kpi",
    "KpiReport",
    "KpiSettings",
    "NewBooking",
    "Period",
    "ReportConfig",
    "Unit",
    "VariantCounts",
    "attribute",
    "average_booking_value",
    "calculator_from_history",
    "compare",
    "compute_kpis",
    "evaluate",
    "experiment_results",
    "factorial",
    "make_token",
    "mark_booked",
    "newcombe_interval",
    "parse_period",
    "parse_token",
    "record_booking",
    "revenue_left_on_table",
    "run_report",
    "text_progress",
    "tracking_url",
    "two_proportion_p_value",
    "variant_counts",
    "wilson_interval",
]
