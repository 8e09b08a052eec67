"""Read a caller's history for the policy (``policy.history.ContactHistory``) in one go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.calls.model import Direction, Outcome
from asterisk_textback.policy.history import ContactHistory, RateSnapshot
from asterisk_textback.store.contacts import COUNTED_STATUSES, texted_at
from asterisk_textback.store.models import Call, Contact, Message, MessageStatus

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
    """Everything ``policy.decide`` needs to know about ``e164`` as of ``now``.

    One statement of scalar subqueries (one round trip: the recorder runs this per call).
    """
    since = now - RATE_WINDOW
    texted = (Message.to_e164 == e164, Message.status.in_(COUNTED_STATUSES))
    queued = (Message.created_at >= since, Message.status != MessageStatus.SUPPRESSED)
    prefix_count = (
        select(func.count())
        .select_from(Message)
        .where(*queued, Message.to_e164.startswith(rate_prefix or "", autoescape=True))
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(
                select(Contact.opted_out).where(Contact.e164 == e164).scalar_subquery(),
                select(Contact.sms_capable).where(Contact.e164 == e164).scalar_subquery(),
                select(func.max(texted_at())).where(*texted).scalar_subquery(),
                select(func.count())
                .select_from(Message)
                .where(*texted, texted_at() >= now - timedelta(hours=24))
                .scalar_subquery(),
                select(func.max(Call.ended_at))
                .where(
                    Call.caller_e164 == e164,
                    or_(Call.outcome == Outcome.ANSWERED, Call.direction == Direction.OUTBOUND),
                )
                .scalar_subquery(),
                select(func.count()).select_from(Message).where(*queued).scalar_subquery(),
                prefix_count if rate_prefix else literal(0),
            )
        )
    ).one()
    opted_out, sms_capable, last_texted, texts_24h, handled, global_n, prefix_n = row
    return ContactHistory(
        opted_out=bool(opted_out),
        sms_capable=sms_capable,
        last_texted_at=_epoch(_as_utc(last_texted)),
        texts_last_24h=int(texts_24h or 0),
        last_handled_at=_epoch(_as_utc(handled)),
        rates=RateSnapshot(
            global_last_minute=int(global_n or 0), prefix_last_minute=int(prefix_n or 0)
        ),
    )


def _as_utc(value: datetime | str | None) -> datetime | None:
    """Scalar subqueries lose the column type: SQLite hands back the stored text."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
