"""The outbox's timers: a per-sender rate limiter and waits on an injected clock and sleep.

Time is injected twice, a clock *and* a sleep (``time.time`` and ``asyncio.sleep`` in the
service), so that tests drive the dispatcher's waits with a fake clock instead of waiting
them out, and assert exact times instead of wall-clock bounds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

#: Seconds since the epoch, now (``time.time`` in the service).
Clock = Callable[[], float]
#: Waits the given seconds (``asyncio.sleep`` in the service).
Sleep = Callable[[float], Awaitable[object]]


class SenderRateLimiter:
    """Spaces texts from one sender number ``1/rate`` seconds apart (carrier throughput)."""

    def __init__(self, rate_per_second: float, clock: Clock, sleep: Sleep = asyncio.sleep) -> None:
        self._interval = 1.0 / rate_per_second
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}

    def set_rate(self, rate_per_second: float) -> None:
        """Space the next slots by a new rate (a reloaded ``provider.rate_per_second``)."""
        self._interval = 1.0 / rate_per_second

    async def acquire(self, sender: str) -> None:
        """Wait for ``sender``'s next slot."""
        await sleep_until(self.reserve(sender), self._clock, self._sleep)

    def reserve(self, sender: str, *, within: float | None = None) -> float | None:
        """Take ``sender``'s next slot and return its time (epoch), without waiting.

        With ``within``, only a slot that comes within that many seconds is taken; None
        (nothing taken) otherwise.
        """
        now = self._clock()
        slot = max(now, self._next.get(sender, now))
        if within is not None and slot > now + within:
            return None
        self._next[sender] = slot + self._interval
        if len(self._next) > 10_000:  # bounded: forget senders whose slots have passed
            self._next = {k: v for k, v in self._next.items() if v > now}
        return slot


async def sleep_until(when: float | None, clock: Clock, sleep: Sleep = asyncio.sleep) -> None:
    """Sleep until epoch ``when`` by ``clock`` (not at all if it has passed, or is None)."""
    if when is not None and when > (now := clock()):
        await sleep(when - now)


async def wait_or_sleep(event: asyncio.Event, seconds: float, sleep: Sleep) -> None:
    """Return once ``event`` is set or ``sleep(seconds)`` is over, whichever comes first.

    ``asyncio.timeout`` would read the loop's own clock; racing the injected sleep keeps
    the wait on the same time as everything else the dispatcher does.
    """
    if event.is_set():
        return
    waiter = asyncio.ensure_future(event.wait())
    timer = asyncio.ensure_future(sleep(seconds))
    try:
        await asyncio.wait((waiter, timer), return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Not awaited: a cancelled wait or sleep has nothing to report, and awaiting it here
        # could swallow a cancellation meant for the caller.
        waiter.cancel()
        timer.cancel()
