"""Conversations: who we texted or heard from, one caller's thread, and outbound texts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.calls.utc import aware
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store.call_pages import (
    CallRow,
    Page,
    decode_cursor,
    decode_id_cursor,
    decorate,
    encode_cursor,
)
from asterisk_textback.store.models import Booking, Call, Contact, InboundMessage, Message

__all__ = [
    "ConversationRow",
    "Thread",
    "ThreadItem",
    "call_bookings",
    "call_detail",
    "list_conversations",
    "list_messages",
    "message_dict",
    "thread",
]


async def call_detail(session: AsyncSession, call_id: int) -> tuple[CallRow, Thread] | None:
    """One call with its row extras and the caller's whole thread; None when unknown."""
    call = await session.get(Call, call_id)
    if call is None:
        return None
    (row,) = await decorate(session, [call])
    return row, await thread(session, call.caller_e164 or "")


async def call_bookings(session: AsyncSession, call_id: int) -> list[Booking]:
    """The bookings credited to a call, newest first."""
    rows = await session.scalars(
        select(Booking).where(Booking.call_id == call_id).order_by(Booking.id.desc()).limit(20)
    )
    return list(rows)


@dataclass(frozen=True, slots=True)
class ConversationRow:
    """One caller's thread summary."""

    e164: str
    name: str | None
    last_at: datetime
    texts_out: int
    texts_in: int
    opted_out: bool

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "e164": self.e164,
            "name": self.name,
            "last_at": self.last_at.isoformat(),
            "texts_out": self.texts_out,
            "texts_in": self.texts_in,
            "opted_out": self.opted_out,
        }


async def _names(session: AsyncSession, numbers: list[str]) -> dict[str, str]:
    latest = (
        select(Call.caller_e164, func.max(Call.id).label("id"))
        .where(Call.caller_e164.in_(numbers))
        .group_by(Call.caller_e164)
        .subquery()
    )
    rows = await session.execute(
        select(Call.caller_e164, Call.caller_name).join(latest, Call.id == latest.c.id)
    )
    return {str(e164): str(name) for e164, name in rows if name}


async def list_conversations(
    session: AsyncSession, limit: int, cursor: str | None = None, search: str | None = None
) -> Page[ConversationRow]:
    """Numbers we texted or heard from, most recent activity first."""
    events = union_all(
        select(
            Message.to_e164.label("e164"),
            func.coalesce(Message.sent_at, Message.created_at).label("at"),
            literal(1).label("out"),
        ),
        select(InboundMessage.from_e164, InboundMessage.received_at, literal(0)),
    ).subquery()
    last_at = func.max(events.c.at)
    query = (
        select(
            events.c.e164,
            last_at.label("last_at"),
            func.sum(events.c.out),
            func.count() - func.sum(events.c.out),
        )
        .where(events.c.e164 != "")
        .group_by(events.c.e164)
    )
    if search:
        query = query.where(events.c.e164.contains(search.strip(), autoescape=True))
    if cursor:
        at, key = decode_cursor(cursor)
        query = query.having(or_(last_at < at, and_(last_at == at, events.c.e164 < key)))
    rows = list(
        await session.execute(query.order_by(last_at.desc(), events.c.e164.desc()).limit(limit + 1))
    )
    more = len(rows) > limit
    rows = rows[:limit]
    numbers = [str(r[0]) for r in rows]
    opted = set(
        await session.scalars(
            select(Contact.e164).where(Contact.e164.in_(numbers), Contact.opted_out.is_(True))
        )
    )
    names = await _names(session, numbers)
    items = [
        ConversationRow(
            str(e164), names.get(str(e164)), aware(at), int(out), int(inn), e164 in opted
        )
        for e164, at, out, inn in rows
    ]
    after = encode_cursor(items[-1].last_at, items[-1].e164) if more else None
    return Page(items, after)


@dataclass(frozen=True, slots=True)
class ThreadItem:
    """One text in a thread: out (ours) or in (theirs)."""

    at: datetime
    direction: str
    body: str
    kind: str
    status: str
    call_id: int | None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "at": self.at.isoformat(),
            "direction": self.direction,
            "body": self.body,
            "kind": self.kind,
            "status": self.status,
            "call_id": self.call_id,
        }


@dataclass(frozen=True, slots=True)
class Thread:
    """A caller's texts in time order, their calls and opt-out state."""

    e164: str
    items: list[ThreadItem] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    opted_out: bool = False
    opted_out_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "e164": self.e164,
            "opted_out": self.opted_out,
            "opted_out_at": None if self.opted_out_at is None else self.opted_out_at.isoformat(),
            "call_ids": [c.id for c in self.calls],
            "items": [item.as_dict() for item in self.items],
        }


async def thread(session: AsyncSession, e164: str, limit: int = 500) -> Thread:
    """The last ``limit`` texts to and from ``e164``, oldest first."""
    if not e164:
        return Thread(e164)
    out = await session.scalars(
        select(Message).where(Message.to_e164 == e164).order_by(Message.id.desc()).limit(limit)
    )
    items = [
        ThreadItem(m.sent_at or m.created_at, "out", m.body, m.kind, m.status.value, m.call_id)
        for m in out
    ]
    inbound = await session.scalars(
        select(InboundMessage)
        .where(InboundMessage.from_e164 == e164)
        .order_by(InboundMessage.id.desc())
        .limit(limit)
    )
    items += [ThreadItem(m.received_at, "in", m.body, m.kind.value, "", m.call_id) for m in inbound]
    items.sort(key=lambda item: item.at)
    calls = list(
        await session.scalars(
            select(Call).where(Call.caller_e164 == e164).order_by(Call.ended_at.desc()).limit(50)
        )
    )
    contact = await session.get(Contact, e164)
    return Thread(
        e164,
        items[-limit:],
        calls,
        bool(contact and contact.opted_out),
        None if contact is None else contact.opted_out_at,
    )


def message_dict(m: Message) -> dict[str, Any]:
    """A JSON-ready mapping of one outbound text."""

    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "id": m.id,
        "call_id": m.call_id,
        "kind": m.kind,
        "to_e164": m.to_e164,
        "body": m.body,
        "segments": m.segments,
        "template": m.template,
        "variant": m.variant,
        "status": m.status.value,
        "attempts": m.attempts,
        "last_error": m.last_error,
        "provider": m.provider,
        "created_at": iso(m.created_at),
        "sent_at": iso(m.sent_at),
        "delivered_at": iso(m.delivered_at),
    }


async def list_messages(
    session: AsyncSession,
    limit: int,
    cursor: str | None = None,
    status: MessageStatus | None = None,
    to_e164: str | None = None,
) -> Page[Message]:
    """Outbound texts newest first."""
    query = select(Message)
    if status is not None:
        query = query.where(Message.status == status)
    if to_e164:
        query = query.where(Message.to_e164 == to_e164)
    if cursor:
        _, key = decode_id_cursor(cursor)
        query = query.where(Message.id < key)
    rows = list(await session.scalars(query.order_by(Message.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    after = encode_cursor(rows[-1].created_at, rows[-1].id) if more else None
    return Page(rows, after)
