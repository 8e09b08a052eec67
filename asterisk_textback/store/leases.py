"""PBX link leases on PostgreSQL: which ``run`` instance watches which link (``[cluster]``).

One row per link (``public.textback_link_leases``): its owner and until when, by the
database's clock (``now()``) only, so instances whose clocks disagree still agree on who
owns what. A lease is taken when it is free or expired (``INSERT … ON CONFLICT DO UPDATE
… WHERE``: of many instances trying at once exactly one gets a row back), renewed by its
owner only while unexpired, and released by its owner. ``generation`` counts the hand-overs
of a link (another owner each time).

The instances of a cluster also keep a heartbeat row each (``textback_cluster_members``),
so that each knows how many share the links (its fair share).

The tables live in ``public`` whatever the tenant (one install-wide set of links) and are
created on first use (:func:`ensure_tables`) rather than by a migration: migrations run once
per tenant schema and on SQLite too, while leases exist once per PostgreSQL database only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "Lease",
    "ensure_tables",
    "heartbeat",
    "leave",
    "list_leases",
    "release",
    "renew_all",
    "try_acquire",
]

#: Any constant: serialises the CREATE TABLEs of instances starting together.
_DDL_LOCK = 7_215_300_117

_CREATE = (
    """CREATE TABLE IF NOT EXISTS public.textback_link_leases (
        link text PRIMARY KEY,
        owner text NOT NULL,
        expires_at timestamptz NOT NULL,
        taken_at timestamptz NOT NULL DEFAULT now(),
        generation bigint NOT NULL DEFAULT 1
    )""",
    """CREATE TABLE IF NOT EXISTS public.textback_cluster_members (
        owner text PRIMARY KEY,
        expires_at timestamptz NOT NULL
    )""",
)

_ACQUIRE = text(
    """INSERT INTO public.textback_link_leases AS l (link, owner, expires_at, taken_at, generation)
    VALUES (:link, :owner, now() + make_interval(secs => :ttl), now(), 1)
    ON CONFLICT (link) DO UPDATE SET
        owner = EXCLUDED.owner,
        expires_at = EXCLUDED.expires_at,
        taken_at = CASE WHEN l.owner = EXCLUDED.owner THEN l.taken_at ELSE now() END,
        generation = CASE WHEN l.owner = EXCLUDED.owner
            THEN l.generation ELSE l.generation + 1 END
    WHERE l.expires_at < now() OR l.owner = EXCLUDED.owner
    RETURNING l.generation"""
)

_RENEW = text(
    """UPDATE public.textback_link_leases
    SET expires_at = now() + make_interval(secs => :ttl)
    WHERE owner = :owner AND link = ANY(:links) AND expires_at > now()
    RETURNING link"""
)

_RELEASE = text(
    "DELETE FROM public.textback_link_leases WHERE owner = :owner AND link = ANY(:links)"
)

_LIST = text(
    """SELECT link, owner, EXTRACT(EPOCH FROM expires_at - now()) AS expires_in,
        taken_at, generation
    FROM public.textback_link_leases ORDER BY link"""
)

_BEAT = text(
    """INSERT INTO public.textback_cluster_members AS m (owner, expires_at)
    VALUES (:owner, now() + make_interval(secs => :ttl))
    ON CONFLICT (owner) DO UPDATE SET expires_at = EXCLUDED.expires_at"""
)
_FORGET_DEAD = text(
    "DELETE FROM public.textback_cluster_members WHERE expires_at < now() - interval '1 hour'"
)
_MEMBERS = text(
    "SELECT owner FROM public.textback_cluster_members WHERE expires_at > now() ORDER BY owner"
)
_LEAVE = text("DELETE FROM public.textback_cluster_members WHERE owner = :owner")


@dataclass(frozen=True, slots=True)
class Lease:
    """One link's lease as the database has it."""

    link: str
    owner: str
    #: Seconds until it expires, by the database's clock (negative: expired, free to take).
    expires_in: float
    taken_at: datetime
    generation: int

    @property
    def live(self) -> bool:
        """Whether its owner still holds it."""
        return self.expires_in > 0


async def ensure_tables(engine: AsyncEngine) -> None:
    """Create the lease tables if missing (safe with several instances starting at once)."""
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_LOCK})
        for statement in _CREATE:
            await conn.execute(text(statement))


async def try_acquire(engine: AsyncEngine, link: str, owner: str, ttl: float) -> int | None:
    """Take (or extend) ``link``'s lease for ``ttl`` s if free, expired or ours already.

    Returns the lease's generation when ``owner`` holds it now, None when another does.
    """
    async with engine.begin() as conn:
        row = (await conn.execute(_ACQUIRE, {"link": link, "owner": owner, "ttl": ttl})).first()
    return None if row is None else int(row[0])


async def renew_all(
    engine: AsyncEngine, owner: str, links: Iterable[str], ttl: float
) -> frozenset[str]:
    """Extend ``owner``'s unexpired leases on ``links`` by ``ttl`` s; the links still held."""
    wanted = sorted(set(links))
    if not wanted:
        return frozenset()
    async with engine.begin() as conn:
        rows = await conn.execute(_RENEW, {"owner": owner, "links": wanted, "ttl": ttl})
        return frozenset(str(r[0]) for r in rows)


async def release(engine: AsyncEngine, owner: str, links: Iterable[str]) -> None:
    """Give up ``owner``'s leases on ``links`` (another instance may take them at once)."""
    wanted = sorted(set(links))
    if wanted:
        async with engine.begin() as conn:
            await conn.execute(_RELEASE, {"owner": owner, "links": wanted})


async def list_leases(engine: AsyncEngine) -> list[Lease]:
    """Every link's lease, by link (for the console, ``/healthz`` and fair shares)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(_LIST)).all()
    return [Lease(str(r[0]), str(r[1]), float(r[2]), r[3], int(r[4])) for r in rows]


async def heartbeat(engine: AsyncEngine, owner: str, ttl: float) -> list[str]:
    """Say ``owner`` is alive for ``ttl`` s more; every live instance (``owner`` included)."""
    async with engine.begin() as conn:
        await conn.execute(_BEAT, {"owner": owner, "ttl": ttl})
        await conn.execute(_FORGET_DEAD)
        return [str(r[0]) for r in await conn.execute(_MEMBERS)]


async def leave(engine: AsyncEngine, owner: str) -> None:
    """Remove ``owner``'s heartbeat (a graceful stop)."""
    async with engine.begin() as conn:
        await conn.execute(_LEAVE, {"owner": owner})
