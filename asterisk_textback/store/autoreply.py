"""The auto-reply budget: HELP answers, STOP/START confirmations and SMS forwards to staff.

Anyone can text the business, so every text sent in answer is the attacker's to trigger.
Before one is queued, :func:`refusal` checks (in the inserting transaction, under its own
lock, so simultaneous inbound texts see each other):

- HELP/INFO is answered at most once per number in 24 h;
- confirmations and HELP answers: at most ``daily_per_number`` per number in 24 h;
- at most ``per_minute`` queued in any 60 s (0: no cap): confirmations and HELP answers
  together (``[consent]``), forwards to staff on their own (``[forwarding]``).

They never count against the text-back caps (``store.caps``), nor text-backs against them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.errors import TextbackError
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store.caps import AUTOREPLY_LOCK, WINDOW, lock
from asterisk_textback.store.models import Message
from asterisk_textback.store.outbox import NewMessage, insert_message
from asterisk_textback.store.uow import unit_of_work

__all__ = ["AUTO_REPLY_KINDS", "CONFIRMATION_KINDS", "Budget", "BudgetSpent", "queue", "refusal"]


#: Outbox ``kind`` values of the texts answering STOP/START/HELP. They go out even to a
#: contact who has just opted out (once, as the CTIA requires): sending checks must exempt
#: them, and the STOP race cancellation leaves them alone.
CONFIRMATION_KINDS: frozenset[str] = frozenset({"optout_confirm", "optin_confirm", "help"})
#: Outbox kinds sent because somebody texted us (not because a call was missed).
AUTO_REPLY_KINDS: frozenset[str] = CONFIRMATION_KINDS | {"forward"}
#: Statuses that never left and never will: they spend no budget.
_UNSPENT = (MessageStatus.SUPPRESSED, MessageStatus.CANCELLED, MessageStatus.EXPIRED)


class BudgetSpent(TextbackError):
    """The auto-reply budget allows no more texts now (a forward is retried later)."""


@dataclass(frozen=True, slots=True)
class Budget:
    """How many auto-replies may be queued (``[consent]``)."""

    per_minute: int = 20
    daily_per_number: int = 3


async def refusal(
    session: AsyncSession, new: NewMessage, *, key: str, now: datetime, budget: Budget
) -> str | None:
    """Why ``new`` (an auto-reply) may not be queued now; None if it may.

    Call it in the transaction that inserts ``new`` under ``key``: it takes the budget's
    lock, held until commit. A key already queued spends nothing (None).
    """
    await lock(session, AUTOREPLY_LOCK)
    connection = await session.connection()
    params = {
        "a_key": key,
        "a_to": new.to_e164,
        "a_day_ago": now - timedelta(hours=24),
        "a_since": now - WINDOW,
    }
    family = CONFIRMATION_KINDS if new.kind in CONFIRMATION_KINDS else frozenset({new.kind})
    stmt = _statement(family)
    exists, minute, to_number, helps = (await connection.execute(stmt, params)).one()
    if exists:
        return None
    if new.kind in CONFIRMATION_KINDS:
        if new.kind == "help" and int(helps or 0) >= 1:
            return "HELP already answered to this number in the last 24 h"
        if int(to_number or 0) >= budget.daily_per_number:
            return f"{to_number} auto-replies to this number in 24 h (auto_reply_daily_cap)"
    if budget.per_minute and int(minute or 0) >= budget.per_minute:
        return f"{minute} {new.kind} texts in the last minute (budget {budget.per_minute})"
    return None


async def queue(
    sessions: async_sessionmaker[AsyncSession],
    new: NewMessage,
    *,
    key: str,
    now: datetime,
    budget: Budget,
) -> None:
    """Queue the auto-reply ``new`` under ``key`` (once).

    Raises :class:`BudgetSpent` when the budget does not allow it now.
    """
    async with unit_of_work(sessions) as session:
        why = await refusal(session, new, key=key, now=now, budget=budget)
        if why is not None:
            raise BudgetSpent(why)
        await insert_message(session, new, key=key, call_id=None, now=now)


@functools.cache
def _statement(family: frozenset[str]) -> Any:
    when = Message.created_at.type
    spent = (Message.status.not_in(_UNSPENT),)
    to = Message.to_e164 == bindparam("a_to", type_=String())
    day = Message.created_at >= bindparam("a_day_ago", type_=when)

    def count(*where: Any) -> Any:
        return select(func.count()).select_from(Message).where(*spent, *where).scalar_subquery()

    return select(
        select(func.count())
        .select_from(Message)
        .where(Message.idempotency_key == bindparam("a_key", type_=String()))
        .scalar_subquery(),
        count(
            Message.kind.in_(sorted(family)),
            Message.created_at >= bindparam("a_since", type_=when),
        ),
        count(Message.kind.in_(CONFIRMATION_KINDS), to, day),
        count(Message.kind == "help", to, day),
    )
