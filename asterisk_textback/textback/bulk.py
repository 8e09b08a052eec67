"""The recorder's bulk lane: calls that can never be texted, written behind the live path.

A flood of calls that never hang up ends in tens of thousands of evictions (outcome
``unknown``); written one by one in the recorder's lanes, a real call queued behind 50k of
them waited 127 s for its text. Calls of unknown outcome need no history and get no text,
so here they are decided in memory and written in large batches with one multi-row INSERT,
and only while the live lanes are idle: a real call waits behind one batch at most.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.model import CallEnded
from asterisk_textback.calls.utc import utc
from asterisk_textback.policy.decide import decide
from asterisk_textback.policy.decision import Action as DecisionAction
from asterisk_textback.policy.decision import Decision
from asterisk_textback.policy.history import NO_HISTORY
from asterisk_textback.policy.settings import PolicyConfig
from asterisk_textback.store.calls import CallDecision, record_calls
from asterisk_textback.store.uow import unit_of_work

log = logging.getLogger(__name__)

__all__ = ["BATCH", "BulkLane"]

#: Calls written per transaction (about 0.1 s of database work on a slow SQLite disk).
BATCH = 500
#: Calls decided between two looks at the live lanes (parsing a number costs ~1 ms on a
#: slow core: the event loop is never held much longer than this many of them).
_SLICE = 25


class BulkLane:
    """Records calls that get no text, in batches, whenever ``busy()`` is false."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        settings: Callable[[], PolicyConfig],
        recorded: Callable[[CallEnded, Decision], object],
        busy: Callable[[], bool],
        idle: asyncio.Event,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._recorded = recorded
        self._busy = busy
        self._idle = idle
        self._clock = clock
        self._queue: asyncio.Queue[CallEnded | None] = asyncio.Queue()
        self.errors = 0

    def submit(self, call: CallEnded) -> None:
        """Queue a call of unknown outcome (never blocks)."""
        self._queue.put_nowait(call)

    def stop(self) -> None:
        """Write what was submitted, then return from :meth:`run`."""
        self._queue.put_nowait(None)

    @property
    def backlog(self) -> int:
        """Calls waiting to be written."""
        return self._queue.qsize()

    async def run(self) -> None:
        """Write batches until :meth:`stop`."""
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < BATCH and not self._queue.empty():
                nxt = self._queue.get_nowait()
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
            await self._write(batch)

    async def _live_first(self) -> None:
        """Return once the live lanes are idle."""
        await asyncio.sleep(0)
        while self._busy():
            # Whatever keeps the live lanes busy sets the event again once they are idle.
            self._idle.clear()
            await self._idle.wait()

    async def _write(self, calls: list[CallEnded]) -> None:
        settings = self._settings()
        now = self._clock()
        rows: list[tuple[CallEnded, CallDecision, str | None]] = []
        decisions: list[Decision] = []
        for i, call in enumerate(calls):
            if i % _SLICE == 0:
                await self._live_first()
            decision = decide(call, NO_HISTORY, settings, now)
            if decision.send:  # pragma: no cover - the policy never texts an unknown outcome
                self.errors += 1
                log.error("call %s of unknown outcome was to be texted: not", call.linkedid)
                continue
            reason = None if decision.reason is None else str(decision.reason)
            stored = CallDecision(action=DecisionAction.SUPPRESS, suppress_reason=reason)
            rows.append((call, stored, decision.to))
            decisions.append(decision)
        await self._live_first()
        try:
            async with unit_of_work(self._sessions) as session:
                await record_calls(session, rows, now=utc(now))
        except Exception:
            self.errors += len(rows)
            log.exception("could not record %d calls of unknown outcome", len(rows))
            return
        for (call, _, _), decision in zip(rows, decisions, strict=True):
            self._recorded(call, decision)
