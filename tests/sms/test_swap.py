"""SwappableProvider: the next text uses the new provider; the old one closes when idle."""

from __future__ import annotations

import asyncio

from asterisk_textback.sms.base import OutboundSms, SendResult
from asterisk_textback.sms.swap import SwappableProvider


class GatedProvider:
    """A stand-in vendor whose requests wait until the test lets them through."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.gate = asyncio.Event()
        self.started: list[int] = []
        self.closed_with_in_flight: int | None = None
        self._in_flight = 0

    async def send(self, sms: OutboundSms) -> SendResult:
        self.started.append(sms.message_id)
        self._in_flight += 1
        try:
            await self.gate.wait()
        finally:
            self._in_flight -= 1
        return SendResult(self.name, f"{self.name}-{sms.message_id}")

    async def close(self) -> None:
        self.closed_with_in_flight = self._in_flight


def _sms(n: int) -> OutboundSms:
    return OutboundSms(n, f"k{n}", "+12125550100", "+15555550100", "hi")


async def test_old_provider_finishes_its_request_before_it_is_closed() -> None:
    old, new = GatedProvider("old"), GatedProvider("new")
    new.gate.set()
    swap = SwappableProvider(old)
    first = asyncio.create_task(swap.send(_sms(1)))
    await asyncio.sleep(0)
    assert swap.swap(new) is old
    assert swap.name == "new"
    assert (await swap.send(_sms(2))).provider == "new"
    retiring = asyncio.create_task(swap.retire(old))
    await asyncio.sleep(0.01)
    assert not retiring.done()  # request 1 is still in the old provider's hands
    assert old.closed_with_in_flight is None
    old.gate.set()
    assert (await first).provider == "old"
    await retiring
    assert old.closed_with_in_flight == 0
    assert (old.started, new.started) == ([1], [2])
    assert swap.in_flight(old) == 0


async def test_an_idle_provider_is_closed_at_once() -> None:
    old = GatedProvider("old")
    swap = SwappableProvider(old)
    swap.swap(GatedProvider("new"))
    async with asyncio.timeout(1):
        await swap.retire(old)
    assert old.closed_with_in_flight == 0
