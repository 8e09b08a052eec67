"""The dashboard's queries on SQLite and PostgreSQL, seeded through the store functions."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.model import Outcome
from asterisk_textback.kpi.periods import parse_period
from asterisk_textback.store.call_pages import CallFilter, list_calls
from asterisk_textback.store.conversations import list_conversations, list_messages, thread
from asterisk_textback.store.daily_series import daily_series, last_errors, outbox_depth
from asterisk_textback.web.dashboard.abtests import experiment_views
from tests.web.seed import NOW, seed

NOVEMBER = parse_period("2026-11", now=NOW)


async def test_calls_keyset_pages_and_filters(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Pages of 4 cover all 12 calls once; search is case-insensitive; extras are right."""
    seeded = await seed(session_factory)
    async with session_factory() as db:
        ids: list[int] = []
        cursor = None
        while True:
            page = await list_calls(db, CallFilter(), 4, cursor)
            ids += [row.call.id for row in page.items]
            if (cursor := page.next_cursor) is None:
                break
        assert sorted(ids) == sorted(set(ids))
        assert len(ids) == 12
        found = await list_calls(db, CallFilter(search="ALICE"), 10)
        (alice,) = found.items
        assert alice.call.id == seeded.alice_call
        assert alice.replies == 1
        assert alice.booked
        assert alice.first_response_seconds == 1.5
        missed = await list_calls(
            db, CallFilter(outcome=Outcome.MISSED_NO_VOICEMAIL, until=date(2026, 11, 2)), 10
        )
        assert len(missed.items) == 3


async def test_series_health_threads_experiments(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Per-day buckets, outbox depth, errors, conversations and A/B counts on both backends."""
    await seed(session_factory)
    async with session_factory() as db:
        series = await daily_series(db, NOVEMBER, None, "USD")
        day = series.days.index(date(2026, 11, 2))
        assert series.inbound[day] == 5
        assert series.missed[day] == 4
        assert series.sent[day] == 2
        assert series.delivered[day] == 2
        assert series.replies[day] == 1
        assert series.bookings[day] == 1
        assert series.revenue[day] == 150.0
        assert series.inbound[day - 1] == 7
        assert sum(series.inbound) == 12
        depth = await outbox_depth(db)
        assert depth["delivered"] == 2
        assert depth["failed"] == 1
        errors, parked = await last_errors(db)
        assert [e.error for e in errors] == ["21211 invalid number"]
        assert parked == 0
        convos = await list_conversations(db, 2)
        assert len(convos.items) == 2
        assert convos.next_cursor is not None
        rest = await list_conversations(db, 10, convos.next_cursor)
        numbers = {c.e164 for c in convos.items + rest.items}
        assert numbers == {"+12125550101", "+12125550102", "+12125550105"}
        stop = await thread(db, "+12125550102")
        assert stop.opted_out
        assert [i.direction for i in stop.items] == ["out", "in"]
        messages = await list_messages(db, 10)
        assert len(messages.items) == 3
        assert messages.next_cursor is None
        (view,) = await experiment_views(db, NOVEMBER, None, labels={}, controls={}, min_trials=1)
        assert {c.variant: c.delivered for c in view.counts} == {"b": 1, "control": 1}
        assert view.results["reply"].control == "control"
