"""Virtual time for code that takes a clock and a sleep: tests that wait for nothing.

:class:`FakeClock` gives a ``time()`` and a ``sleep()`` to pass where the service passes
``time.time`` and ``asyncio.sleep``. A sleeper is parked until the clock passes its
deadline: by :meth:`FakeClock.advance`, or by :meth:`FakeClock.autojump`, which moves time
straight to the next deadline whenever the code under test is parked in enough sleeps
(its timers, not its I/O, are what it waits on). Times asserted are then exact, and a run
takes as long as its real work, not its timers.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator

#: An arbitrary fixed start (2027-01-15 08:00 UTC): runs are repeatable to the microsecond.
START = 1_800_000_000.0


class FakeClock:
    """A clock whose time moves only when told, and the sleep that goes with it."""

    def __init__(self, start: float = START) -> None:
        self.now = start
        #: Every duration passed to :meth:`sleep`, in order.
        self.slept: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._changed = asyncio.Condition()

    def time(self) -> float:
        """Seconds since the epoch, virtual (pass where ``time.time`` goes)."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Wait until the clock has moved ``seconds`` on (pass where ``asyncio.sleep`` goes)."""
        self.slept.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        parked = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), parked))
        try:
            async with self._changed:
                self._changed.notify_all()
            await parked
        finally:
            # Cancelled, even while still taking the lock: no longer a sleeper.
            parked.cancel()

    @property
    def sleeping(self) -> int:
        """How many sleeps are waiting for the clock."""
        return sum(1 for _, _, parked in self._sleepers if not parked.done())

    def next_deadline(self) -> float | None:
        """When the earliest waiting sleep ends; None when nothing sleeps."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)  # cancelled sleeps
        return self._sleepers[0][0] if self._sleepers else None

    def advance(self, seconds: float) -> None:
        """Move time on by ``seconds`` and wake every sleep that is over."""
        if seconds < 0:
            raise ValueError("time does not go back")
        self.now += seconds
        while self._sleepers and self._sleepers[0][0] <= self.now:
            _, _, parked = heapq.heappop(self._sleepers)
            if not parked.done():
                parked.set_result(None)

    async def parked(self, sleepers: int) -> None:
        """Wait until at least ``sleepers`` sleeps wait for the clock."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.sleeping >= sleepers)

    async def tick(self, seconds: float, *, step: float, sleepers: int) -> None:
        """Let ``seconds`` pass ``step`` by ``step``, and after each step wait (at most 10 s
        of real time) until ``sleepers`` sleeps are parked again: whatever a step woke has
        done its work (its requests sent, its rows written) before time moves on."""
        for _ in range(round(seconds / step)):
            self.advance(step)
            async with asyncio.timeout(10):
                await self.parked(sleepers)

    @contextlib.asynccontextmanager
    async def autojump(self, sleepers: int) -> AsyncIterator[None]:
        """While inside, jump to the next deadline whenever ``sleepers`` sleeps are parked.

        ``sleepers`` is how many timers the code under test holds when it has nothing to
        do but wait for time (a dispatcher: one idle poll per worker plus housekeeping), so
        time never moves while it is still working on what the last jump woke.
        """

        async def jump() -> None:
            while True:
                await self.parked(sleepers)
                deadline = self.next_deadline()
                if deadline is not None:
                    self.advance(max(0.0, deadline - self.now))
                # Let what woke run (and park again) before looking at the sleepers anew.
                await asyncio.sleep(0)

        task = asyncio.create_task(jump())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
