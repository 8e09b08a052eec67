"""When the outbox's next queued text falls due: what an idle dispatcher sleeps until."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.utc import aware
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store.models import Message
from asterisk_textback.store.uow import reading

__all__ = ["next_due"]


async def next_due(sessions: async_sessionmaker[AsyncSession], now: datetime) -> float | None:
    """The earliest ``next_attempt_at`` (epoch) of a queued text not past its max age; None:
    nothing is queued.

    Read-only, on ``ix_messages_status_next_attempt_at``: one index probe.
    """
    statement = select(func.min(Message.next_attempt_at)).where(
        Message.status == MessageStatus.QUEUED,
        or_(Message.expires_at.is_(None), Message.expires_at > now),
    )
    async with reading(sessions) as session:
        found = (await session.execute(statement)).scalar_one_or_none()
    return None if found is None else aware(found).timestamp()
