"""The CRM outbox: idempotent add, atomic claims with a lease, delivered / retry / give up.

::

    pending ──claim──> sending ──2xx──> delivered
      ▲                  ├──error──> pending (backoff)  or  failed (out of attempts)
      └──lease expired───┘  (a worker stopped mid-post: the row is claimed again)

A row is posted again only when no 2xx was recorded for it, so a receiver that answered
200 gets each event at most once unless the process died between its answer and the
commit (the ``Idempotency-Key`` header lets the receiver drop that rare repeat).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.crm.status import CrmEventStatus
from asterisk_textback.store._dialect import dialect_of, insert
from asterisk_textback.store.models import CrmEvent
from asterisk_textback.store.uow import unit_of_work

__all__ = ["NewCrmEvent", "add_events", "claim_due", "count_by_status", "finish"]


@dataclass(frozen=True, slots=True)
class NewCrmEvent:
    """One event to post to one endpoint."""

    endpoint: str
    idempotency_key: str
    event: str
    payload: str


async def add_events(session: AsyncSession, events: Sequence[NewCrmEvent], *, now: datetime) -> int:
    """Commit the events not stored yet (same endpoint and key: skipped); how many are new."""
    added = 0
    for new in events:
        stmt = (
            insert(session, CrmEvent)
            .values(
                endpoint=new.endpoint,
                idempotency_key=new.idempotency_key,
                event=new.event,
                payload=new.payload,
                status=CrmEventStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=[CrmEvent.endpoint, CrmEvent.idempotency_key])
            .returning(CrmEvent.id)
        )
        added += (await session.scalars(stmt)).one_or_none() is not None
    return added


def _due(now: datetime) -> Any:
    return and_(
        or_(
            CrmEvent.status == CrmEventStatus.PENDING,
            CrmEvent.status == CrmEventStatus.SENDING,  # lease expired
        ),
        CrmEvent.next_attempt_at <= now,
    )


async def claim_due(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime, lease_until: datetime, limit: int
) -> list[CrmEvent]:
    """Atomically move up to ``limit`` due rows to ``sending`` until ``lease_until``.

    Each due row goes to exactly one caller, however many workers claim at once.
    """
    values: dict[str, Any] = {
        "status": CrmEventStatus.SENDING,
        "attempts": CrmEvent.attempts + 1,
        "next_attempt_at": lease_until,
        "updated_at": now,
    }
    order = (CrmEvent.next_attempt_at, CrmEvent.id)
    async with unit_of_work(sessions) as session:
        if dialect_of(session) == "postgresql":
            # Skip rows another worker has locked: concurrent claimers get disjoint sets.
            ids: Sequence[int] = (
                await session.scalars(
                    select(CrmEvent.id)
                    .where(_due(now))
                    .order_by(*order)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not ids:
                return []
            where: Any = CrmEvent.id.in_(ids)
        else:
            # SQLite serializes writers (BEGIN IMMEDIATE): one statement is atomic enough.
            where = CrmEvent.id.in_(
                select(CrmEvent.id).where(_due(now)).order_by(*order).limit(limit)
            )
        claimed = await session.scalars(
            update(CrmEvent)
            .where(where, _due(now))
            .values(values)
            .returning(CrmEvent)
            .execution_options(populate_existing=True)
        )
        rows = list(claimed.all())
    rows.sort(key=lambda row: row.id)
    return rows


async def finish(
    session: AsyncSession,
    row_id: int,
    *,
    attempt: int,
    now: datetime,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> bool:
    """Record one post: delivered (no ``error``), retry at ``retry_at``, or failed.

    Only the claim that made attempt ``attempt`` may finish the row; whether it did.
    """
    if error is None:
        values: dict[str, Any] = {"status": CrmEventStatus.DELIVERED, "delivered_at": now}
    elif retry_at is not None:
        values = {"status": CrmEventStatus.PENDING, "next_attempt_at": retry_at}
    else:
        values = {"status": CrmEventStatus.FAILED}
    values |= {"updated_at": now, "last_error": None if error is None else error[:2000]}
    stmt = (
        update(CrmEvent)
        .where(
            CrmEvent.id == row_id,
            CrmEvent.status == CrmEventStatus.SENDING,
            CrmEvent.attempts == attempt,
        )
        .values(values)
        .returning(CrmEvent.id)
    )
    done = (await session.scalars(stmt)).one_or_none() is not None
    return done


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    """How many rows are in each status (health page, tests)."""
    rows = await session.execute(select(CrmEvent.status, func.count()).group_by(CrmEvent.status))
    return {str(status): int(count) for status, count in rows}
