"""Chart days are the business's local days, across DST changes, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.model import Outcome
from asterisk_textback.kpi.periods import Period, parse_period
from asterisk_textback.store.bookings import mark_booked
from asterisk_textback.store.daily_series import daily_series, local_days, offset_changes
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.web.dashboard.mount import dashboard_app
from asterisk_textback.web.dashboard.settings import DashboardSettings
from tests.web.conftest import Client, login, make_deps
from tests.web.seed import NOW, add_call

NY = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
#: Local end times in New York: 23:30 on both 2026 DST-change days, and their neighbours.
#: DST ends 2026-11-01 02:00 EDT (-4) -> 01:00 EST (-5); it starts 2026-03-08 02:00 EST.
NY_CALLS = [
    datetime(2026, 3, 7, 23, 30, tzinfo=NY),  # 03-08 04:30 UTC
    datetime(2026, 3, 8, 23, 30, tzinfo=NY),  # 03-09 03:30 UTC: the spring DST day
    datetime(2026, 3, 9, 0, 30, tzinfo=NY),  # 03-09 04:30 UTC
    datetime(2026, 10, 31, 23, 30, tzinfo=NY),  # 11-01 03:30 UTC
    datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY),  # the repeated hour, 06:30 UTC
    datetime(2026, 11, 1, 23, 30, tzinfo=NY),  # 11-02 04:30 UTC: the autumn DST day
    datetime(2026, 11, 2, 0, 30, tzinfo=NY),  # 11-02 05:30 UTC
]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_offset_changes_are_found_to_the_second() -> None:
    """New York's 2026 transitions; none in UTC; a half-hour shift at Lord Howe Island."""
    year = Period(_utc("2026-01-01T05:00"), _utc("2027-01-01T05:00"))
    assert offset_changes(year, NY) == [
        (_utc("2026-01-01T05:00"), timedelta(hours=-5)),
        (_utc("2026-03-08T07:00"), timedelta(hours=-4)),
        (_utc("2026-11-01T06:00"), timedelta(hours=-5)),
    ]
    assert offset_changes(year, UTC) == [(_utc("2026-01-01T05:00"), timedelta())]
    lord_howe = offset_changes(year, ZoneInfo("Australia/Lord_Howe"))
    assert [offset for _, offset in lord_howe] == [
        timedelta(hours=11),
        timedelta(hours=10, minutes=30),
        timedelta(hours=11),
    ]
    assert lord_howe[1][0] == _utc("2026-04-04T15:00")  # 02:00 local, back to 01:30


def test_local_days_of_a_period() -> None:
    """A month in New York has its 30 local days, the 25-hour one included."""
    november = parse_period("2026-11", NOW, NY)
    days = local_days(november, NY)
    assert (days[0], days[-1], len(days)) == (date(2026, 11, 1), date(2026, 11, 30), 30)
    assert local_days(november, UTC)[0] == date(2026, 11, 1)  # starts 04:00 UTC


async def _seed_ny(factory: async_sessionmaker[AsyncSession]) -> list[int]:
    async with unit_of_work(factory) as db:
        ids = [
            await add_call(db, 500 + n, Outcome.MISSED_NO_VOICEMAIL, f"+1212555{n:04d}", "", at=at)
            for n, at in enumerate(NY_CALLS)
        ]
        # Booked the next (UTC) day: it still counts on the call's local day.
        await mark_booked(
            db, ids[5], value_minor=9900, currency="USD", now=_utc("2026-11-03T12:00")
        )
    return ids


def _by_day(days: list[date], values: list[int]) -> dict[str, int]:
    return {d.isoformat(): v for d, v in zip(days, values, strict=True) if v}


async def test_calls_at_2330_land_on_their_local_day(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Calls at 23:30 on DST-change days count on that local day (both backends)."""
    await _seed_ny(session_factory)
    autumn = parse_period("2026-10-31..2026-11-03", NOW, NY)
    spring = parse_period("2026-03-07..2026-03-10", NOW, NY)
    # 427 days: the per-day ranges take several statements, split at any day.
    long = parse_period("2025-12-01..2027-02-01", NOW, NY)
    async with session_factory() as db:
        fall = await daily_series(db, autumn, None, "USD", NY)
        assert [d.isoformat() for d in fall.days] == ["2026-10-31", "2026-11-01", "2026-11-02"]
        assert fall.inbound == [1, 2, 1]
        assert fall.missed == [1, 2, 1]
        assert fall.bookings == [0, 1, 0]
        assert fall.revenue == [0.0, 99.0, 0.0]
        rise = await daily_series(db, spring, None, "USD", NY)
        assert rise.inbound == [1, 1, 1]
        # Four offset changes, every call on its local day.
        whole = await daily_series(db, long, None, "USD", NY)
        assert len(whole.days) == 427
        assert (whole.days[0], whole.days[-1]) == (date(2025, 12, 1), date(2027, 1, 31))
        assert sum(whole.bookings) == 1
        assert _by_day(whole.days, whole.inbound) == {
            "2026-03-07": 1,
            "2026-03-08": 1,
            "2026-03-09": 1,
            "2026-10-31": 1,
            "2026-11-01": 2,
            "2026-11-02": 1,
        }
        # The same calls by UTC day, for contrast: 23:30 local is the next UTC day.
        utc = await daily_series(db, parse_period("2026-11", NOW, UTC), None, "USD", UTC)
        assert _by_day(utc.days, utc.inbound) == {"2026-11-01": 2, "2026-11-02": 2}


async def test_a_half_hour_zone(session_factory: async_sessionmaker[AsyncSession]) -> None:
    """India (+05:30): 23:45 and 00:15 local fall on their own local days."""
    async with unit_of_work(session_factory) as db:
        for n, at in enumerate(
            [
                datetime(2026, 11, 1, 23, 45, tzinfo=KOLKATA),
                datetime(2026, 11, 2, 0, 15, tzinfo=KOLKATA),
            ]
        ):
            await add_call(db, 600 + n, Outcome.ANSWERED, None, "", at=at, suppress="answered")
    async with session_factory() as db:
        series = await daily_series(
            db, parse_period("2026-11-01..2026-11-03", NOW, KOLKATA), None, "USD", KOLKATA
        )
    assert series.inbound == [1, 1]


@pytest.fixture
async def ny_client(
    dash_db: Path, dash_settings: DashboardSettings
) -> AsyncIterator[tuple[Client, list[int]]]:
    """A logged-in dashboard whose business is in New York, with the DST calls."""
    engine = create_engine(f"sqlite+aiosqlite:///{dash_db}")
    factory = create_session_factory(engine)
    ids = await _seed_ny(factory)
    app = dashboard_app(replace(make_deps(factory, dash_settings), zone=NY))
    try:
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            assert await login(client) == 303
            yield client, ids
    finally:
        await engine.dispose()


async def test_the_dashboard_uses_the_business_zone(
    ny_client: tuple[Client, list[int]],
) -> None:
    """The API's daily series and the Calls page's dates are New York days."""
    client, ids = ny_client
    response = await client.get("/api/v1/kpis?period=2026-10-31..2026-11-03")
    daily = (await response.json())["daily"]
    assert daily["days"] == ["2026-10-31", "2026-11-01", "2026-11-02"]
    assert daily["inbound"] == [1, 2, 1]
    page = await (await client.get("/calls?from=2026-11-01&to=2026-11-01")).text()
    assert f'href="/calls/{ids[4]}"' in page
    assert f'href="/calls/{ids[5]}"' in page
    assert f'href="/calls/{ids[3]}"' not in page
    assert f'href="/calls/{ids[6]}"' not in page
    overview = await (await client.get("/?period=2026-10-31..2026-11-03")).text()
    assert "Sat, Oct 31</text>" in overview  # the charts' first local day
