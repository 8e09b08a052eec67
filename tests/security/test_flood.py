"""A flood of calls that never hang up must not delay a real call's text.

Issue 13 #10: 100k calls that never hung up were evicted by the tracker (outcome
``unknown``), and the next real text waited 127 s behind 50k evicted-call writes. Evicted
calls now go to the recorder's bulk lane, written in large batches only while the live
lanes are idle. (``bench/flood.py`` measures the 100k case.)
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select

from asterisk_textback.calls.model import CallEnded, Outcome, Reason
from asterisk_textback.config import Settings
from asterisk_textback.store.models import Call
from asterisk_textback.textback.handler import CallHandler
from asterisk_textback.textback.loading import prepare
from tests.security.support import T0, Clock, Sessions, missed, settings

FLOOD = 5_000


def evicted(i: int) -> CallEnded:
    """A call the tracker gave up on (no hangup within its TTL, or over the open-call cap)."""
    call = missed(f"2125{i % 10_000:06d}", f"flood-{i}", now=T0 - 3600)
    return CallEnded(
        **{
            **{f: getattr(call, f) for f in call.__dataclass_fields__},
            "outcome": Outcome.UNKNOWN,
            "reason": Reason.EVICTED,
        }
    )


async def test_a_real_call_is_queued_within_a_second_of_a_flood(
    session_factory: Sessions,
) -> None:
    queued = asyncio.Event()
    config: Settings = settings()
    recorder = CallHandler(prepare(config), session_factory, on_queued=queued.set, clock=Clock())
    task = asyncio.create_task(recorder.run())
    try:
        for i in range(FLOOD):
            recorder.submit(evicted(i))
        await asyncio.sleep(0.2)  # the flood is being written
        started = time.perf_counter()
        recorder.submit(missed("3125550147", "real"))
        async with asyncio.timeout(10):
            await queued.wait()
        waited = time.perf_counter() - started
    finally:
        recorder.stop()
        await task
    print(f"real call queued {waited * 1000:.0f} ms after a {FLOOD}-call flood")
    assert waited < 1.0, f"the real call's text waited {waited:.2f} s"
    # Nothing is lost: every evicted call is stored too (outcome unknown, never texted).
    async with session_factory() as session:
        stored = await session.scalar(
            select(func.count()).select_from(Call).where(Call.outcome == Outcome.UNKNOWN)
        )
    assert stored == FLOOD
    assert recorder.backlog == 0
