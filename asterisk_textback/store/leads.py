"""What the CRM hooks read about a lead: the text a call got, and sent texts with their calls."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.store.models import Call, Message

__all__ = ["text_of_call", "texts_with_calls"]


async def text_of_call(
    session: AsyncSession, call_id: int, kinds: Collection[str]
) -> Message | None:
    """One text of ``kinds`` written for the call, or None (a call gets at most one)."""
    return await session.scalar(
        select(Message).where(Message.call_id == call_id, Message.kind.in_(kinds)).limit(1)
    )


async def texts_with_calls(
    session: AsyncSession, message_ids: Sequence[int], kinds: Collection[str]
) -> list[tuple[Message, Call | None]]:
    """The texts of ``kinds`` among ``message_ids``, each with its call when it has one."""
    rows = await session.execute(
        select(Message, Call)
        .outerjoin(Call, Call.id == Message.call_id)
        .where(Message.id.in_(list(message_ids)), Message.kind.in_(kinds))
    )
    return [(message, call) for message, call in rows]
