"""Staff replies from the dashboard and the API, and a conversation's read/handled marks.

:func:`queue_staff_reply` checks consent and enqueues in the caller's one unit of work, with
the contact's row locked first (``INSERT … ON CONFLICT DO UPDATE``): a STOP recorded by
another transaction either commits before (the reply sees the opt-out and is refused) or
waits for the reply's commit, and then its cancellation of queued texts
(``store.inbound``) finds and cancels the reply. So a reply is never queued after an
opt-out. On SQLite writers are serialized anyway; the lock is what holds on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.store._dialect import insert
from asterisk_textback.store.models import Call, Contact, InboundMessage, Message
from asterisk_textback.store.outbox import NewMessage, enqueue

__all__ = [
    "STAFF_REPLY",
    "ReplyRefused",
    "StaffReply",
    "known_number",
    "mark_handled",
    "mark_seen",
    "queue_staff_reply",
    "reply_sender",
]

#: Outbox kind of a text a person wrote from the dashboard or the API.
STAFF_REPLY = "staff_reply"


class ReplyRefused(Exception):
    """A staff reply that may not be queued: ``code`` is ``unknown``, ``opted_out`` or
    ``no_sender``; the message says why in words."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        opted_out_at: datetime | None = None,
        source: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        #: For ``opted_out``: when and how (``sms:stop``, ``provider``, ``import``…).
        self.opted_out_at = opted_out_at
        self.source = source


@dataclass(frozen=True, slots=True)
class StaffReply:
    """A reply to queue: the counted body, its author and its idempotency key."""

    to_e164: str
    body: str
    segments: int
    encoding: str
    sent_by: str
    key: str


async def known_number(session: AsyncSession, e164: str) -> bool:
    """True when we texted, heard from or had a call from ``e164``."""
    if not e164:
        return False
    found = await session.scalar(
        select(
            exists().where(Message.to_e164 == e164)
            | exists().where(InboundMessage.from_e164 == e164)
            | exists().where(Call.caller_e164 == e164)
        )
    )
    return bool(found)


async def reply_sender(
    session: AsyncSession, e164: str, sender_for: Callable[[str], str] | None = None
) -> str | None:
    """The business number to answer ``e164`` from: the one used most recently between us.

    That is the number they last texted, or the one we last texted them from, whichever is
    later; with neither, ``sender_for(did)`` of their latest call (the text-back's rule).
    """
    latest = union_all(
        select(
            InboundMessage.to_e164.label("number"), InboundMessage.received_at.label("at")
        ).where(InboundMessage.from_e164 == e164, InboundMessage.to_e164 != ""),
        select(Message.sender, Message.created_at).where(
            Message.to_e164 == e164, Message.sender != ""
        ),
    ).subquery()
    number = await session.scalar(select(latest.c.number).order_by(latest.c.at.desc()).limit(1))
    if number:
        return str(number)
    if sender_for is None:
        return None
    did = await session.scalar(
        select(Call.did).where(Call.caller_e164 == e164).order_by(Call.ended_at.desc()).limit(1)
    )
    return None if did is None else sender_for(did) or None


async def _lock_contact(
    session: AsyncSession, e164: str, now: datetime, changes: dict[str, Any]
) -> Contact:
    """Create or update ``e164``'s contact row, holding its lock until the transaction ends."""
    stmt = (
        insert(session, Contact)
        .values(
            e164=e164, opted_out=False, texts_today=0, created_at=now, updated_at=now, **changes
        )
        .on_conflict_do_update(index_elements=[Contact.e164], set_=changes or {"e164": e164})
        .returning(Contact)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).one()


async def queue_staff_reply(
    session: AsyncSession,
    reply: StaffReply,
    *,
    now: datetime,
    sender_for: Callable[[str], str] | None = None,
) -> tuple[Message, bool]:
    """Queue ``reply`` unless the number is unknown or opted out: (the row, whether new).

    Raises :class:`ReplyRefused`. Runs in the caller's unit of work; the reply leaves once
    it commits (the dispatcher of ``run`` sends it).
    """
    e164 = reply.to_e164
    if not await known_number(session, e164):
        raise ReplyRefused("unknown", f"no texts or calls with {e164}")
    # Answering is handling: the thread leaves "needs an answer" until they reply again.
    answered = {"conversation_seen_at": now, "conversation_handled_at": now}
    contact = await _lock_contact(session, e164, now, answered)
    if contact.opted_out:
        raise ReplyRefused(
            "opted_out",
            f"{e164} has opted out: no text may be sent until they text START",
            opted_out_at=contact.opted_out_at,
            source=contact.opt_out_source,
        )
    sender = await reply_sender(session, e164, sender_for)
    if sender is None:
        raise ReplyRefused("no_sender", f"no business number to text {e164} from")
    new = NewMessage(
        to_e164=e164,
        sender=sender,
        body=reply.body,
        segments=reply.segments,
        encoding=reply.encoding,
        send_at=now,
        kind=STAFF_REPLY,
        sent_by=reply.sent_by[:64],
    )
    return await enqueue(session, new, key=reply.key, now=now)


async def mark_seen(session: AsyncSession, e164: str, *, now: datetime) -> None:
    """Staff opened the conversation with ``e164`` now (earlier replies are read)."""
    await _lock_contact(session, e164, now, {"conversation_seen_at": now})


async def mark_handled(session: AsyncSession, e164: str, *, now: datetime) -> None:
    """Staff marked the conversation handled (and so read); a later reply reopens it."""
    await _lock_contact(
        session, e164, now, {"conversation_seen_at": now, "conversation_handled_at": now}
    )
