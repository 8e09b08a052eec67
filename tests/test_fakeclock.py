"""The fake clock the timer tests rely on: sleepers wake at their deadline, never before."""

from __future__ import annotations

import asyncio

import pytest

from tests.fakeclock import FakeClock


async def test_a_sleep_ends_only_when_time_passes_its_deadline(fake_clock: FakeClock) -> None:
    woke: list[float] = []

    async def nap(seconds: float) -> None:
        await fake_clock.sleep(seconds)
        woke.append(fake_clock.time())

    began = fake_clock.now
    tasks = [asyncio.create_task(nap(s)) for s in (0.5, 0.2)]
    await fake_clock.parked(2)
    fake_clock.advance(0.19)
    await asyncio.sleep(0)
    assert woke == []
    fake_clock.advance(0.01)
    await asyncio.sleep(0)
    assert woke == [began + 0.2]
    assert fake_clock.next_deadline() == began + 0.5
    fake_clock.advance(1.0)
    await asyncio.gather(*tasks)
    assert woke == [began + 0.2, began + 1.2]
    assert fake_clock.slept == [0.5, 0.2]


async def test_autojump_moves_to_each_deadline_in_turn(fake_clock: FakeClock) -> None:
    began = fake_clock.now
    woke: list[float] = []

    async def ticks() -> None:
        for _ in range(3):
            await fake_clock.sleep(0.25)
            woke.append(fake_clock.time() - began)

    async with fake_clock.autojump(1):
        await asyncio.wait_for(ticks(), timeout=5)
    assert woke == [0.25, 0.5, 0.75]


async def test_a_cancelled_sleep_no_longer_counts(fake_clock: FakeClock) -> None:
    task = asyncio.create_task(fake_clock.sleep(1.0))
    await fake_clock.parked(1)
    assert fake_clock.sleeping == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fake_clock.sleeping == 0
    assert fake_clock.next_deadline() is None


def test_time_does_not_go_back(fake_clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="back"):
        fake_clock.advance(-1.0)
