"""Caps that cannot be raced: a text-back's send slot is counted and taken in its insert.

The policy reads a caller's history before deciding, but calls decided together (one
recorder group, other lanes, other service instances on one PostgreSQL) cannot see each
other's texts there. So the caps are checked again inside the transaction that inserts the
text, under a lock that every such transaction takes before it writes anything:

- PostgreSQL: ``pg_advisory_xact_lock`` on one key, held until commit or rollback;
- SQLite: the write transaction itself (``BEGIN IMMEDIATE``: one writer at a time).

Rate caps are sliding windows over *send times*: at most N text-backs due in any 60 s, in
total and per number prefix. A text that finds its window full takes the next free slot
(its ``send_at`` moves later) as long as that is before its ``expires_at``; past it, or with
``over_cap = "drop"``, it is refused with the cap's reason. The per-number cooldown and
daily cap are checked again too. Only text-backs count (``TEXTBACK_KINDS``: a missed call's
text, or one the dialplan asked for over AGI); auto-replies have their own budget
(``store.autoreply``).
"""

from __future__ import annotations

import functools
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import String, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.calls.utc import aware
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.policy.decision import SuppressReason
from asterisk_textback.policy.settings import SuppressionSettings
from asterisk_textback.store._dialect import dialect_of
from asterisk_textback.store.contacts import COUNTED_STATUSES, texted_at
from asterisk_textback.store.models import Message
from asterisk_textback.store.outbox import NewMessage, insert_message

__all__ = ["TEXTBACK_KINDS", "Caps", "Slot", "earliest_slot", "enqueue", "lock", "reserve"]

#: The outbox kinds the text-back caps apply to (``agi``: asked for by the dialplan).
TEXTBACK_KINDS = ("textback", "agi")
#: Width of the rate caps' sliding window.
WINDOW = timedelta(seconds=60)
#: Advisory lock keys (PostgreSQL): text-back caps, and the auto-reply budget.
CAPS_LOCK = 0x74786263_61707301
AUTOREPLY_LOCK = 0x74786263_61707302
#: A text that took a slot will be sent: everything but what never left or never will.
_SLOT_STATUSES = (*COUNTED_STATUSES, MessageStatus.FAILED)

OverCap = Literal["wait", "drop"]


async def lock(session: AsyncSession, key: int = CAPS_LOCK) -> None:
    """Serialize cap decisions until this transaction ends (take it before other writes)."""
    connection = await session.connection()
    if dialect_of(session) == "postgresql":
        await connection.execute(_ADVISORY, {"k": key})
    # SQLite: session.connection() began the transaction IMMEDIATE, which holds the
    # database's only write lock until commit; nothing more to take.


_ADVISORY = text("SELECT pg_advisory_xact_lock(:k)")


@dataclass(frozen=True, slots=True)
class Caps:
    """The text-back caps, as ``[suppression]`` sets them (0: that rate cap is off)."""

    global_per_minute: int = 60
    prefix_per_minute: int = 10
    daily_cap: int = 3
    cooldown: timedelta = timedelta(hours=24)
    over_cap: OverCap = "wait"

    @classmethod
    def of(cls, suppression: SuppressionSettings) -> Caps:
        """The caps of a ``[suppression]`` section."""
        return cls(
            global_per_minute=suppression.global_rate_per_minute,
            prefix_per_minute=suppression.per_prefix_rate_per_minute,
            daily_cap=suppression.daily_cap,
            cooldown=timedelta(hours=suppression.cooldown_hours),
            over_cap=suppression.over_cap,
        )


@dataclass(frozen=True, slots=True)
class Slot:
    """The send time a text got, or why it got none."""

    send_at: datetime | None
    reason: SuppressReason | None = None
    detail: str = ""

    @property
    def granted(self) -> bool:
        """True when the text may be inserted (at ``send_at``)."""
        return self.send_at is not None


def earliest_slot(start: float, taken: Sequence[float], cap: int, window: float) -> float:
    """The earliest ``t >= start`` with fewer than ``cap`` of ``taken`` in ``(t-window, t+window)``.

    Any ``window``-long interval holding ``t`` lies inside ``(t-window, t+window)``, so a
    slot chosen here never makes any window hold more than ``cap``, whatever lies in the
    future. Between two candidates (``start`` and each ``taken + window``) the count can
    only grow, so the first candidate that fits is the earliest time that fits.
    """
    ordered = sorted(taken)
    candidates = [start, *(s + window for s in ordered if s + window > start)]
    for t in candidates:
        if bisect_left(ordered, t + window) - bisect_right(ordered, t - window) < cap:
            return t
    raise AssertionError("unreachable: after the last slot's window everything is free")


async def reserve(
    session: AsyncSession,
    *,
    to: str,
    prefix: str | None,
    send_at: datetime,
    expires_at: datetime | None,
    caps: Caps,
    now: datetime,
) -> Slot:
    """Check every text-back cap for a text to ``to`` due at ``send_at``; call in the
    inserting transaction (it takes :func:`lock`): the text must be inserted before commit.
    """
    await lock(session)
    connection = await session.connection()
    params = {"r_to": to, "r_day_ago": now - timedelta(hours=24)}
    last, today = (await connection.execute(_number_statement(), params)).one()
    if last is not None and caps.cooldown and now - aware(last) < caps.cooldown:
        return Slot(None, SuppressReason.COOLDOWN, f"a text to this number is due {last}")
    if int(today or 0) >= caps.daily_cap:
        return Slot(None, SuppressReason.DAILY_CAP, f"{today} texts in 24 h")
    limit = expires_at if expires_at is not None else send_at + timedelta(days=1)
    span = {"r_lo": send_at - WINDOW, "r_hi": limit + WINDOW}
    scopes: list[tuple[SuppressReason, int, list[float]]] = []
    if caps.global_per_minute:
        rows = await connection.execute(_slots_statement(False), span)
        scopes.append((SuppressReason.RATE_LIMITED_GLOBAL, caps.global_per_minute, _times(rows)))
    if caps.prefix_per_minute and prefix:
        rows = await connection.execute(_slots_statement(True), {**span, "r_like": _like(prefix)})
        scopes.append((SuppressReason.RATE_LIMITED_PREFIX, caps.prefix_per_minute, _times(rows)))
    start = send_at.timestamp()
    t = _fit_all(start, scopes)
    if t == start:
        return Slot(send_at)
    reason, cap, _ = next(s for s in scopes if earliest_slot(start, s[2], s[1], _W) > start)
    what = "texts due" if reason is SuppressReason.RATE_LIMITED_GLOBAL else f"texts to {prefix}"
    if caps.over_cap == "drop":
        return Slot(None, reason, f"{cap} {what} in a minute already (over_cap = drop)")
    held = send_at + timedelta(seconds=t - start)
    if held >= limit:  # due as it expires: never claimed
        return Slot(None, reason, f"{cap} {what} a minute: no free slot before it expires")
    return Slot(held, reason, f"held {t - start:.0f} s for a free slot ({cap} {what} a minute)")


_W = WINDOW.total_seconds()


async def enqueue(
    session: AsyncSession,
    new: NewMessage,
    caps: Caps,
    *,
    key: str,
    prefix: str | None,
    now: datetime,
) -> tuple[Message | None, bool, Slot]:
    """Commit ``new`` under ``key`` in the slot :func:`reserve` gives it, unless that key
    exists: (the row, whether it is new, the slot); the row is None when refused."""
    await lock(session)
    found = await session.scalar(select(Message).where(Message.idempotency_key == key))
    if found is not None:
        return found, False, Slot(found.send_at)
    slot = await reserve(
        session,
        to=new.to_e164,
        prefix=prefix,
        send_at=new.send_at,
        expires_at=new.expires_at,
        caps=caps,
        now=now,
    )
    if slot.send_at is None:
        return None, False, slot
    held = replace(new, send_at=slot.send_at)
    message = await insert_message(session, held, key=key, call_id=None, now=now)
    return message, message is not None, slot


def _fit_all(start: float, scopes: list[tuple[SuppressReason, int, list[float]]]) -> float:
    """The earliest time at or after ``start`` that fits every scope."""
    t = start
    while True:
        moved = t
        for _, cap, taken in scopes:
            moved = earliest_slot(moved, taken, cap, _W)
        if moved == t:
            return t
        t = moved


def _times(rows: Any) -> list[float]:
    return [aware(at).timestamp() for (at,) in rows]


def _like(prefix: str) -> str:
    return prefix.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


@functools.cache
def _number_statement() -> Any:
    """The number's last text-back (sent, or due) and how many it got in 24 h."""
    when = Message.send_at.type
    where = (
        Message.to_e164 == bindparam("r_to", type_=String()),
        Message.kind.in_(TEXTBACK_KINDS),
        Message.status.in_(COUNTED_STATUSES),
    )
    day = func.count().filter(texted_at() >= bindparam("r_day_ago", type_=when))
    return select(func.max(texted_at()), day).where(*where)


@functools.cache
def _slots_statement(by_prefix: bool) -> Any:
    """Send times of text-backs holding a slot in ``(r_lo, r_hi)`` (to one prefix)."""
    when = Message.send_at.type
    stmt = select(Message.send_at).where(
        Message.kind.in_(TEXTBACK_KINDS),
        Message.send_at > bindparam("r_lo", type_=when),
        Message.send_at < bindparam("r_hi", type_=when),
        Message.status.in_(_SLOT_STATUSES),
    )
    if by_prefix:
        stmt = stmt.where(Message.to_e164.like(bindparam("r_like", type_=String()), escape="/"))
    return stmt
