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

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from asterisk_textback.calls.utc import utc
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store._dialect import (
    detached,
    dialect_of,
    insert_for,
    insert_row,
    table_of,
)
from asterisk_textback.store.models import Call, Experiment, Message
from asterisk_textback.store.uow import unit_of_work

__all__ = [
    "NewMessage",
    "cancel_if_handled",
    "claim_due",
    "enqueue",
    "expire_due",
    "id_for_key",
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
    #: Who wrote it (a staff reply: the dashboard user or "api"); None for automatic texts.
    sent_by: str | None = None


def idempotency_key(pbx: str, linkedid: str, kind: str = "textback") -> str:
    """The outbox key of the ``kind`` text about one call: at most one such text, ever."""
    return f"{pbx}:{linkedid}:{kind}"


async def insert_message(
    session: AsyncSession, new: NewMessage, *, key: str, call_id: int | None, now: datetime
) -> Message | None:
    """Insert unless ``key`` exists: the new row, or None on conflict."""
    if new.status not in (MessageStatus.QUEUED, MessageStatus.SUPPRESSED):
        raise ValueError(f"a new message is queued or suppressed, not {new.status.value}")
    experiment_id = None
    if new.experiment is not None and new.variant is not None:
        experiment_id = await _experiment_id(session, new.experiment, new.variant, now)
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
        "experiment_id": experiment_id,
        "status": new.status,
        "send_at": new.send_at,
        "expires_at": new.expires_at,
        "attempts": 0,
        "next_attempt_at": new.send_at,
        "provider": new.provider,
        "sent_by": new.sent_by,
        "created_at": now,
        "updated_at": now,
    }
    return await insert_row(session, Message, values, ("idempotency_key",))


async def _experiment_id(session: AsyncSession, name: str, variant: str, now: datetime) -> int:
    """The id of a variant's experiment row, created on its first text.

    Read first, and created with ON CONFLICT DO NOTHING: no row lock on an existing row.
    (A counter bumped per text made every A/B text lock its variant's row until commit, and
    two recorder transactions bumping two variants in opposite orders deadlocked on
    PostgreSQL; a variant's texts are counted from ``messages.experiment_id`` instead.)
    """
    connection = await session.connection()
    params = {"x_name": name, "x_variant": variant, "x_now": now}
    found = (await connection.execute(_FIND_EXPERIMENT, params)).scalar_one_or_none()
    if found is None:
        await connection.execute(_create_experiment(dialect_of(session)), params)
        found = (await connection.execute(_FIND_EXPERIMENT, params)).scalar_one()
    return int(found)


_FIND_EXPERIMENT = select(table_of(Experiment).c.id).where(
    table_of(Experiment).c.name == bindparam("x_name"),
    table_of(Experiment).c.variant == bindparam("x_variant"),
)


@functools.cache
def _create_experiment(dialect: str) -> Any:
    """A variant's experiment row, unless it exists (built once per dialect)."""
    table = table_of(Experiment)
    return (
        insert_for(dialect, table)
        .values(
            name=bindparam("x_name"),
            variant=bindparam("x_variant"),
            created_at=bindparam("x_now", type_=table.c.created_at.type),
        )
        .on_conflict_do_nothing(index_elements=[table.c.name, table.c.variant])
    )


async def id_for_key(session: AsyncSession, key: str) -> int | None:
    """The id of the text stored under idempotency ``key``, or None (a retry's check)."""
    return await session.scalar(select(Message.id).where(Message.idempotency_key == key))


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
    message = await insert_message(session, new, key=key, call_id=call_id, now=now)
    created = message is not None
    if message is None:
        message = await _by_key(session, key)
        if message is None:  # pragma: no cover - the conflicting row cannot vanish
            raise RuntimeError(f"outbox key {key!r} conflicted but cannot be read")
    return message, created


def _due(now: Any) -> Any:
    """Queued, due by ``now`` (a time or a bind parameter) and not past its max age."""
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
    *,
    leaves_now: Callable[[Message], bool] | None = None,
) -> list[Message]:
    """Atomically move up to ``limit`` due ``queued`` messages to ``sending`` for this worker.

    Each due message is handed to exactly one caller, however many workers or processes
    claim at once. Rows past ``expires_at`` are never claimed.

    ``leaves_now`` is asked about each claimed message, oldest first; those it accepts get
    ``sending_at`` in the same transaction (see ``results.mark_sending_many``), so a text
    that can go at once costs one commit before its request instead of two.
    """
    params = {"c_worker": worker_id, "c_now": now, "c_limit": limit}
    async with unit_of_work(session_factory) as session:
        connection = await session.connection()
        rows = (await connection.execute(_claim_statement(dialect_of(session)), params)).mappings()
        messages = sorted((detached(Message, dict(row)) for row in rows), key=_oldest_first)
        leaving = {m.id for m in messages if leaves_now is not None and leaves_now(m)}
        if leaving:
            await connection.execute(_LEAVING, {"c_ids": sorted(leaving), "c_now": now})
            for message in messages:
                if message.id in leaving:
                    set_committed_value(message, "sending_at", now)
    return messages


def _oldest_first(message: Message) -> tuple[datetime, int]:
    return message.next_attempt_at, message.id


@functools.cache
def _claim_statement(dialect: str) -> Any:
    """Claim the oldest due rows for a worker: one UPDATE … RETURNING, built once.

    On PostgreSQL the inner SELECT locks the rows it picks and skips rows another worker has
    locked, so concurrent claimers each get a disjoint set without waiting on each other; on
    SQLite writers are serialized (BEGIN IMMEDIATE) and one statement is atomic enough.
    """
    table = table_of(Message)
    c = table.c
    now = bindparam("c_now", type_=c.updated_at.type)
    pick = (
        select(c.id).where(_due(now)).order_by(c.next_attempt_at, c.id).limit(bindparam("c_limit"))
    )
    if dialect == "postgresql":
        # A CTE is evaluated once; an IN (subquery … LIMIT) may be re-run by the planner's
        # join and hand out more rows than the limit.
        picked = pick.with_for_update(skip_locked=True).cte("picked")
        chosen: Any = c.id == picked.c.id
    else:
        chosen = c.id.in_(pick.scalar_subquery())
    return (
        update(table)
        .where(chosen, c.status == MessageStatus.QUEUED)
        .values(
            status=MessageStatus.SENDING,
            claimed_by=bindparam("c_worker"),
            claimed_at=now,
            sending_at=None,
            attempts=c.attempts + 1,
            updated_at=now,
        )
        .returning(*table.c)
    )


#: ``sending_at`` for the claimed texts that leave at once.
_LEAVING = (
    update(table_of(Message))
    .where(table_of(Message).c.id.in_(bindparam("c_ids", expanding=True)))
    .values(sending_at=bindparam("c_now", type_=table_of(Message).c.sending_at.type))
)


async def _bulk_status(session: AsyncSession, where: Any, values: dict[str, Any]) -> int:
    """Apply ``values`` to every message matching ``where``; how many."""
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
    """Cancel queued texts to ``e164`` about calls that ended by ``handled_at``.

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
    """Expire queued texts whose ``expires_at`` has passed; how many."""
    where = and_(
        Message.status == MessageStatus.QUEUED,
        Message.expires_at.is_not(None),
        Message.expires_at <= now,
    )
    values = {"status": MessageStatus.EXPIRED, "last_error": "expired", "updated_at": now}
    return await _bulk_status(session, where, values)


async def release_claimed(session: AsyncSession, ids: Sequence[int], *, now: datetime) -> int:
    """Put claimed rows that never reached the provider back in the queue.

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


async def defer_claimed(session: AsyncSession, until: Mapping[int, float], *, now: datetime) -> int:
    """Put claimed text-backs whose quiet-hours window closed back in the queue until it opens.

    ``until`` maps a message id to the epoch its window opens. Only rows still claimed and
    not yet handed to the provider move (as :func:`release_claimed`); no attempt is counted.
    """
    moved = 0
    for message_id, opens in until.items():
        where = and_(
            Message.id == message_id,
            Message.status == MessageStatus.SENDING,
            Message.sending_at.is_(None),
        )
        values = {
            "status": MessageStatus.QUEUED,
            "claimed_by": None,
            "next_attempt_at": utc(opens),
            "updated_at": now,
        }
        moved += await _bulk_status(session, where, values)
    return moved
