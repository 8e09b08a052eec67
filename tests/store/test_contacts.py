"""Contacts: opt-out and opt-in, line type, and the counts behind cooldowns and daily caps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store import contacts
from asterisk_textback.store.outbox import NewMessage, cancel_if_handled, enqueue

NUMBER = "+12125550147"


async def test_opt_out_then_opt_in(session: AsyncSession, now: datetime) -> None:
    assert await contacts.get_contact(session, NUMBER) is None
    await contacts.opt_out(session, NUMBER, now=now, source="sms:STOP")
    contact = await contacts.get_contact(session, NUMBER)
    assert contact is not None
    assert (contact.opted_out, contact.opted_out_at, contact.opt_out_source) == (
        True,
        now,
        "sms:STOP",
    )
    later = now + timedelta(days=1)
    await contacts.opt_in(session, NUMBER, now=later, source="sms:START")
    await session.refresh(contact)
    assert (contact.opted_out, contact.opt_out_source, contact.updated_at) == (
        False,
        "sms:START",
        later,
    )


async def test_mark_no_sms_keeps_the_opt_out(session: AsyncSession, now: datetime) -> None:
    await contacts.opt_out(session, NUMBER, now=now, source="manual")
    await contacts.mark_no_sms(session, NUMBER, now=now)
    contact = await contacts.get_contact(session, NUMBER)
    assert contact is not None
    assert (contact.sms_capable, contact.line_type, contact.line_checked_at) == (
        False,
        "landline",
        now,
    )
    assert contact.opted_out


async def test_record_texted_counts_per_day(session: AsyncSession, now: datetime) -> None:
    for at in (now, now + timedelta(hours=1), now + timedelta(days=1)):
        await contacts.record_texted(session, NUMBER, now=at)
        await session.commit()
    contact = await contacts.get_contact(session, NUMBER)
    assert contact is not None
    await session.refresh(contact)
    assert contact.texts_today == 1  # reset on the new day
    assert contact.texts_day == (now + timedelta(days=1)).date()
    assert contact.first_contact_at == now
    assert contact.last_texted_at == now + timedelta(days=1)


async def test_texts_since_counts_pending_and_sent_but_not_cancelled(
    session: AsyncSession, make_message: Callable[..., NewMessage], now: datetime
) -> None:
    assert await contacts.last_texted_at(session, NUMBER) is None
    for n, hours in enumerate([-30, -2, 1]):
        message = make_message(send_at=now + timedelta(hours=hours), expires_at=None)
        await enqueue(session, message, key=f"k{n}", now=now)
    await enqueue(session, make_message(to_e164="+12125550000"), key="other", now=now)
    assert await contacts.texts_since(session, NUMBER, now - timedelta(hours=24)) == 2
    assert await contacts.last_texted_at(session, NUMBER) == now + timedelta(hours=1)
    assert await cancel_if_handled(session, NUMBER, now + timedelta(days=1), now=now) == 3
    assert await contacts.texts_since(session, NUMBER, now - timedelta(days=7)) == 0
    assert MessageStatus.CANCELLED not in contacts.COUNTED_STATUSES
