"""Start-up catch-up: calls a PBX ended while the service was down, read back from the CDR.

Each PBX link keeps a mark in the database (``pbx_marks``): the time up to which every call
it ended is recorded. While running it is saved every few seconds — only when the recorder
has nothing queued, never past a call still waiting for its CDR row, and a margin behind —
and once more on a graceful stop. On start, the CDR calls that ended between the mark (or
``max_age_minutes`` ago, whichever is later) and now are submitted like live ones: the
recorder keys calls by Linkedid, so a call recorded before the stop is never recorded, or
texted, twice, and the policy still applies (max age, cooldown, opt-out…).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.listener import CallListener
from asterisk_textback.calls.model import Direction
from asterisk_textback.calls.utc import utc
from asterisk_textback.policy.settings import SuppressionSettings
from asterisk_textback.store.marks import get_mark, save_mark
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.tenancy.ids import DEFAULT_TENANT
from asterisk_textback.tenancy.leases import LinkGate, link_key, unless_stopped
from asterisk_textback.textback.catchup import CdrCatchUp
from asterisk_textback.textback.handler import CallHandler

log = logging.getLogger(__name__)

#: The saved mark trails the last event handled by this much: a call handed to the recorder
#: just before a crash may not be committed yet; the catch-up reads it again (no duplicate).
MARK_MARGIN_SECONDS = 30.0
SAVE_EVERY_SECONDS = 5.0
CDR_RESOLUTION_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class MarkedLink:
    """One PBX link as the start-up catch-up sees it."""

    name: str
    listener: CallListener
    catchup: CdrCatchUp


def _iso(ts: float) -> str:
    return utc(ts).isoformat(timespec="seconds")


class StartupCatchUp:
    """Reads back the calls missed while down, then keeps each PBX's mark up to date."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        links: Sequence[MarkedLink],
        recorder: CallHandler,
        suppression: SuppressionSettings,
        clock: Callable[[], float],
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        save_every: float = SAVE_EVERY_SECONDS,
        gate: LinkGate | None = None,
        tenant: str = DEFAULT_TENANT,
    ) -> None:
        """``gate`` (``[cluster]``): catch a link up each time this instance comes to hold
        it (the previous owner's mark is in the shared database), not all links at start."""
        self._sessions = sessions
        self._links = list(links)
        self._recorder = recorder
        self._max_age = suppression.max_age_minutes * 60
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._clock = clock
        self._sleep = sleep
        self._save_every = save_every
        self._saved: dict[str, float] = {}
        self._gate = gate
        self._tenant = tenant
        self._followers: list[asyncio.Task[None]] = []
        #: Per PBX, what the catch-up did (``/healthz`` ``catchup``).
        self.report: dict[str, dict[str, Any]] = {
            link.name: {"state": "pending"} for link in self._links
        }

    def health(self) -> dict[str, dict[str, Any]]:
        """Per PBX: the start-up catch-up's report, and what the outage catch-up did."""
        return {
            link.name: {
                **self.report[link.name],
                "after_outages": {**asdict(link.catchup.stats), "waiting": link.catchup.waiting},
            }
            for link in self._links
        }

    async def catch_up(self) -> None:
        """Read back, per PBX, the calls that ended since its mark; save a first mark."""
        now = self._clock()
        for link in self._links:
            if self._stopping.is_set():
                break  # its mark stays where it was: the next start reads this window
            try:
                await self._one(link, now)
            except Exception as exc:  # the service still runs; the report says what failed
                log.exception("start-up catch-up on %s failed", link.name)
                # Only the kind: /healthz is no place for a database error's details.
                self.report[link.name] = {"state": "failed", "error": type(exc).__name__}

    async def _one(self, link: MarkedLink, now: float) -> None:
        async with self._sessions() as session:
            mark = await get_mark(session, link.name)
        entry: dict[str, Any] = {"state": "first start", "since": None, "calls": 0, "missed": 0}
        if mark is None:
            log.info("start-up catch-up on %s: first start, nothing to catch up", link.name)
            if link.catchup.configured:
                link.catchup.watch_up_at(now)  # calls already up are still read as they end
        elif not link.catchup.configured:
            entry.update(state="no CDR configured", since=_iso(mark))
            log.warning(
                "start-up catch-up on %s: calls that ended since %s are not read back "
                "(set pbx.cdr_csv or pbx.cdr_db_url_env)",
                link.name,
                _iso(mark),
            )
        else:
            # CDR times are whole seconds: read a little before, the recorder drops repeats.
            since = max(mark, now - self._max_age) - CDR_RESOLUTION_SECONDS
            errors = link.catchup.stats.read_errors
            calls = await link.catchup.recover(since, now)
            missed = sum(1 for c in calls if c.missed and c.direction is Direction.INBOUND)
            state = "done" if link.catchup.stats.read_errors == errors else "CDR unreadable"
            entry.update(state=state, since=_iso(since), calls=len(calls), missed=missed)
            log.warning(
                "start-up catch-up on %s: %d call(s) ended since %s read from the CDR "
                "(%d missed inbound, texted once unless the policy says no)",
                link.name,
                len(calls),
                _iso(since),
                missed,
            )
        self.report[link.name] = entry
        if mark is None:
            await self._save(link.name, now)
        elif entry["state"] != "CDR unreadable":
            self._saved[link.name] = mark  # else the mark stays: the next start reads again

    def _candidate(self, link: MarkedLink) -> float | None:
        last = link.listener.last_received
        if last is None:
            return None
        pending = link.catchup.oldest_pending()
        upto = last if pending is None else min(last, pending)
        return upto - MARK_MARGIN_SECONDS

    async def save(self) -> None:
        """Move each PBX's mark forward to what is recorded for sure (see the module doc)."""
        if self._recorder.backlog:
            return
        for link in self._links:
            at = self._candidate(link)
            # Never past a window the catch-up has not read yet (stopped while catching up).
            if at is not None and link.name in self._saved and at > self._saved[link.name]:
                await self._save(link.name, at)

    async def _save(self, pbx: str, at: float) -> None:
        async with unit_of_work(self._sessions) as session:
            await save_mark(session, pbx, at)
        self._saved[pbx] = at

    def start(self) -> None:
        """Run :meth:`run` in the background."""
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        """Finish the PBX being caught up (the others wait for the next start) and the save
        under way, then save the marks once more (call after the recorder has stopped).

        Not a cancel: one cancelled mid-query would leave its database connection open.
        """
        self._stopping.set()
        if self._task is not None:
            await self._task
        await self.save()

    async def __aenter__(self) -> StartupCatchUp:
        """:meth:`start` the catch-up (leave the block only after the recorder stopped)."""
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """:meth:`stop`: the marks move on to what the recorder has committed."""
        await self.stop()

    async def _follow(self, link: MarkedLink, gate: LinkGate) -> None:
        """Catch ``link`` up each time this instance comes to hold it (``[cluster]``)."""
        key = link_key(self._tenant, link.name)
        while await unless_stopped(gate.wait_owned(key), self._stopping):
            try:
                await self._one(link, self._clock())
            except Exception as exc:
                log.exception("catch-up on %s after taking it over failed", link.name)
                self.report[link.name] = {"state": "failed", "error": type(exc).__name__}
            if not await unless_stopped(gate.wait_lost(key), self._stopping):
                return

    async def run(self) -> None:
        """Catch up, then save the marks every few seconds until :meth:`stop`."""
        gate = self._gate
        if gate is None:
            await self.catch_up()
        else:
            loop = asyncio.get_running_loop()
            self._followers = [loop.create_task(self._follow(x, gate)) for x in self._links]
        try:
            await self._save_until_stopped()
        finally:
            await asyncio.gather(*self._followers, return_exceptions=True)

    async def _save_until_stopped(self) -> None:
        while not self._stopping.is_set():
            pause = asyncio.ensure_future(self._sleep(self._save_every))
            stopping = asyncio.ensure_future(self._stopping.wait())
            try:
                await asyncio.wait({pause, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in (pause, stopping):
                    waiter.cancel()
                await asyncio.gather(pause, stopping, return_exceptions=True)
            if self._stopping.is_set():
                return
            try:
                await self.save()
            except Exception:
                log.exception("could not save the PBX marks; retrying")
