"""Contacts: opt-out, line type, and the texting history that cooldowns and caps read.

No function here commits: each runs in the caller's ``store.unit_of_work`` (or ``reading``),
so the caller decides what is written together. Keep write units short: on SQLite each holds
the database's write lock until it ends.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, bindparam, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store import consent_events
from asterisk_textback.store._dialect import dialect_of, insert, insert_for, table_of
from asterisk_textback.store.models import Contact, Message

__all__ = [
    "COUNTED_STATUSES",
    "get_contact",
    "last_texted_at",
    "mark_no_sms",
    "opt_in",
    "opt_out",
    "opt_out_many",
    "opted_out",
    "record_line_type",
    "record_texted",
    "record_texted_many",
    "texts_since",
]

#: Messages that count as "texted" for cooldowns and caps: sent, or possibly about to be.
#: ``unknown`` counts because it may well have reached the phone.
COUNTED_STATUSES: tuple[MessageStatus, ...] = (
    MessageStatus.QUEUED,
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.UNKNOWN,
)


async def _upsert(session: AsyncSession, e164: str, now: datetime, changes: dict[str, Any]) -> None:
    row: dict[str, Any] = {
        "e164": e164,
        "opted_out": False,
        "texts_today": 0,
        "created_at": now,
        "updated_at": now,
    }
    stmt = insert(session, Contact).values({**row, **changes})
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Contact.e164], set_={**changes, "updated_at": now}
        )
    )


async def get_contact(session: AsyncSession, e164: str) -> Contact | None:
    """The contact row for ``e164``, or None if we never heard of the number."""
    return await session.get(Contact, e164)


async def opt_out(
    session: AsyncSession,
    e164: str,
    *,
    now: datetime,
    source: str,
    wording: str | None = None,
    inbound_message_id: int | None = None,
) -> bool:
    """Record that ``e164`` must never be texted again (e.g. ``source="sms:STOP"``).

    Whether it changed anything: a number already opted out keeps its original time and
    source, and no second event is written (``store.consent_events``). ``wording`` and
    ``inbound_message_id``: the text that asked for it, when one did.
    """
    changes = {"opted_out": True, "opted_out_at": now, "opt_out_source": source}
    stmt = (
        insert(session, Contact)
        .values(e164=e164, texts_today=0, created_at=now, updated_at=now, **changes)
        .on_conflict_do_update(
            index_elements=[Contact.e164],
            set_={**changes, "updated_at": now},
            where=Contact.opted_out.is_(False),
        )
        .returning(Contact.e164)
    )
    if (await session.execute(stmt)).first() is None:
        return False
    await consent_events.record(
        session,
        e164,
        consent_events.OPT_OUT,
        at=now,
        source=source,
        now=now,
        wording=wording,
        inbound_message_id=inbound_message_id,
    )
    return True


async def opt_in(
    session: AsyncSession,
    e164: str,
    *,
    now: datetime,
    source: str,
    wording: str | None = None,
    inbound_message_id: int | None = None,
) -> bool:
    """Lift an opt-out (e.g. ``source="sms:START"``); whether there was one to lift.

    A number not opted out is left as it is, and no event is written.
    """
    stmt = (
        update(Contact)
        .where(Contact.e164 == e164, Contact.opted_out.is_(True))
        .values(opted_out=False, opted_out_at=now, opt_out_source=source, updated_at=now)
        .returning(Contact.e164)
        .execution_options(synchronize_session=False)
    )
    if (await session.execute(stmt)).first() is None:
        return False
    await consent_events.record(
        session,
        e164,
        consent_events.OPT_IN,
        at=now,
        source=source,
        now=now,
        wording=wording,
        inbound_message_id=inbound_message_id,
    )
    return True


async def opted_out(session: AsyncSession) -> list[tuple[str, datetime | None, str | None]]:
    """Every opted-out number with when and why, in number order (the CSV export)."""
    rows = await session.execute(
        select(Contact.e164, Contact.opted_out_at, Contact.opt_out_source)
        .where(Contact.opted_out.is_(True))
        .order_by(Contact.e164)
    )
    return [(e164, at, source) for e164, at, source in rows]


async def opt_out_many(
    session: AsyncSession,
    entries: Sequence[tuple[str, datetime | None, str | None]],
    *,
    now: datetime,
) -> tuple[int, int]:
    """Opt out each ``(e164, at or None, source)`` in one transaction: (added, unchanged).

    Numbers already opted out keep their original time and source and get no new event;
    each number opted out gets one (``store.consent_events``).
    """
    added = unchanged = 0
    for e164, at, source in entries:
        changes = {"opted_out": True, "opted_out_at": at or now, "opt_out_source": source}
        stmt = (
            insert(session, Contact)
            .values(e164=e164, texts_today=0, created_at=now, updated_at=now, **changes)
            .on_conflict_do_update(
                index_elements=[Contact.e164],
                set_={**changes, "updated_at": now},
                where=Contact.opted_out.is_(False),
            )
            .returning(Contact.e164)
        )
        if (await session.execute(stmt)).first() is None:
            unchanged += 1
            continue
        added += 1
        await consent_events.record(
            session, e164, consent_events.OPT_OUT, at=at or now, source=source, now=now
        )
    return added, unchanged


async def record_line_type(
    session: AsyncSession,
    e164: str,
    *,
    now: datetime,
    line_type: str | None,
    sms_capable: bool | None,
) -> None:
    """Store what a lookup or a provider error said about the line."""
    changes = {"line_type": line_type, "sms_capable": sms_capable, "line_checked_at": now}
    await _upsert(session, e164, now, changes)


async def mark_no_sms(
    session: AsyncSession, e164: str, *, now: datetime, line_type: str = "landline"
) -> None:
    """Remember that ``e164`` cannot receive texts (after a permanent provider error)."""
    await record_line_type(session, e164, now=now, line_type=line_type, sms_capable=False)


async def record_texted(session: AsyncSession, e164: str, *, now: datetime) -> None:
    """Bump the contact's texting counters for a text sent at ``now``."""
    await record_texted_many(session, {e164: 1}, now=now)


async def record_texted_many(
    session: AsyncSession, counts: Mapping[str, int], *, now: datetime
) -> None:
    """Bump texting counters for ``counts[e164]`` texts sent at ``now``."""
    if not counts:
        return
    connection = await session.connection()
    params = [
        {"e164": e, "n": c, "t_now": now, "t_day": now.date()} for e, c in sorted(counts.items())
    ]
    # Core executemany on the session's connection: one statement, one row per number.
    await connection.execute(_texted_statement(dialect_of(session)), params)


@functools.cache
def _texted_statement(dialect: str) -> Any:
    """The counters' upsert, built once per dialect (it runs for every batch of texts)."""
    table = table_of(Contact)
    c = table.c
    n = bindparam("n", type_=Integer)
    now = bindparam("t_now", type_=c.updated_at.type)
    day = bindparam("t_day", type_=c.texts_day.type)
    stmt = insert_for(dialect, table).values(
        e164=bindparam("e164", type_=String),
        opted_out=False,
        texts_today=n,
        texts_day=day,
        last_texted_at=now,
        first_contact_at=now,
        created_at=now,
        updated_at=now,
    )
    return stmt.on_conflict_do_update(
        index_elements=[c.e164],
        set_={
            "texts_today": case((c.texts_day == day, c.texts_today + n), else_=n),
            "texts_day": day,
            "last_texted_at": now,
            "first_contact_at": func.coalesce(c.first_contact_at, now),
            "updated_at": now,
        },
    )


def texted_at() -> Any:
    # A queued text counts from when it is due; a sent one from when it went out.
    return func.coalesce(Message.sent_at, Message.send_at)


async def texts_since(session: AsyncSession, e164: str, since: datetime) -> int:
    """How many texts to ``e164`` went out, or are pending, at or after ``since``."""
    count = await session.scalar(
        select(func.count())
        .select_from(Message)
        .where(
            Message.to_e164 == e164,
            Message.status.in_(COUNTED_STATUSES),
            texted_at() >= since,
        )
    )
    return int(count or 0)


async def last_texted_at(session: AsyncSession, e164: str) -> datetime | None:
    """When ``e164`` was last texted (or is due to be), for cooldowns; None if never."""
    return await session.scalar(
        select(func.max(texted_at()).label("at")).where(
            Message.to_e164 == e164, Message.status.in_(COUNTED_STATUSES)
        )
    )
