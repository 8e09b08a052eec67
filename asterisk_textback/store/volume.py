"""How many texts went out lately: the expected volume of a 10DLC registration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.calls.model import Direction, Outcome
from asterisk_textback.calls.utc import aware
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store.models import Call, Message

__all__ = ["TextCounts", "text_counts"]

#: Texts that never left and never will: not part of the volume.
_NOT_SENT = (MessageStatus.CANCELLED, MessageStatus.EXPIRED, MessageStatus.SUPPRESSED)
_MISSED = (Outcome.MISSED_VOICEMAIL, Outcome.MISSED_NO_VOICEMAIL)


@dataclass(frozen=True, slots=True)
class TextCounts:
    """Texts queued since a time, by kind, and when the history begins."""

    texts: int
    textbacks: int
    missed_calls: int
    #: The first call or text ever recorded; None for an empty database.
    first_at: datetime | None


async def text_counts(session: AsyncSession, since: datetime) -> TextCounts:
    """Texts queued (sent or on their way) and missed inbound calls since ``since``."""
    counted = Message.status.not_in(_NOT_SENT)
    by_kind = await session.execute(
        select(Message.kind, func.count())
        .where(Message.created_at >= since, counted)
        .group_by(Message.kind)
    )
    kinds = {kind: int(n) for kind, n in by_kind}
    missed = await session.scalar(
        select(func.count())
        .select_from(Call)
        .where(
            Call.ended_at >= since,
            Call.direction == Direction.INBOUND,
            Call.outcome.in_(_MISSED),
        )
    )
    first_call = await session.scalar(select(func.min(Call.ended_at)))
    first_text = await session.scalar(select(func.min(Message.created_at)))
    firsts = [aware(t) for t in (first_call, first_text) if t is not None]
    return TextCounts(
        texts=sum(kinds.values()),
        textbacks=kinds.get("textback", 0),
        missed_calls=int(missed or 0),
        first_at=min(firsts) if firsts else None,
    )
