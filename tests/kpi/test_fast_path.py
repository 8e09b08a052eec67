"""Every KPI from per-call flags and hourly sums equals a naive recomputation from the raw rows.

On SQLite and PostgreSQL, over periods that start and end on and off the hour, in zones
whose days start on the hour, half past and a quarter to (and across a DST change), with
and without a DID; after later events changed flags of calls already summed.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.kpi.periods import Period, parse_period
from asterisk_textback.store import daily_series, hour_sums, kpi_queries
from tests.kpi.seeding import DIDS, SPAN, START, Raw, seed

ZONES = ("UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu")
NOW = START + SPAN + timedelta(minutes=17, seconds=3, microseconds=250_000)


def _periods(zone: ZoneInfo) -> list[Period]:
    return [
        parse_period("30d", NOW, zone),
        parse_period("7d", NOW - timedelta(days=9), zone),
        parse_period("2026-11", NOW, zone),
        parse_period("2026-11-01", NOW, zone),  # the day New York leaves DST
        Period(START + timedelta(hours=5, minutes=13), START + timedelta(hours=5, minutes=40)),
        Period(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)),  # empty
    ]


async def test_every_kpi_equals_the_raw_recomputation(session: AsyncSession) -> None:
    await seed(session, random.Random(15))
    raw = await Raw.load(session)
    assert sum(len(raw.cohort(p, None)) for p in _periods(ZoneInfo("UTC"))[:1]) > 100
    checked = 0
    for zone_name in ZONES:
        zone = ZoneInfo(zone_name)
        for period in _periods(zone):
            for did in (None, *DIDS):
                where = f"{zone_name} {period.label()} did={did}"
                counts = await kpi_queries.call_counts(session, period, did, 6)
                assert tuple(counts) == raw.call_counts(period, did, 6), where
                texts = await kpi_queries.text_counts(session, period, did)
                assert tuple(texts) == raw.text_counts(period, did), where
                totals = await kpi_queries.booking_totals(session, period, did, "USD")
                assert totals == raw.booking_totals(period, did, "USD"), where
                assert await kpi_queries.missed_calls(session, period, did) == counts[1]
                kpis = await kpi_queries.response_percentiles(session, period, did)
                for kpi, expected in zip(kpis, raw.percentiles(period, did), strict=True):
                    if expected is None:
                        assert kpi.value is None, where
                    else:  # SQLite's julianday() rounds to the millisecond
                        assert kpi.value == pytest.approx(expected, abs=2e-3), where
                variants = await kpi_queries.variant_counts(session, period, did)
                assert [
                    (
                        v.experiment,
                        v.variant,
                        v.sent,
                        v.delivered,
                        v.replies,
                        v.bookings,
                        v.opt_outs,
                    )
                    for v in variants
                ] == raw.variants(period, did), where
                series = await daily_series.daily_series(session, period, did, "USD", zone)
                expected_days = raw.daily(period, did, "USD", series.days, zone)
                for key, values in expected_days.items():
                    assert getattr(series, key) == values, f"{where} {key}"
                checked += 1
    assert checked == len(ZONES) * 6 * 3


async def test_qualified_follows_the_setting(session: AsyncSession) -> None:
    """The reply length is a setting: the flags keep the longest reply, not a yes/no."""
    await seed(session, random.Random(7), calls=120)
    raw = await Raw.load(session)
    period = Period(START, START + SPAN + timedelta(days=1))
    for min_chars in (0, 2, 5, 30, 500):
        counts = await kpi_queries.call_counts(session, period, None, min_chars)
        assert tuple(counts) == raw.call_counts(period, None, min_chars)
    assert raw.call_counts(period, None, 2)[4] > raw.call_counts(period, None, 30)[4]


async def test_partial_hours_sum_like_whole_hours(session: AsyncSession) -> None:
    """Calls summed one by one (pieces never covering an hour) equal the triggers' sums."""
    await seed(session, random.Random(3), calls=250)
    end = START + SPAN + timedelta(days=6)
    step = timedelta(minutes=37)
    pieces = [
        (START + step * n, min(START + step * (n + 1), end))
        for n in range((end - START) // step + 1)
    ]
    for did in (None, *DIDS):
        whole = (await hour_sums.range_sums(session, [(START, end)], did))[0]
        parts = await hour_sums.range_sums(session, pieces, did)
        assert whole == sum(parts, hour_sums.HourSums())
        assert hour_sums.split(START, end)[1] == []  # the whole range read only hourly rows
        assert whole.stopped > 0
        assert whole.segments > whole.texted
