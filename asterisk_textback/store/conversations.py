"""Conversations: who we texted or heard from, one caller's thread, and outbound texts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, literal, null, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.calls.utc import aware
from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store.call_pages import (
    CallRow,
    CursorError,
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
    """One caller's thread summary, and whether it needs an answer."""

    e164: str
    name: str | None
    last_at: datetime
    texts_out: int
    texts_in: int
    opted_out: bool
    #: A reply arrived after staff last opened the conversation.
    unread: bool = False
    #: Marked handled after their last reply (False while a reply waits for an answer).
    handled: bool = False
    #: When they last replied (not STOP/START/HELP); None if never.
    last_reply_at: datetime | None = None

    @property
    def needs_answer(self) -> bool:
        """They replied and nobody marked it handled since."""
        return self.last_reply_at is not None and not self.handled

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "e164": self.e164,
            "name": self.name,
            "last_at": self.last_at.isoformat(),
            "texts_out": self.texts_out,
            "texts_in": self.texts_in,
            "opted_out": self.opted_out,
            "unread": self.unread,
            "handled": self.handled,
            "needs_answer": self.needs_answer,
            "last_reply_at": None if self.last_reply_at is None else self.last_reply_at.isoformat(),
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


#: Texts to staff (replies forwarded by SMS): their numbers are not conversations.
_STAFF_KINDS = ("forward",)


def _summary(search: str | None, exclude: Sequence[str]) -> Any:
    """Per number: last activity, texts each way, last reply (a subquery)."""
    inbound = InboundMessage
    events = union_all(
        # Inbound first: the union's column types (aware datetimes) come from it.
        select(
            inbound.from_e164.label("e164"),
            inbound.received_at.label("at"),
            literal(0).label("out"),
            case((inbound.kind == InboundKind.REPLY, inbound.received_at)).label("reply_at"),
        ),
        select(
            Message.to_e164,
            func.coalesce(Message.sent_at, Message.created_at),
            literal(1),
            null(),
        ).where(Message.kind.not_in(_STAFF_KINDS)),
    ).subquery()
    staff = select(Message.to_e164).where(Message.kind.in_(_STAFF_KINDS))
    query = (
        select(
            events.c.e164,
            func.max(events.c.at).label("last_at"),
            func.sum(events.c.out).label("texts_out"),
            (func.count() - func.sum(events.c.out)).label("texts_in"),
            func.max(events.c.reply_at).label("reply_at"),
        )
        .where(events.c.e164 != "", events.c.e164.not_in(staff))
        .group_by(events.c.e164)
    )
    if exclude:
        query = query.where(events.c.e164.not_in(list(exclude)))
    if search:
        query = query.where(events.c.e164.contains(search.strip(), autoescape=True))
    return query.subquery()


def _rank_key(key: str) -> tuple[int, str]:
    rank, sep, e164 = key.partition(":")
    if not sep or rank not in ("0", "1", "2"):
        raise CursorError("cursor: malformed")
    return int(rank), e164


async def list_conversations(
    session: AsyncSession,
    limit: int,
    cursor: str | None = None,
    search: str | None = None,
    exclude: Sequence[str] = (),
) -> Page[ConversationRow]:
    """Numbers we texted or heard from, what needs an answer first, then latest first.

    Unread and unhandled come first, then unhandled or unread, then the rest; newest
    activity first within each. Numbers in ``exclude`` (staff phones) and numbers replies
    were forwarded to are left out.
    """
    s = _summary(search, exclude)
    seen, handled = Contact.conversation_seen_at, Contact.conversation_handled_at
    replied = s.c.reply_at.is_not(None)
    unread = and_(replied, or_(seen.is_(None), s.c.reply_at > seen))
    waiting = and_(replied, or_(handled.is_(None), s.c.reply_at > handled))
    rank = case((and_(unread, waiting), 0), (or_(unread, waiting), 1), else_=2)
    query = select(
        s.c.e164,
        s.c.last_at,
        s.c.texts_out,
        s.c.texts_in,
        s.c.reply_at,
        func.coalesce(Contact.opted_out, False),
        unread,
        waiting,
        rank,
    ).outerjoin(Contact, Contact.e164 == s.c.e164)
    if cursor:
        at, key = decode_cursor(cursor)
        r, e164 = _rank_key(key)
        later = or_(s.c.last_at < at, and_(s.c.last_at == at, s.c.e164 < e164))
        query = query.where(or_(rank > r, and_(rank == r, later)))
    query = query.order_by(rank, s.c.last_at.desc(), s.c.e164.desc()).limit(limit + 1)
    rows = list(await session.execute(query))
    more = len(rows) > limit
    rows = rows[:limit]
    names = await _names(session, [str(r[0]) for r in rows])
    items = [
        ConversationRow(
            str(e164),
            names.get(str(e164)),
            aware(at),
            int(out),
            int(inn),
            bool(opted),
            unread=bool(is_unread),
            handled=reply_at is not None and not is_waiting,
            last_reply_at=None if reply_at is None else aware(reply_at),
        )
        for e164, at, out, inn, reply_at, opted, is_unread, is_waiting, _ in rows
    ]
    after = None
    if more:
        last = rows[-1]
        after = encode_cursor(items[-1].last_at, f"{int(last[8])}:{items[-1].e164}")
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
    #: The outbox id of one of ours; None for theirs.
    message_id: int | None = None
    #: Who wrote one of ours by hand (a dashboard user or "api"); None when automatic.
    sent_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "at": self.at.isoformat(),
            "direction": self.direction,
            "body": self.body,
            "kind": self.kind,
            "status": self.status,
            "call_id": self.call_id,
            "message_id": self.message_id,
            "sent_by": self.sent_by,
        }


@dataclass(frozen=True, slots=True)
class Thread:
    """A caller's texts in time order, their calls and opt-out state."""

    e164: str
    items: list[ThreadItem] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    opted_out: bool = False
    opted_out_at: datetime | None = None
    opt_out_source: str | None = None
    #: When staff last opened it / marked it handled.
    seen_at: datetime | None = None
    handled_at: datetime | None = None

    @property
    def last_reply_at(self) -> datetime | None:
        """When they last replied (not STOP/START/HELP)."""
        replies = [i.at for i in self.items if i.direction == "in" and i.kind == "reply"]
        return max(replies, default=None)

    @property
    def handled(self) -> bool:
        """Marked handled since their last reply."""
        last = self.last_reply_at
        return last is not None and self.handled_at is not None and self.handled_at >= last

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "e164": self.e164,
            "opted_out": self.opted_out,
            "handled": self.handled,
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
        ThreadItem(
            m.sent_at or m.created_at,
            "out",
            m.body,
            m.kind,
            m.status.value,
            m.call_id,
            message_id=m.id,
            sent_by=m.sent_by,
        )
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
    if contact is None:
        return Thread(e164, items[-limit:], calls)
    return Thread(
        e164,
        items[-limit:],
        calls,
        contact.opted_out,
        contact.opted_out_at,
        contact.opt_out_source,
        contact.conversation_seen_at,
        contact.conversation_handled_at,
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
        "sent_by": m.sent_by,
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
