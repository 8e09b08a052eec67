"""The lease table (store.leases): of many instances trying at once, exactly one holds a link.

PostgreSQL only (leases exist only there). The concurrent tests release every contender
at the same instant, each on a connection of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from asterisk_textback.store.leases import (
    ensure_tables,
    heartbeat,
    leave,
    list_leases,
    release,
    renew_all,
    try_acquire,
)

T = TypeVar("T")
CONTENDERS = 30


async def _all_at_once(jobs: Sequence[Callable[[], Awaitable[T]]], engine: AsyncEngine) -> list[T]:
    """Run every job together, once each has a connection checked out and ready."""
    # Warm the pool so that no contender waits for a connection to be opened.
    conns = [await engine.connect() for _ in jobs]
    for conn in conns:
        await conn.close()
    go = asyncio.Event()

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        await go.wait()
        return await job()

    tasks = [asyncio.create_task(one(job)) for job in jobs]
    await asyncio.sleep(0.05)
    go.set()
    return await asyncio.gather(*tasks)


async def _expire(engine: AsyncEngine, link: str) -> None:
    """Make ``link``'s lease expired, by the database's clock."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE public.textback_link_leases SET expires_at = now() - interval '1 second' "
                "WHERE link = :link"
            ),
            {"link": link},
        )


async def test_of_many_acquirers_of_a_free_link_exactly_one_wins(
    lease_engine: AsyncEngine,
) -> None:
    jobs = [
        partial(try_acquire, lease_engine, "default/pbx", f"owner-{i}", 10.0)
        for i in range(CONTENDERS)
    ]
    results = await _all_at_once(jobs, lease_engine)
    winners = [i for i, gen in enumerate(results) if gen is not None]
    assert len(winners) == 1
    (lease,) = await list_leases(lease_engine)
    assert lease.owner == f"owner-{winners[0]}"
    assert lease.generation == 1
    assert lease.live


async def test_of_many_acquirers_of_an_expired_link_exactly_one_wins(
    lease_engine: AsyncEngine,
) -> None:
    assert await try_acquire(lease_engine, "t/pbx", "dead", 10.0) == 1
    await _expire(lease_engine, "t/pbx")
    jobs = [
        partial(try_acquire, lease_engine, "t/pbx", f"owner-{i}", 10.0) for i in range(CONTENDERS)
    ]
    results = await _all_at_once(jobs, lease_engine)
    assert sum(gen is not None for gen in results) == 1
    (lease,) = await list_leases(lease_engine)
    assert lease.owner != "dead"
    assert lease.generation == 2


async def test_a_live_lease_is_kept_by_its_owner_and_refused_to_others(
    lease_engine: AsyncEngine,
) -> None:
    assert await try_acquire(lease_engine, "a/x", "one", 10.0) == 1
    assert await try_acquire(lease_engine, "a/x", "two", 10.0) is None
    # Its owner may take it again: same generation (no hand-over).
    assert await try_acquire(lease_engine, "a/x", "one", 10.0) == 1
    (lease,) = await list_leases(lease_engine)
    assert (lease.owner, lease.generation) == ("one", 1)
    assert 9.0 < lease.expires_in <= 10.0


async def test_renewal_races_a_takeover_at_expiry_and_only_one_holds(
    lease_engine: AsyncEngine,
) -> None:
    for round_ in range(5):
        link = f"r/{round_}"
        await try_acquire(lease_engine, link, "old", 10.0)
        await _expire(lease_engine, link)

        async def renew(link: str = link) -> bool:
            return link in await renew_all(lease_engine, "old", [link], 10.0)

        async def take(i: int, link: str = link) -> bool:
            return await try_acquire(lease_engine, link, f"new-{i}", 10.0) is not None

        jobs: list[Callable[[], Awaitable[bool]]] = [renew]
        jobs += [partial(take, i) for i in range(10)]
        results = await _all_at_once(jobs, lease_engine)
        # An expired lease is never renewed: only a new owner can hold it, and only one.
        assert results[0] is False
        assert sum(results) == 1
        lease = next(x for x in await list_leases(lease_engine) if x.link == link)
        assert lease.owner.startswith("new-")


async def test_renew_all_extends_only_the_owners_live_leases(lease_engine: AsyncEngine) -> None:
    await try_acquire(lease_engine, "t/a", "me", 1.0)
    await try_acquire(lease_engine, "t/b", "me", 1.0)
    await try_acquire(lease_engine, "t/c", "other", 1.0)
    await _expire(lease_engine, "t/b")
    held = await renew_all(lease_engine, "me", ["t/a", "t/b", "t/c", "t/none"], 30.0)
    assert held == {"t/a"}
    leases = {x.link: x for x in await list_leases(lease_engine)}
    assert leases["t/a"].expires_in > 20
    assert not leases["t/b"].live
    assert leases["t/c"].expires_in < 2
    assert await renew_all(lease_engine, "me", [], 30.0) == frozenset()


async def test_release_frees_a_link_at_once_but_only_the_owners(
    lease_engine: AsyncEngine,
) -> None:
    await try_acquire(lease_engine, "t/a", "me", 30.0)
    await release(lease_engine, "thief", ["t/a"])
    assert await try_acquire(lease_engine, "t/a", "thief", 30.0) is None
    await release(lease_engine, "me", ["t/a"])
    assert await try_acquire(lease_engine, "t/a", "next", 30.0) == 1
    assert [x.owner for x in await list_leases(lease_engine)] == ["next"]


async def test_heartbeats_list_the_live_instances(lease_engine: AsyncEngine) -> None:
    assert await heartbeat(lease_engine, "b", 30.0) == ["b"]
    assert await heartbeat(lease_engine, "a", 30.0) == ["a", "b"]
    await heartbeat(lease_engine, "c", 0.001)
    await asyncio.sleep(0.01)
    assert await heartbeat(lease_engine, "a", 30.0) == ["a", "b"]
    await leave(lease_engine, "b")
    assert await heartbeat(lease_engine, "a", 30.0) == ["a"]


async def test_the_tables_are_created_once_by_instances_starting_together(
    pg_url: str,
) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(pg_url, pool_size=10)
    try:
        await _all_at_once([lambda: ensure_tables(engine) for _ in range(8)], engine)
        assert await list_leases(engine) == []
    finally:
        await engine.dispose()
