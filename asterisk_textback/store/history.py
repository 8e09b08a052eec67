"""Read a caller's history for the policy (``policy.history.ContactHistory``) in one go."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, String, bindparam, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.calls.model import Direction, Outcome
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.policy.history import ContactHistory, RateSnapshot
from asterisk_textback.policy.numbers import CallerNumber
from asterisk_textback.policy.settings import SuppressionSettings
from asterisk_textback.store.caps import TEXTBACK_KINDS
from asterisk_textback.store.contacts import COUNTED_STATUSES, texted_at
from asterisk_textback.store.models import Call, Contact, Message

__all__ = [
    "RATE_WINDOW",
    "RateCap",
    "contact_history",
    "history_for_policy",
    "last_handled_at",
    "queued_since",
]

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


#: How a rate cap is counted: ``None`` exactly, ``0`` not at all (the cap is off), ``n`` up to n.
RateCap = int | None


async def contact_history(
    session: AsyncSession,
    e164: str,
    *,
    rate_prefix: str | None,
    now: datetime,
    global_cap: RateCap = None,
    prefix_cap: RateCap = None,
) -> ContactHistory:
    """Everything ``policy.decide`` needs to know about ``e164`` as of ``now``.

    One statement of scalar subqueries (one round trip: the recorder runs this per call),
    built once. The rate caps only need to know whether a cap is reached, so with a cap
    given the texts of the last minute are counted up to it, not all of them (at 100 calls
    a second that is thousands of rows per call); a cap of 0 (off) is not counted.
    """
    prefix_mode = _mode(prefix_cap if rate_prefix else 0)
    stmt = _history_statement(_mode(global_cap), prefix_mode)
    params: dict[str, object] = {
        "h_e164": e164,
        "h_day_ago": now - timedelta(hours=24),
        "h_since": now - RATE_WINDOW,
        "h_global_cap": global_cap or 0,
        "h_prefix_cap": prefix_cap or 0,
        "h_prefix": _like_prefix(rate_prefix or ""),
    }
    connection = await session.connection()
    row = (await connection.execute(stmt, params)).one()
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


async def history_for_policy(
    session: AsyncSession,
    number: CallerNumber,
    suppression: SuppressionSettings,
    *,
    now: datetime,
    count_rates: bool = True,
) -> ContactHistory:
    """:func:`contact_history` of a valid number, read as ``suppression`` needs it: its rate
    prefix, and the caps counted only up to their limits (0: off, not counted).

    ``count_rates=False`` leaves the rate caps out (read as 0): for writers that enforce
    them when they insert the text (``store.caps.reserve``), where a full window means
    "wait for a slot", not "suppress".
    """
    if number.e164 is None:
        raise ValueError(f"{number.raw!r} is not a valid number: it has no history")
    return await contact_history(
        session,
        number.e164,
        rate_prefix=number.rate_prefix(suppression.rate_prefix_digits),
        now=now,
        global_cap=suppression.global_rate_per_minute if count_rates else 0,
        prefix_cap=suppression.per_prefix_rate_per_minute if count_rates else 0,
    )


def _mode(cap: RateCap) -> str:
    return "exact" if cap is None else ("off" if cap == 0 else "capped")


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern for numbers starting with ``prefix`` (wildcards escaped with ``/``)."""
    return prefix.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


@functools.cache
def _history_statement(global_mode: str, prefix_mode: str) -> Select[Any]:
    when = Message.created_at.type
    e164 = bindparam("h_e164", type_=String())
    since = bindparam("h_since", type_=when)
    # Only text-backs: auto-replies (HELP, confirmations, forwards) have their own budget
    # and must never use up a caller's cooldown or the SMS-pumping caps.
    textback = Message.kind.in_(TEXTBACK_KINDS)
    texted = (Message.to_e164 == e164, Message.status.in_(COUNTED_STATUSES), textback)
    queued = (Message.created_at >= since, Message.status != MessageStatus.SUPPRESSED, textback)
    to_prefix = Message.to_e164.like(bindparam("h_prefix", type_=String()), escape="/")
    return select(
        select(Contact.opted_out).where(Contact.e164 == e164).scalar_subquery(),
        select(Contact.sms_capable).where(Contact.e164 == e164).scalar_subquery(),
        select(func.max(texted_at())).where(*texted).scalar_subquery(),
        select(func.count())
        .select_from(Message)
        .where(*texted, texted_at() >= bindparam("h_day_ago", type_=when))
        .scalar_subquery(),
        select(func.max(Call.ended_at))
        .where(
            Call.caller_e164 == e164,
            or_(Call.outcome == Outcome.ANSWERED, Call.direction == Direction.OUTBOUND),
        )
        .scalar_subquery(),
        _count(global_mode, "h_global_cap", *queued),
        _count(prefix_mode, "h_prefix_cap", *queued, to_prefix),
    )


def _count(mode: str, cap: str, *where: Any) -> Any:
    """``count(*)`` of the messages matching ``where``: all, up to the cap, or none."""
    if mode == "off":
        return literal(0)
    if mode == "exact":
        return select(func.count()).select_from(Message).where(*where).scalar_subquery()
    matching = select(literal(1).label("one")).where(*where).limit(bindparam(cap)).subquery()
    return select(func.count()).select_from(matching).scalar_subquery()


def _as_utc(value: datetime | str | None) -> datetime | None:
    """Scalar subqueries lose the column type: SQLite hands back the stored text."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
