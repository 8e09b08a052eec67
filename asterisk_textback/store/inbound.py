"""Inbound texts: store each once, act on STOP/START atomically, and track forwarding.

:func:`record_inbound` writes, in the caller's one unit of work, the inbound row, its link to
the missed call it answers, the contact's consent change, the cancellation of texts still
queued to an opted-out number (the STOP race), and at most one confirmation text in the
outbox. The webhook answers 2xx only after that unit commits, so an opt-out is never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store import autoreply, contacts
from asterisk_textback.store._dialect import insert
from asterisk_textback.store.autoreply import CONFIRMATION_KINDS
from asterisk_textback.store.models import Call, InboundMessage, Message
from asterisk_textback.store.outbox import NewMessage, insert_message, not_yet_sent

log = logging.getLogger(__name__)

__all__ = [
    "CONFIRMATION_KINDS",
    "DEFAULT_THREAD_WINDOW",
    "NewInbound",
    "StoredInbound",
    "claim_forward",
    "due_forwards",
    "find_thread_call",
    "finish_forward",
    "get_inbound",
    "record_inbound",
]


#: How long after a texted missed call a text from that number counts as its reply.
DEFAULT_THREAD_WINDOW = timedelta(days=14)

#: Outbox statuses meaning the text-back may be on the caller's phone.
_TEXTED = (
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.UNKNOWN,
)


@dataclass(frozen=True, slots=True)
class NewInbound:
    """A verified inbound text, classified, ready to store."""

    provider: str
    provider_message_id: str
    from_e164: str
    to_e164: str
    body: str
    received_at: datetime
    kind: InboundKind
    keyword: str | None = None


@dataclass(frozen=True, slots=True)
class StoredInbound:
    """What :func:`record_inbound` stored (or found stored before)."""

    inbound: InboundMessage
    #: False for a provider retry of a text already stored: nothing was done this time.
    created: bool
    #: True when this text changed the contact's consent (opted out, or back in).
    consent_changed: bool
    #: The confirmation or help text queued in the same transaction, if any.
    confirmation: Message | None
    #: Texts still queued to this number that the opt-out cancelled.
    cancelled: int


async def get_inbound(session: AsyncSession, inbound_id: int) -> InboundMessage | None:
    """One inbound text by id."""
    return await session.get(InboundMessage, inbound_id)


async def find_thread_call(
    session: AsyncSession, e164: str, at: datetime, window: timedelta = DEFAULT_THREAD_WINDOW
) -> Call | None:
    """The latest call from ``e164`` that was texted back within ``window`` before ``at``."""
    texted = exists().where(
        Message.call_id == Call.id, Message.kind == "textback", Message.status.in_(_TEXTED)
    )
    return await session.scalar(
        select(Call)
        .where(Call.caller_e164 == e164, Call.ended_at >= at - window, texted)
        .order_by(Call.ended_at.desc(), Call.id.desc())
        .limit(1)
    )


async def _cancel_queued(session: AsyncSession, e164: str, now: datetime) -> int:
    """Cancel texts to an opted-out number that have not left yet (not the confirmations).

    That includes texts a worker has claimed but not yet handed to the provider (waiting for
    its sender's rate slot): the worker's ``mark_sending`` then finds them cancelled.
    """
    stmt = (
        update(Message)
        .where(
            Message.to_e164 == e164,
            not_yet_sent(),
            Message.kind.not_in(CONFIRMATION_KINDS),
        )
        .values(status=MessageStatus.CANCELLED, last_error="opted out by text", updated_at=now)
        .returning(Message.id)
    )
    return len((await session.scalars(stmt)).all())


async def record_inbound(
    session: AsyncSession,
    new: NewInbound,
    *,
    now: datetime,
    confirmation: NewMessage | None = None,
    thread_window: timedelta = DEFAULT_THREAD_WINDOW,
    budget: autoreply.Budget | None = None,
) -> StoredInbound:
    """Store one inbound text and act on it in one transaction.

    ``confirmation`` (kind ``optout_confirm``/``optin_confirm``/``help``) is queued under
    ``inbound:<id>:<kind>`` when the text changed the contact's consent, or for HELP, as
    far as the auto-reply ``budget`` allows (``store.autoreply``; None: no budget).
    A provider retry (same provider and id) changes nothing and returns the stored row.
    """
    thread = await find_thread_call(session, new.from_e164, new.received_at, thread_window)
    stmt = (
        insert(session, InboundMessage)
        .values(
            provider=new.provider,
            provider_message_id=new.provider_message_id,
            from_e164=new.from_e164,
            to_e164=new.to_e164,
            body=new.body,
            received_at=new.received_at,
            kind=new.kind,
            keyword=new.keyword,
            call_id=None if thread is None else thread.id,
            forward_done="",
            forward_attempts=0,
            created_at=now,
        )
        .on_conflict_do_nothing(
            index_elements=[InboundMessage.provider, InboundMessage.provider_message_id]
        )
        .returning(InboundMessage)
    )
    row = (await session.scalars(stmt)).one_or_none()
    if row is None:
        existing = await session.scalar(
            select(InboundMessage).where(
                InboundMessage.provider == new.provider,
                InboundMessage.provider_message_id == new.provider_message_id,
            )
        )
        if existing is None:  # pragma: no cover - the conflicting row cannot vanish
            raise RuntimeError("inbound message conflicted but cannot be read")
        return StoredInbound(existing, False, False, None, 0)
    source = f"sms:{new.keyword or new.kind.value}"[:64]
    changed = False
    cancelled = 0
    # A second STOP is a no-op (the WHERE of ``contacts.opt_out``), so only the first one
    # is confirmed, the original opt-out time is kept and one consent event is written.
    if new.kind in (InboundKind.STOP, InboundKind.START):
        change = contacts.opt_out if new.kind is InboundKind.STOP else contacts.opt_in
        changed = await change(
            session,
            new.from_e164,
            now=now,
            source=source,
            wording=new.body,
            inbound_message_id=row.id,
        )
    if new.kind is InboundKind.STOP:
        cancelled = await _cancel_queued(session, new.from_e164, now)
    queued = None
    if confirmation is not None and (changed or new.kind is InboundKind.HELP):
        key = f"inbound:{row.id}:{confirmation.kind}"
        why = None
        if budget is not None:
            why = await autoreply.refusal(session, confirmation, key=key, now=now, budget=budget)
        if why is None:
            queued = await insert_message(
                session, confirmation, key=key, call_id=row.call_id, now=now
            )
        else:
            log.info("no %s queued: %s", confirmation.kind, why)
    return StoredInbound(row, True, changed, queued, cancelled)


def _forward_due(now: datetime) -> ColumnElement[bool]:
    return and_(
        InboundMessage.forwarded_at.is_(None),
        or_(InboundMessage.forward_next_at.is_(None), InboundMessage.forward_next_at <= now),
    )


async def due_forwards(
    session: AsyncSession, *, now: datetime, since: datetime, limit: int = 100
) -> list[int]:
    """Ids of replies received after ``since`` still waiting to be forwarded, oldest first."""
    ids = await session.scalars(
        select(InboundMessage.id)
        .where(
            InboundMessage.kind == InboundKind.REPLY,
            InboundMessage.received_at >= since,
            _forward_due(now),
        )
        .order_by(InboundMessage.id)
        .limit(limit)
    )
    return list(ids.all())


async def claim_forward(
    session: AsyncSession, inbound_id: int, *, now: datetime, lease: timedelta
) -> InboundMessage | None:
    """Take the forwarding of one reply for ``lease``; None if done or taken.

    The lease keeps the immediate forward and the retry sweep (or a second instance) from
    sending the same reply twice at once.
    """
    row = (
        await session.scalars(
            update(InboundMessage)
            .where(InboundMessage.id == inbound_id, _forward_due(now))
            .values(
                forward_next_at=now + lease,
                forward_attempts=InboundMessage.forward_attempts + 1,
            )
            .returning(InboundMessage)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    return row


async def finish_forward(
    session: AsyncSession,
    inbound_id: int,
    *,
    now: datetime,
    done: Sequence[str],
    error: str | None,
    retry_at: datetime | None = None,
) -> None:
    """Record a forwarding attempt: channels done, and either success or when to retry."""
    values: dict[str, object] = {"forward_done": ",".join(sorted(set(done)))[:64]}
    if error is None:
        values.update(forwarded_at=now, forward_error=None, forward_next_at=None)
    else:
        values.update(forward_error=error[:2000], forward_next_at=retry_at)
    await session.execute(
        update(InboundMessage).where(InboundMessage.id == inbound_id).values(values)
    )
