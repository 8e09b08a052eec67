"""Which PBX links this ``run`` instance watches: all of them, or those it holds a lease on.

Without ``[cluster]`` every link is this instance's (:class:`AlwaysOwned`). With it, the
instances sharing one PostgreSQL database divide the links through leases
(:mod:`asterisk_textback.store.leases`): :class:`LeaseKeeper` renews this instance's leases
every ``renew_seconds`` and takes free or expired links, up to its fair share when other
instances are alive (``ceil(links / live instances)``); holding more than ``floor(links /
live)`` while another live instance holds fewer, it hands one link per round back (closed
first, released a round later), so that instances started one after the other even out.

Fencing: a link counts as lost (:meth:`LeaseKeeper.wait_lost` fires, the AMI connection is
closed) once ``lease_seconds - renew_seconds`` have passed since the start of its last
successful renewal, measured on this instance's monotonic clock — before the lease could
have expired on the database's clock, so another instance never connects while this one
is still watching. A renewal the database refuses (the lease was taken) loses it at once.

A link's key is ``"<tenant>/<pbx name>"`` (:func:`link_key`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from asterisk_textback.errors import ConfigError
from asterisk_textback.store import leases as store
from asterisk_textback.tenancy.settings import ClusterSettings

__all__ = [
    "AlwaysOwned",
    "LeaseKeeper",
    "LinkGate",
    "cluster_gate",
    "instance_owner",
    "link_key",
    "unless_stopped",
]

log = logging.getLogger(__name__)

#: A link handed back is not taken again by the same instance for this many rounds
#: (unless it is alone).
_SHED_ROUNDS = 3


def link_key(tenant: str, pbx: str) -> str:
    """The lease key of a tenant's PBX link."""
    return f"{tenant}/{pbx}"


def instance_owner(instance: str | None) -> str:
    """This process's owner name in the lease table: ``dispatch.instance`` (or the host
    name) and the process id, so that a restarted process never inherits a lease."""
    return f"{instance or socket.gethostname()}/{os.getpid()}"


async def unless_stopped(wait: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Await ``wait`` unless ``stop`` is set first; whether ``wait`` finished (not stopped)."""
    waiter = asyncio.ensure_future(wait)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiter, stopper):
            task.cancel()
        await asyncio.gather(waiter, stopper, return_exceptions=True)
    return waiter.done() and not waiter.cancelled() and not stop.is_set()


class LinkGate(Protocol):
    """Tells a PBX link's consumer when this instance may watch the link."""

    async def wait_owned(self, link: str) -> None:
        """Return once this instance holds ``link``."""

    def owned(self, link: str) -> bool:
        """Whether this instance holds ``link`` now."""

    async def wait_lost(self, link: str) -> None:
        """Return once this instance no longer holds ``link`` (at once if it does not)."""


class AlwaysOwned:
    """No cluster: every link is this instance's, for good."""

    async def wait_owned(self, link: str) -> None:
        """Return at once."""

    def owned(self, link: str) -> bool:
        """Always True."""
        return True

    async def wait_lost(self, link: str) -> None:
        """Never return (cancel the wait)."""
        await asyncio.Event().wait()


@dataclass(slots=True)
class _Held:
    """One link as this instance sees it."""

    owned: asyncio.Event = field(default_factory=asyncio.Event)
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    #: Monotonic time after which the link counts as lost unless renewed.
    fence_at: float = 0.0
    #: Rounds left before a link handed back may be taken again (0: takeable).
    shed: int = 0
    #: Handed back this round: release its row next round (its connection is closed by then).
    releasing: bool = False

    def __post_init__(self) -> None:
        self.lost.set()


class LeaseKeeper:
    """Holds this instance's share of the PBX links' leases (an async context manager)."""

    def __init__(
        self,
        engine: AsyncEngine,
        owner: str,
        settings: ClusterSettings,
        links: Iterable[str],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self.owner = owner
        self._lease = settings.lease_seconds
        self._renew = settings.renew_seconds
        self._clock = clock
        self._links: dict[str, _Held] = {}
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: Rounds run and rounds that failed (database unreachable…), for health.
        self.rounds = 0
        self.failures = 0
        self.add_links(links)

    # -- the LinkGate side --------------------------------------------------------------

    def add_links(self, links: Iterable[str]) -> None:
        """Compete for these links too (a reload added them)."""
        for link in links:
            self._links.setdefault(link, _Held())
        self._changed.set()

    def remove_links(self, links: Iterable[str]) -> None:
        """Stop holding these links (a reload removed them): lost now, released next round."""
        for link in links:
            held = self._links.get(link)
            if held is not None and held.owned.is_set():
                self._lose(link, "removed")
                held.releasing = True
            elif held is not None:
                del self._links[link]
        self._changed.set()

    def owned(self, link: str) -> bool:
        """Whether this instance holds ``link`` (and its fence has not passed)."""
        held = self._links.get(link)
        return held is not None and held.owned.is_set() and self._clock() < held.fence_at

    async def wait_owned(self, link: str) -> None:
        """Return once ``link`` is held; a link not known yet is competed for from now on."""
        if link not in self._links:
            self.add_links([link])
        await self._links[link].owned.wait()

    async def wait_lost(self, link: str) -> None:
        """Return once ``link`` is not held (fenced, taken over, handed back, or stopping)."""
        held = self._links.get(link)
        if held is not None:
            await held.lost.wait()

    def held(self) -> list[str]:
        """The links held now, sorted."""
        return sorted(k for k, h in self._links.items() if h.owned.is_set())

    def health(self) -> dict[str, object]:
        """This instance's view (``/healthz``, the console): its name, links held, rounds."""
        waiting = sorted(set(self._links) - set(self.held()))
        return {
            "owner": self.owner,
            "held": self.held(),
            "waiting": waiting,
            "rounds": self.rounds,
            "failed_rounds": self.failures,
        }

    # -- the rounds ---------------------------------------------------------------------

    def _take(self, link: str, started: float) -> None:
        held = self._links[link]
        held.fence_at = started + self._lease - self._renew
        if not held.owned.is_set():
            log.info("cluster: %s now watches %s", self.owner, link)
            held.lost.clear()
            held.owned.set()

    def _lose(self, link: str, why: str) -> None:
        held = self._links[link]
        if held.owned.is_set():
            log.warning("cluster: %s no longer watches %s (%s)", self.owner, link, why)
            held.owned.clear()
            held.lost.set()

    async def run_round(self) -> None:
        """Renew what is held, hand back or take links toward a fair share (one round)."""
        started = self._clock()
        await self._release_handed_back()
        members = await store.heartbeat(self._engine, self.owner, self._lease)
        mine = [k for k, h in self._links.items() if h.owned.is_set()]
        kept = await store.renew_all(self._engine, self.owner, mine, self._lease)
        for link in mine:
            if link in kept:
                self._take(link, started)
            else:
                self._lose(link, "lease taken or expired")
        leases = {lease.link: lease for lease in await store.list_leases(self._engine)}
        total = len(set(leases) | set(self._links))
        live = max(1, len(members))
        holding: dict[str, int] = {m: 0 for m in members}
        for lease in leases.values():
            if lease.live and lease.owner in holding:
                holding[lease.owner] += 1
        count = sum(1 for h in self._links.values() if h.owned.is_set())
        fair, floor = math.ceil(total / live), total // live
        others = [n for m, n in holding.items() if m != self.owner]
        over_fair = count > fair and any(n < fair for n in others)
        if over_fair or (count > floor and any(n < floor for n in others)):
            self._hand_back_one()
            return
        for link, held in sorted(self._links.items()):
            if count >= fair and live > 1:
                break
            if held.owned.is_set() or held.releasing:
                continue
            if held.shed > 0 and live > 1:
                held.shed -= 1
                continue  # handed back lately: leave it to the others a little longer
            other = leases.get(link)
            if other is not None and other.live and other.owner != self.owner:
                continue
            attempt = self._clock()
            if await store.try_acquire(self._engine, link, self.owner, self._lease) is not None:
                self._take(link, attempt)
                count += 1

    def _hand_back_one(self) -> None:
        link = max(k for k, h in self._links.items() if h.owned.is_set())
        self._lose(link, "handed back to even out the instances")
        held = self._links[link]
        held.releasing, held.shed = True, _SHED_ROUNDS

    async def _release_handed_back(self) -> None:
        gone = [k for k, h in self._links.items() if h.releasing]
        if gone:
            await store.release(self._engine, self.owner, gone)
            for link in gone:
                held = self._links[link]
                held.releasing = False
                if held.shed == 0:
                    del self._links[link]  # removed by a reload

    async def _rounds(self) -> None:
        while True:
            try:
                await self.run_round()
                self.rounds += 1
            except Exception as exc:  # the database is away: the fence loses the links
                self.failures += 1
                log.warning("cluster: lease round failed (%s); retrying", type(exc).__name__)
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._renew):
                    await self._changed.wait()
            self._changed.clear()

    async def _fence(self) -> None:
        """Lose every link whose renewal is overdue, even while a round hangs."""
        while True:
            now = self._clock()
            for link, held in list(self._links.items()):
                if held.owned.is_set() and now >= held.fence_at:
                    self._lose(link, "lease not renewed in time")
            due = [h.fence_at for h in self._links.values() if h.owned.is_set()]
            pause = min(due, default=now + self._renew) - now
            await asyncio.sleep(min(max(pause, 0.01), self._renew))

    async def __aenter__(self) -> LeaseKeeper:
        await store.ensure_tables(self._engine)
        self._tasks = [
            asyncio.create_task(self._rounds(), name="lease rounds"),
            asyncio.create_task(self._fence(), name="lease fence"),
        ]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop renewing, mark every link lost, release the leases and leave the cluster.

        Leave this after the links' connections are closed (enter it before them).
        """
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        held = [k for k, h in self._links.items() if h.owned.is_set() or h.releasing]
        for link in self.held():
            self._lose(link, "stopping")
        try:
            await store.release(self._engine, self.owner, held)
            await store.leave(self._engine, self.owner)
        except Exception as exc:  # they expire on their own
            log.warning("cluster: could not release the leases (%s)", type(exc).__name__)


@contextlib.asynccontextmanager
async def cluster_gate(
    settings: ClusterSettings,
    engine: AsyncEngine,
    instance: str | None,
    links: Iterable[str] = (),
) -> AsyncIterator[LinkGate | None]:
    """A running :class:`LeaseKeeper` when ``[cluster]`` is enabled, else None (no gate).

    ``links`` need not be listed: a link is competed for from its first ``wait_owned``.
    """
    if not settings.enabled:
        yield None
        return
    if engine.dialect.name != "postgresql":
        raise ConfigError(
            "cluster.enabled: the instances share their PBX links through PostgreSQL; "
            "set database.url to a postgresql+asyncpg:// URL or cluster.enabled = false"
        )
    async with LeaseKeeper(engine, instance_owner(instance), settings, links) as keeper:
        yield keeper
