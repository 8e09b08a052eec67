"""Texts put straight into the outbox, as the recorder would, for the dispatcher's tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.store import outbox
from asterisk_textback.store.uow import unit_of_work


async def queue_texts(
    sessions: async_sessionmaker[AsyncSession],
    n: int,
    *,
    senders: Sequence[str] = ("+15555550100",),
    now: datetime | None = None,
) -> list[int]:
    """Queue ``n`` texts due at ``now`` (default: the real now), keys ``test:<i>``, to
    +1212555<1000+i>, from ``senders`` in turn; their ids."""
    now = now or datetime.now(UTC)
    ids = []
    async with unit_of_work(sessions) as session:
        for i in range(n):
            new = outbox.NewMessage(
                to_e164=f"+1212555{1000 + i}",
                sender=senders[i % len(senders)],
                body=f"Sorry we missed your call ({i})",
                segments=1,
                encoding="GSM-7",
                send_at=now,
                expires_at=now + timedelta(hours=1),
            )
            message, _ = await outbox.enqueue(session, new, key=f"test:{i}", now=now)
            ids.append(message.id)
    return ids
