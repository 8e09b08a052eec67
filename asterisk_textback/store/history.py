"""Read a caller's history for the policy (``policy.history.ContactHistory``) in one go."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.calls.model import Direction, Outcome
from asterisk_textback.policy.history import ContactHistory, RateSnapshot
from asterisk_textback.store.contacts import get_contact, last_texted_at, texts_since
from asterisk_textback.store.models import Call, Message, MessageStatus

__all__ = ["RATE_WINDOW", "contact_history", "last_handled_at", "queued_since"]

#: The window of the global and per-prefix rate caps.
RATE_WINDOW = timedelta(seconds=60)


async def last_handled_at(session: AsyncSession, e164: str) -> datetime | None:
    """When ``e164`` last talked to somebody: an answered inbound call or any call to it."""
    return await session.scalar(
        select(func.max(Call.ended_at)).where(
            Call.caller_e164 == e164,
            or_(Call.outcome == Outcome.ANSWERED, Call.direction == Direction.OUTBOUND),
        )
    )


async def queued_since(session: AsyncSession, since: datetime, prefix: str | None = None) -> int:
    """Texts put in the outbox since ``since`` (to numbers starting with ``prefix``)."""
    query = (
        select(func.count())
        .select_from(Message)
        .where(Message.created_at >= since, Message.status != MessageStatus.SUPPRESSED)
    )
    if prefix is not None:
        query = query.where(Message.to_e164.startswith(prefix, autoescape=True))
    return int(await session.scalar(query) or 0)


def _epoch(at: datetime | None) -> float | None:
    return None if at is None else at.timestamp()


async def contact_history(
    session: AsyncSession, e164: str, *, rate_prefix: str | None, now: datetime
) -> ContactHistory:
    """Everything ``policy.decide`` needs to know about ``e164`` as of ``now``."""
    contact = await get_contact(session, e164)
    since = now - RATE_WINDOW
    return ContactHistory(
        opted_out=contact.opted_out if contact is not None else False,
        sms_capable=contact.sms_capable if contact is not None else None,
        last_texted_at=_epoch(await last_texted_at(session, e164)),
        texts_last_24h=await texts_since(session, e164, now - timedelta(hours=24)),
        last_handled_at=_epoch(await last_handled_at(session, e164)),
        rates=RateSnapshot(
            global_last_minute=await queued_since(session, since),
            prefix_last_minute=(
                await queued_since(session, since, rate_prefix) if rate_prefix else 0
            ),
        ),
    )
