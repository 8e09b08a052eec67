"""The ``crm_events`` queue on SQLite and PostgreSQL: idempotent add, atomic claims, leases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.store import crm_outbox
from asterisk_textback.store.crm_outbox import NewCrmEvent
from asterisk_textback.store.uow import unit_of_work

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
LEASE = timedelta(minutes=1)


async def _add(sessions: Sessions, n: int) -> None:
    events = [NewCrmEvent("crm", f"reply:{i}", "reply", "{}") for i in range(n)]
    async with unit_of_work(sessions) as session:
        assert await crm_outbox.add_events(session, events, now=T0) == n
        assert await crm_outbox.add_events(session, events[:1], now=T0) == 0


async def test_concurrent_claims_are_disjoint(session_factory: Sessions) -> None:
    """Every due row goes to exactly one of many concurrent claimers."""
    await _add(session_factory, 30)

    async def claim() -> list[int]:
        rows = await crm_outbox.claim_due(session_factory, now=T0, lease_until=T0 + LEASE, limit=4)
        return [row.id for row in rows]

    got: list[int] = []
    for _ in range(3):
        batches = await asyncio.gather(*(claim() for _ in range(5)))
        got += [i for batch in batches for i in batch]
    assert len(got) == len(set(got)) == 30


async def test_lease_expiry_and_finish_guard(session_factory: Sessions) -> None:
    """A claim that never finished comes back after its lease; a stale finish is ignored."""
    await _add(session_factory, 1)
    [row] = await crm_outbox.claim_due(session_factory, now=T0, lease_until=T0 + LEASE, limit=9)
    assert row.attempts == 1
    assert (
        await crm_outbox.claim_due(session_factory, now=T0, lease_until=T0 + LEASE, limit=9) == []
    )
    later = T0 + LEASE
    [again] = await crm_outbox.claim_due(
        session_factory, now=later, lease_until=later + LEASE, limit=9
    )
    assert (again.id, again.attempts) == (row.id, 2)
    async with unit_of_work(session_factory) as session:
        # The first (lost) worker reporting late must not overwrite the live claim.
        assert not await crm_outbox.finish(session, row.id, attempt=1, now=later)
        assert await crm_outbox.finish(session, row.id, attempt=2, now=later)
        assert await crm_outbox.count_by_status(session) == {"delivered": 1}
