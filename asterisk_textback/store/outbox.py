"""The outbox: idempotent enqueue, atomic claims, cancel-if-handled, expiry, crash recovery.

::

    queued ──claim──> sending ──> sent ──(webhook)──> delivered / failed
      │                  ├──transient──> queued (backoff)  or  expired (past expires_at)
      │                  ├──permanent──> failed
      │                  └──crash / unclear answer──> unknown   (never re-sent automatically)
      ├──cancel_if_handled──> cancelled
      └──expire_due──> expired

The transitions out of ``sending`` (the result of a send attempt) live in ``results.py``.
Functions that change data commit their own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from asterisk_textback.store._dialect import (
    bind,
    committing,
    dialect_of,
    insert,
    insert_returning,
    write_lock,
)
from asterisk_textback.store.models import Call, Experiment, Message, MessageStatus

__all__ = [
    "NewMessage",
    "cancel_if_handled",
    "claim_due",
    "enqueue",
    "expire_due",
    "idempotency_key",
    "insert_message",
    "not_yet_sent",
    "recover_after_crash",
    "release_claimed",
]

CRASH_ERROR = "interrupted mid-send (process stopped); not re-sent automatically"


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A rendered text to put in the outbox."""

    to_e164: str
    sender: str
    body: str
    segments: int
    encoding: str
    send_at: datetime
    expires_at: datetime | None = None
    kind: str = "textback"
    template: str | None = None
    variant: str | None = None
    #: A/B test name; with ``variant`` set, the message is linked to that experiment row.
    experiment: str | None = None
    provider: str | None = None
    #: ``SUPPRESSED`` keeps an audit copy of a text the policy decided not to send.
    status: MessageStatus = MessageStatus.QUEUED


def idempotency_key(pbx: str, linkedid: str, kind: str = "textback") -> str:
    """The outbox key of the ``kind`` text about one call: at most one such text, ever."""
    return f"{pbx}:{linkedid}:{kind}"


async def insert_message(
    session: AsyncSession, new: NewMessage, *, key: str, call_id: int | None, now: datetime
) -> Message | None:
    """Insert unless ``key`` exists: the new row, or None on conflict; does not commit."""
    if new.status not in (MessageStatus.QUEUED, MessageStatus.SUPPRESSED):
        raise ValueError(f"a new message is queued or suppressed, not {new.status.value}")
    values = {
        "idempotency_key": key,
        "call_id": call_id,
        "kind": new.kind,
        "to_e164": new.to_e164,
        "sender": new.sender,
        "body": new.body,
        "segments": new.segments,
        "encoding": new.encoding,
        "template": new.template,
        "variant": new.variant,
        "status": new.status,
        "send_at": new.send_at,
        "expires_at": new.expires_at,
        "attempts": 0,
        "next_attempt_at": new.send_at,
        "provider": new.provider,
        "created_at": now,
        "updated_at": now,
    }
    stmt = insert_returning(dialect_of(session), Message, tuple(values), ("idempotency_key",))
    message = (await session.scalars(stmt, bind(values))).one_or_none()
    if message is not None and new.experiment is not None and new.variant is not None:
        experiment_id = await _assign(session, new.experiment, new.variant, now)
        # A Core UPDATE, and the loaded row told it is current: no unit-of-work flush.
        await session.execute(
            update(Message).where(Message.id == message.id).values(experiment_id=experiment_id),
            execution_options={"synchronize_session": False},
        )
        set_committed_value(message, "experiment_id", experiment_id)
    return message


async def _assign(session: AsyncSession, name: str, variant: str, now: datetime) -> int:
    stmt = (
        insert(session, Experiment)
        .values(name=name, variant=variant, assigned=1, created_at=now)
        .on_conflict_do_update(
            index_elements=[Experiment.name, Experiment.variant],
            set_={"assigned": Experiment.assigned + 1},
        )
        .returning(Experiment.id)
    )
    return int((await session.execute(stmt)).scalar_one())


async def _by_key(session: AsyncSession, key: str) -> Message | None:
    return await session.scalar(select(Message).where(Message.idempotency_key == key))


async def enqueue(
    session: AsyncSession,
    new: NewMessage,
    *,
    key: str,
    now: datetime,
    call_id: int | None = None,
) -> tuple[Message, bool]:
    """Commit ``new`` under ``key`` unless that key exists: (the row, whether it is new)."""
    async with committing(session):
        message = await insert_message(session, new, key=key, call_id=call_id, now=now)
        created = message is not None
        if message is None:
            message = await _by_key(session, key)
            if message is None:  # pragma: no cover - the conflicting row cannot vanish
                raise RuntimeError(f"outbox key {key!r} conflicted but cannot be read")
    return message, created


def _due(now: datetime) -> Any:
    return and_(
        Message.status == MessageStatus.QUEUED,
        Message.next_attempt_at <= now,
        or_(Message.expires_at.is_(None), Message.expires_at > now),
    )


async def claim_due(
    session_factory: async_sessionmaker[AsyncSession],
    worker_id: str,
    now: datetime,
    limit: int,
) -> list[Message]:
    """Atomically move up to ``limit`` due ``queued`` messages to ``sending`` for this worker.

    Each due message is handed to exactly one caller, however many workers or processes
    claim at once. Rows past ``expires_at`` are never claimed.
    """
    claim_values: dict[str, Any] = {
        "status": MessageStatus.SENDING,
        "claimed_by": worker_id,
        "claimed_at": now,
        "sending_at": None,
        "attempts": Message.attempts + 1,
        "updated_at": now,
    }
    oldest_first = (Message.next_attempt_at, Message.id)
    async with session_factory() as session, write_lock(session), session.begin():
        if dialect_of(session) == "postgresql":
            # Lock the rows we pick and skip rows another worker has locked: concurrent
            # claimers each get a disjoint set without waiting on each other.
            ids: Sequence[int] = (
                await session.scalars(
                    select(Message.id)
                    .where(_due(now))
                    .order_by(*oldest_first)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not ids:
                return []
            where: Any = Message.id.in_(ids)
        else:
            # SQLite serializes writers (BEGIN IMMEDIATE): one statement is atomic enough.
            where = Message.id.in_(
                select(Message.id).where(_due(now)).order_by(*oldest_first).limit(limit)
            )
        claimed = await session.scalars(
            update(Message)
            .where(where, Message.status == MessageStatus.QUEUED)
            .values(claim_values)
            .returning(Message)
            .execution_options(populate_existing=True)
        )
        messages = list(claimed.all())
    messages.sort(key=lambda m: (m.next_attempt_at, m.id))
    return messages


async def _bulk_status(session: AsyncSession, where: Any, values: dict[str, Any]) -> int:
    """Apply ``values`` to every message matching ``where``; how many; commits."""
    async with committing(session):
        stmt = update(Message).where(where).values(values).returning(Message.id)
        ids = (await session.scalars(stmt)).all()
    return len(ids)


async def recover_after_crash(
    session: AsyncSession,
    now: datetime,
    *,
    claimed_before: datetime | None = None,
    claimed_by_prefix: str | None = None,
) -> int:
    """Resolve ``sending`` rows left by a stopped process; how many became ``unknown``.

    Rows whose request may have reached the provider (``sending_at`` set) become
    ``unknown`` and are never re-sent automatically; rows claimed but never handed to the
    provider go back to ``queued`` (they cannot have been sent). Run at startup before any
    worker. Several instances sharing one PostgreSQL database pass ``claimed_before`` (now
    minus the send timeout) so that live workers keep theirs. Commits.
    """
    where = Message.status == MessageStatus.SENDING
    if claimed_before is not None:
        where = and_(where, Message.claimed_at < claimed_before)
    if claimed_by_prefix is not None:
        # Only this instance's own workers ("<prefix>-<n>"): other instances sharing the
        # database are alive and keep theirs.
        pattern = claimed_by_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where = and_(where, Message.claimed_by.like(f"{pattern}-%", escape="\\"))
    never_left = {"status": MessageStatus.QUEUED, "claimed_by": None, "updated_at": now}
    await _bulk_status(session, and_(where, Message.sending_at.is_(None)), never_left)
    values = {"status": MessageStatus.UNKNOWN, "last_error": CRASH_ERROR, "updated_at": now}
    return await _bulk_status(session, where, values)


def not_yet_sent() -> Any:
    """Rows that have certainly not reached a provider: queued, or claimed before sending_at."""
    return or_(
        Message.status == MessageStatus.QUEUED,
        and_(Message.status == MessageStatus.SENDING, Message.sending_at.is_(None)),
    )


async def cancel_if_handled(
    session: AsyncSession,
    e164: str,
    handled_at: datetime,
    *,
    now: datetime,
    reason: str = "handled: caller reached or called back",
) -> int:
    """Cancel queued texts to ``e164`` about calls that ended by ``handled_at``; commits.

    ``handled_at`` is when the caller was answered on a newer call or an extension called
    the number back; texts about calls that ended after it are left alone.
    """
    calls_before = select(Call.id).where(Call.caller_e164 == e164, Call.ended_at <= handled_at)
    where = and_(
        Message.to_e164 == e164,
        not_yet_sent(),
        or_(
            Message.call_id.in_(calls_before),
            and_(Message.call_id.is_(None), Message.created_at <= handled_at),
        ),
    )
    values = {"status": MessageStatus.CANCELLED, "last_error": reason, "updated_at": now}
    return await _bulk_status(session, where, values)


async def expire_due(session: AsyncSession, now: datetime) -> int:
    """Expire queued texts whose ``expires_at`` has passed; how many; commits."""
    where = and_(
        Message.status == MessageStatus.QUEUED,
        Message.expires_at.is_not(None),
        Message.expires_at <= now,
    )
    values = {"status": MessageStatus.EXPIRED, "last_error": "expired", "updated_at": now}
    return await _bulk_status(session, where, values)


async def release_claimed(session: AsyncSession, ids: Sequence[int], *, now: datetime) -> int:
    """Put claimed rows that never reached the provider back in the queue; commits.

    Used on a graceful stop: a claim is not a send, so nothing is lost or doubled.
    """
    if not ids:
        return 0
    where = and_(
        Message.id.in_(ids),
        Message.status == MessageStatus.SENDING,
        Message.sending_at.is_(None),
    )
    values = {"status": MessageStatus.QUEUED, "claimed_by": None, "updated_at": now}
    return await _bulk_status(session, where, values)
