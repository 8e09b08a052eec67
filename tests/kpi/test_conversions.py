"""Tracking tokens, the attribution rule and booking storage, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.bookings.status import BookingStatus
from asterisk_textback.kpi.conversions import (
    NewBooking,
    make_token,
    parse_token,
    tracking_url,
)
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store.bookings import attribute, mark_booked, record_booking
from asterisk_textback.store.models import Booking
from tests.kpi.helpers import T0, add_call, add_text

SECRET = "s3cret"
WINDOW = timedelta(days=7)
CALLER = "+12125550147"


def test_token_round_trip_and_tamper() -> None:
    """A token names its message; an edited id or a wrong secret is refused."""
    token = make_token(123456, SECRET)
    assert token.startswith("2n9c-")
    assert len(token) == 11
    assert parse_token(token, SECRET) == 123456
    assert parse_token(token.upper(), SECRET) == 123456
    assert parse_token(token, "other") is None
    assert parse_token("2n9d" + token[4:], SECRET) is None
    assert parse_token("not a token", SECRET) is None
    assert parse_token(make_token(0, SECRET), SECRET) == 0
    with pytest.raises(ValueError, match="negative"):
        make_token(-1, SECRET)


def test_tracking_url_per_booking_tool() -> None:
    """The token goes into the parameter each tool passes on to its webhook."""
    assert tracking_url("https://book.example/x?a=1", "1-abcdef") == (
        "https://book.example/x?a=1&tb=1-abcdef"
    )
    assert tracking_url("https://cal.com/acme/visit", "1-abcdef", "calcom") == (
        "https://cal.com/acme/visit?metadata[tb]=1-abcdef"
    )
    assert tracking_url("https://calendly.com/acme", "1-abcdef", "calendly") == (
        "https://calendly.com/acme?utm_content=1-abcdef"
    )


async def test_token_wins_over_phone(session: AsyncSession) -> None:
    """The token names the exact text, even for another number and outside the window."""
    old = add_call(session, caller=CALLER)
    old_text = await add_text(session, old)
    recent = add_call(session, caller=CALLER, ended_at=T0 + timedelta(days=20))
    await add_text(session, recent)
    await session.commit()
    found = await attribute(
        session,
        at=T0 + timedelta(days=21),
        e164="+12125550999",
        token=make_token(old_text.id, SECRET),
        window=WINDOW,
        secret=SECRET,
    )
    assert found is not None
    assert (found.call_id, found.message_id, found.by) == (old.id, old_text.id, "token")


async def test_phone_attribution_window_and_last_touch(session: AsyncSession) -> None:
    """By phone: the latest text received within the window before the booking."""
    first = add_call(session, caller=CALLER)
    await add_text(session, first)
    second = add_call(session, caller=CALLER, ended_at=T0 + timedelta(days=2))
    second_text = await add_text(session, second, delivered=False)
    failed = add_call(session, caller=CALLER, ended_at=T0 + timedelta(days=3))
    await add_text(session, failed, status=MessageStatus.FAILED, delivered=False)
    await session.commit()

    async def at(delta: timedelta, token: str | None = None) -> int | None:
        found = await attribute(
            session, at=T0 + delta, e164=CALLER, token=token, window=WINDOW, secret=SECRET
        )
        return None if found is None else found.call_id

    # Sent without a delivery report still counts; the failed text never does.
    assert await at(timedelta(days=4)) == second.id
    assert await at(timedelta(days=1)) == first.id
    # Before any text reached the caller, and after the window: not attributed.
    assert await at(timedelta(seconds=-1)) is None
    assert await at(timedelta(days=2) + WINDOW + timedelta(minutes=1)) is None
    # A forged token falls back to the phone rule.
    assert await at(timedelta(days=4), token=f"{second_text.id}-aaaaaa") == second.id


async def test_record_booking_attributes_and_is_idempotent(session: AsyncSession) -> None:
    """A webhook retry updates the same row; a cancellation keeps the attribution."""
    call = add_call(session, caller=CALLER)
    text = await add_text(session, call)
    await session.commit()
    new = NewBooking(
        source="calcom",
        external_id="uid-1",
        booked_at=T0 + timedelta(hours=2),
        value_minor=15000,
        currency="usd",
        e164=CALLER,
    )
    stored = await record_booking(session, new, now=T0, window=WINDOW, secret=SECRET)
    assert (stored.call_id, stored.message_id, stored.attributed_by) == (call.id, text.id, "phone")
    assert stored.currency == "USD"
    again = await record_booking(session, new, now=T0, window=WINDOW, secret=SECRET)
    assert again.id == stored.id
    cancelled = NewBooking(
        source="calcom",
        external_id="uid-1",
        booked_at=T0 + timedelta(hours=3),
        status=BookingStatus.CANCELLED,
    )
    row = await record_booking(session, cancelled, now=T0, window=WINDOW, secret=SECRET)
    assert row.id == stored.id
    assert row.status is BookingStatus.CANCELLED
    assert row.value_minor == 15000
    assert row.call_id == call.id
    assert await session.scalar(select(func.count(Booking.id))) == 1


async def test_unattributed_booking_is_kept(session: AsyncSession) -> None:
    """A booking from an unknown number is stored without a call."""
    new = NewBooking(source="webhook", booked_at=T0, e164="+12125550999", value_minor=100)
    row = await record_booking(session, new, now=T0, window=WINDOW, secret=SECRET)
    assert row.call_id is None
    assert row.attributed_by is None


async def test_mark_booked_manually(session: AsyncSession) -> None:
    """The dashboard action books a call with a value."""
    call = add_call(session, caller=CALLER)
    await add_text(session, call)
    await session.commit()
    row = await mark_booked(session, call.id, value_minor=9900, currency="eur", now=T0)
    assert (row.call_id, row.attributed_by, row.currency, row.e164) == (
        call.id,
        "manual",
        "EUR",
        CALLER,
    )
