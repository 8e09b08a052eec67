"""A provider that can be replaced while texts are being sent (``SIGHUP`` reload).

The dispatcher holds one :class:`SwappableProvider` for its whole life. Each text is sent
by the provider current when its request starts; after :meth:`SwappableProvider.swap` the
next text uses the new one, and :meth:`SwappableProvider.retire` closes the old one once
the requests it had in flight have finished.
"""

from __future__ import annotations

import asyncio

from asterisk_textback.sms.base import OutboundSms, Provider, SendResult


class SwappableProvider:
    """Sends through the current provider; swapping never interrupts a request in flight."""

    def __init__(self, provider: Provider) -> None:
        self._current = provider
        #: The current provider's name (for logs).
        self.name = provider.name
        # id(provider) -> requests it has in flight; an entry exists only while > 0.
        self._in_flight: dict[int, int] = {}
        self._idle: dict[int, asyncio.Event] = {}

    @property
    def current(self) -> Provider:
        """The provider the next text goes through."""
        return self._current

    async def send(self, sms: OutboundSms) -> SendResult:
        """Send through the provider current now (the one read before the request starts)."""
        provider = self._current
        key = id(provider)
        self._in_flight[key] = self._in_flight.get(key, 0) + 1
        try:
            return await provider.send(sms)
        finally:
            left = self._in_flight[key] - 1
            if left:
                self._in_flight[key] = left
            else:
                del self._in_flight[key]
                idle = self._idle.pop(key, None)
                if idle is not None:
                    idle.set()

    def swap(self, provider: Provider) -> Provider:
        """Make ``provider`` current (atomically: no await); return the one it replaces."""
        old, self._current = self._current, provider
        self.name = provider.name
        return old

    def in_flight(self, provider: Provider) -> int:
        """Requests ``provider`` has in flight."""
        return self._in_flight.get(id(provider), 0)

    async def retire(self, provider: Provider) -> None:
        """Wait for ``provider``'s requests in flight to finish, then close it."""
        if id(provider) in self._in_flight:
            idle = self._idle.setdefault(id(provider), asyncio.Event())
            await idle.wait()
        await provider.close()

    async def close(self) -> None:
        """Close the current provider (at shutdown, after the dispatcher stopped)."""
        await self._current.close()
