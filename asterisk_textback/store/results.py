"""Results of send attempts: the transitions out of ``sending`` (see the diagram in outbox.py).

Each function commits; an illegal transition raises :class:`MessageStateError` and changes
nothing.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.errors import TextbackError
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store._dialect import dialect_of, table_of
from asterisk_textback.store.contacts import record_texted, record_texted_many
from asterisk_textback.store.models import Message

__all__ = [
    "MessageStateError",
    "SentReceipt",
    "mark_failed_permanent",
    "mark_failed_transient",
    "mark_sending",
    "mark_sending_many",
    "mark_sent",
    "mark_sent_many",
    "mark_unknown",
]


class MessageStateError(TextbackError):
    """A status change was asked of a message that is not in a state that allows it."""

    def __init__(self, message_id: int, current: MessageStatus | None, wanted: str) -> None:
        self.message_id = message_id
        self.current = current
        state = "does not exist" if current is None else f"is {current.value}"
        super().__init__(f"message {message_id} {state}; cannot mark it {wanted}")


async def _transition(
    session: AsyncSession,
    message_id: int,
    allowed: tuple[MessageStatus, ...],
    wanted: str,
    values: dict[str, Any],
) -> Message:
    """Apply ``values`` if the message is in an ``allowed`` status.

    On refusal it raises inside the caller's ``unit_of_work``, which rolls back.
    """
    message = (
        await session.scalars(
            update(Message)
            .where(Message.id == message_id, Message.status.in_(allowed))
            .values(values)
            .returning(Message)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if message is None:
        current = await session.scalar(select(Message.status).where(Message.id == message_id))
        raise MessageStateError(message_id, current, wanted)
    return message


async def mark_sending(session: AsyncSession, message_id: int, *, now: datetime) -> None:
    """Record that the request is about to leave for the provider.

    From here on a crash leaves the message ``unknown`` instead of queued again.
    """
    await _transition(session, message_id, (MessageStatus.SENDING,), "sending", {"sending_at": now})


async def mark_sending_many(
    session: AsyncSession, message_ids: Sequence[int], *, claimed_by: str, now: datetime
) -> list[int]:
    """:func:`mark_sending` for a group that leaves together, in one transaction.

    Returns the ids marked. The others are no longer this worker's to send: cancelled while
    they waited for their rate slot (STOP, the caller was reached), or taken back.
    """
    if not message_ids:
        return []
    marked = await session.scalars(
        update(Message)
        .where(
            Message.id.in_(message_ids),
            Message.status == MessageStatus.SENDING,
            Message.claimed_by == claimed_by,
        )
        .values(sending_at=now)
        .returning(Message.id)
    )
    ids = list(marked.all())
    return ids


async def mark_sent(
    session: AsyncSession,
    message_id: int,
    *,
    now: datetime,
    provider: str,
    provider_message_id: str | None,
) -> Message:
    """Record that the provider accepted the text, and count it on the contact."""
    values = {
        "status": MessageStatus.SENT,
        "sent_at": now,
        "updated_at": now,
        "provider": provider,
        "provider_message_id": provider_message_id,
        "last_error": None,
    }
    message = await _transition(session, message_id, (MessageStatus.SENDING,), "sent", values)
    await record_texted(session, message.to_e164, now=now)
    return message


@dataclass(frozen=True, slots=True)
class SentReceipt:
    """A provider's acceptance of one claimed message."""

    message_id: int
    provider: str
    provider_message_id: str | None


async def mark_sent_many(
    session: AsyncSession, receipts: Sequence[SentReceipt], *, now: datetime
) -> list[int]:
    """Record many accepted texts in one transaction.

    Returns the ids that were not ``sending`` and were left unchanged, so that one odd row
    cannot keep the others from being recorded.
    """
    by_id = {receipt.message_id: receipt for receipt in receipts}
    if not by_id:
        return []
    connection = await session.connection()
    found = await connection.execute(
        _sending_statement(dialect_of(session)), {"s_ids": list(by_id)}
    )
    sending = {message_id: to for message_id, to in found}
    if sending:
        params = [
            {
                "b_id": message_id,
                "b_now": now,
                "b_provider": by_id[message_id].provider,
                "b_provider_message_id": by_id[message_id].provider_message_id,
            }
            for message_id in sending
        ]
        await connection.execute(_MARK_SENT, params)  # a Core executemany
        await record_texted_many(session, Counter(sending.values()), now=now)
    return [message_id for message_id in by_id if message_id not in sending]


@functools.cache
def _sending_statement(dialect: str) -> Any:
    """The texts among ``s_ids`` still ``sending`` (locked until commit on PostgreSQL)."""
    c = table_of(Message).c
    query = select(c.id, c.to_e164).where(
        c.id.in_(bindparam("s_ids", expanding=True)), c.status == MessageStatus.SENDING
    )
    return query.with_for_update() if dialect == "postgresql" else query


_MARK_SENT = (
    update(table_of(Message))
    .where(table_of(Message).c.id == bindparam("b_id"))
    .values(
        status=MessageStatus.SENT,
        sent_at=bindparam("b_now", type_=table_of(Message).c.sent_at.type),
        updated_at=bindparam("b_now", type_=table_of(Message).c.updated_at.type),
        provider=bindparam("b_provider"),
        provider_message_id=bindparam("b_provider_message_id"),
        last_error=None,
    )
)


async def mark_failed_transient(
    session: AsyncSession, message_id: int, *, now: datetime, error: str, backoff: timedelta
) -> Message:
    """Re-queue after ``backoff``, or expire if that is past ``expires_at``."""
    retry_at = now + backoff
    too_late = and_(Message.expires_at.is_not(None), Message.expires_at <= retry_at)
    values = {
        "status": case((too_late, MessageStatus.EXPIRED.value), else_=MessageStatus.QUEUED.value),
        "next_attempt_at": retry_at,
        "claimed_by": None,
        "last_error": error,
        "updated_at": now,
    }
    message = await _transition(session, message_id, (MessageStatus.SENDING,), "queued", values)
    return message


async def mark_failed_permanent(
    session: AsyncSession, message_id: int, *, now: datetime, error: str
) -> Message:
    """Record a failure that no retry can fix (invalid number, opted out …)."""
    values = {"status": MessageStatus.FAILED, "last_error": error, "updated_at": now}
    message = await _transition(session, message_id, (MessageStatus.SENDING,), "failed", values)
    return message


async def mark_unknown(
    session: AsyncSession, message_id: int, *, now: datetime, error: str
) -> Message:
    """Record that we cannot tell whether the text went out (e.g. a timeout)."""
    values = {"status": MessageStatus.UNKNOWN, "last_error": error, "updated_at": now}
    message = await _transition(session, message_id, (MessageStatus.SENDING,), "unknown", values)
    return message
