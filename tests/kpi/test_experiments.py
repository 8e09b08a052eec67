"""A/B results from stored texts: per-variant counts, verdicts and the hook x CTA grid."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.kpi.experiments import experiment_results, variant_counts
from asterisk_textback.kpi.periods import parse_period
from tests.kpi.helpers import T0, add_booking, add_call, add_experiment, add_inbound, add_text

NOVEMBER = parse_period("2026-11", now=T0)


async def _arm(
    session: AsyncSession, name: str, variant: str, delivered: int, replies: int, booked: int
) -> None:
    arm = await add_experiment(session, name, variant)
    for index in range(delivered + 1):
        call = add_call(session, caller=f"+1212555{len(variant)}{index:03d}")
        await add_text(session, call, experiment=arm, delivered=index < delivered)
        if index < replies:
            add_inbound(session, call, "yes please")
        if index < booked:
            add_booking(session, call, 1000)
        if index == delivered - 1:
            add_inbound(session, call, "STOP", InboundKind.STOP)


async def test_counts_and_verdicts(session: AsyncSession) -> None:
    """Each arm: delivered + 1 sent (one undelivered), replies and bookings per delivered."""
    await _arm(session, "hook", "A", 40, 8, 2)
    await _arm(session, "hook", "BB", 40, 20, 1)
    await session.commit()
    counts = await variant_counts(session, NOVEMBER)
    assert [
        (c.variant, c.sent, c.delivered, c.replies, c.bookings, c.opt_outs) for c in counts
    ] == [
        ("A", 41, 40, 8, 2, 1),
        ("BB", 41, 40, 20, 1, 1),
    ]
    labels = {("hook", "A"): ("on_a_job", "reply"), ("hook", "BB"): ("sorry", "reply")}
    [(experiment, grid)] = await experiment_results(session, NOVEMBER, labels=labels)
    assert experiment.control == "A"
    [comparison] = experiment.comparisons
    assert comparison.lift == pytest.approx(1.5)
    assert comparison.enough_data
    assert comparison.significant
    assert sorted(grid) == ["on_a_job", "sorry"]
    [(booking, _)] = await experiment_results(session, NOVEMBER, metric="booking")
    assert booking.comparisons[0].verdict == "not enough data yet"


async def test_no_experiments(session: AsyncSession) -> None:
    """No experiment texts: no results."""
    assert await experiment_results(session, NOVEMBER) == []
