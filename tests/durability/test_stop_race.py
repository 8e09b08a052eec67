"""The STOP race through the running service: a STOP beats the queued text-back.

A real recorded missed call (``direct-voicemail-left.ami``, caller 2125550147) is replayed
through the in-repo AMI server into ``serve()``; a ``[[rules]]`` delay keeps its text queued
for a few seconds; a signed Twilio STOP from the caller arrives meanwhile. The queued text
must end ``cancelled`` and never reach the (fake) Twilio API; the opt-out confirmation is the
only text that number gets. A control run without the STOP shows the delayed text does go out.
A third case narrows the window: the STOP lands while the text is already claimed and waits
in the per-sender rate limiter.

The service runs on a :class:`~tests.fakeclock.FakeClock` started at the real now: the send
delay and the rate slot pass when the test moves time on, so the STOP always lands inside
its window and nothing waits the delay out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import frame_timestamp, read_trace
from asterisk_textback.ami.sim.workload import call_stream
from asterisk_textback.app.service import RunningService, serve
from asterisk_textback.config import settings_from_mapping
from asterisk_textback.store.schema import upgrade
from asterisk_textback.textback.handler import CallResult
from asterisk_textback.textback.loading import prepare
from tests.durability.support import (
    ACCOUNT_SID,
    AMI_SECRET,
    AMI_USER,
    PUBLIC_BASE_URL,
    SENDER,
    TOKEN,
    FakeTwilio,
    free_port,
    inbound_form,
    post_signed,
    query,
)
from tests.fakeclock import FakeClock

TRACE = Path(__file__).resolve().parents[1] / "fixtures" / "traces" / "direct-voicemail-left.ami"
CALLER = "+12125550147"
#: How long the text-back waits after the call ([[rules]] send_delay_seconds).
SEND_DELAY = 2.0
#: Texts per second per sender in the rate-limiter test: the second text waits 2 s.
SLOW_RATE = 0.5
#: The dispatcher's poll (``dispatch.poll_seconds``): time moves on in steps of this.
POLL = 0.1
#: Timers the service holds when it waits only for time: each of the two workers' poll
#: (or rate slot) and the outbox housekeeping.
PARKED = 3


def _settings(
    db_url: str, ami_port: int, web_port: int, twilio_url: str, *, rate: float = 1000.0
) -> dict[str, Any]:
    """The service's settings: every missed call texted ``SEND_DELAY`` s later via Twilio."""
    return {
        "pbx": {"name": "pbx-race", "port": ami_port, "username": AMI_USER, "secret": AMI_SECRET},
        "business": {"name": "Acme Plumbing"},
        "rules": [{"template": "missed_voicemail", "send_delay_seconds": SEND_DELAY}],
        "suppression": {"quiet_hours": False, "cooldown_hours": 0},
        "provider": {
            "name": "twilio",
            "default_sender": SENDER,
            "rate_per_second": rate,
            "twilio": {"account_sid": ACCOUNT_SID, "api_base_url": twilio_url},
        },
        "database": {"url": db_url},
        "dispatch": {"poll_seconds": POLL, "workers": PARKED - 1},
        "web": {"port": web_port, "webhooks": {"public_base_url": PUBLIC_BASE_URL}},
    }


def _fresh_calls(count: int, *, fresh_numbers: bool) -> list[bytes]:
    """The recorded call, re-stamped so that it ends now (its text is due SEND_DELAY later)."""
    frames = read_trace(TRACE)
    stamps = [ts for f in frames if (ts := frame_timestamp(f)) is not None]
    span = stamps[-1] - stamps[0]
    start = time.time() - span - 0.05
    return call_stream([frames], count, rate=1000.0, start_at=start, fresh_numbers=fresh_numbers)


@dataclass
class Seen:
    """What the driver observed while the service ran."""

    decided: list[CallResult] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    stop_status: int | None = None
    stop_lead: float | None = None
    stopped: str | None = None
    statuses_after_stop: list[tuple[str, str]] = field(default_factory=list)

    def on_decided(self, result: CallResult) -> None:
        """CallHandler hook: remember each decision."""
        self.decided.append(result)
        self.arrived.set()

    async def wait_decided(self, count: int) -> list[CallResult]:
        """Wait (at most 15 s) until ``count`` calls were decided."""
        async with asyncio.timeout(15):
            while len(self.decided) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.decided


#: The test's part while the service runs: ``drive(parts, seen, twilio, web_port, db)``.
Drive = Callable[[RunningService, Seen, FakeTwilio, int, Path], Awaitable[None]]


async def _pass(clock: FakeClock, seconds: float) -> None:
    """Let ``seconds`` of the service's time pass, poll by poll, it parked after each."""
    await clock.tick(seconds, step=POLL, sleepers=PARKED)


def _texts(db: Path, number: str) -> list[tuple[str, str]]:
    """``(kind, status)`` of every outbox row to ``number``, oldest first."""
    rows = query(db, "SELECT kind, status FROM messages WHERE to_e164 = ? ORDER BY id", (number,))
    return [(str(kind), str(status)) for kind, status in rows]


async def _wait_sent(twilio: FakeTwilio, count: int, seconds: float) -> None:
    """Wait (at most ``seconds``) until the fake Twilio accepted ``count`` texts."""
    async with asyncio.timeout(seconds):
        while len(twilio.sent) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def _run(
    tmp_path: Path,
    frames: Sequence[bytes],
    drive: Drive,
    clock: FakeClock,
    *,
    rate: float = 1000.0,
) -> tuple[Seen, FakeTwilio, Path]:
    """Run ``serve()`` with a local PBX and Twilio; ``drive(parts, seen, twilio, port, db)``."""
    db = tmp_path / "textback.db"
    url = f"sqlite+aiosqlite:///{db}"
    await upgrade(url)
    web_port = free_port()
    seen = Seen()
    async with FakeTwilio() as twilio, AmiServer({AMI_USER: AMI_SECRET}) as pbx:
        loaded = prepare(
            settings_from_mapping(_settings(url, pbx.port, web_port, twilio.url, rate=rate))
        )
        stop = asyncio.Event()

        async def on_ready(parts: RunningService) -> None:
            try:
                async with asyncio.timeout(10):
                    await parts.connection.wait_ready()
                await pbx.stream(frames)
                await drive(parts, seen, twilio, web_port, db)
            finally:
                stop.set()

        await serve(
            loaded,
            stop,
            environ={"TWILIO_AUTH_TOKEN": TOKEN},
            on_decided=seen.on_decided,
            on_ready=on_ready,
            clock=clock.time,
            sleep=clock.sleep,
        )
    return seen, twilio, db


@pytest.mark.parametrize("caller_stops", [True, False], ids=["stop", "control"])
async def test_stop_before_the_send_time_cancels_the_queued_text(
    tmp_path: Path, caller_stops: bool
) -> None:
    """STOP while the text-back is queued: cancelled, never sent; only the confirmation goes."""

    async def drive(
        parts: RunningService, seen: Seen, twilio: FakeTwilio, port: int, db: Path
    ) -> None:
        (result,) = await seen.wait_decided(1)
        assert result.queued, result.decision
        assert result.decision.to == CALLER
        send_at = result.decision.send_at
        assert send_at is not None
        if caller_stops:
            async with aiohttp.ClientSession() as http:
                seen.stop_lead = send_at - clock.time()
                seen.stop_status = await post_signed(http, port, inbound_form(CALLER, "STOP", 1))
            seen.statuses_after_stop = _texts(db, CALLER)
        # Well past the send time: the dispatcher (polling every 0.1 s) had every chance.
        await _pass(clock, max(0.0, send_at - clock.time()) + 1.0)
        await _wait_sent(twilio, 1, seconds=10)
        await _pass(clock, 1.0)  # room for a wrong second text to show up

    clock = FakeClock(time.time())
    seen, twilio, db = await _run(tmp_path, _fresh_calls(1, fresh_numbers=False), drive, clock)
    texts = _texts(db, CALLER)
    bodies = [s.body for s in twilio.sent if s.to == CALLER]
    print(f"\nSTOP {seen.stop_lead}s before the send time; outbox {texts}; sent {bodies}")
    if not caller_stops:
        assert texts == [("textback", "sent")]
        assert len(bodies) == 1
        assert "Acme Plumbing" in bodies[0]
        return
    assert seen.stop_status == 200
    assert seen.stop_lead is not None
    assert seen.stop_lead > 0.5, "the STOP must arrive while the text is still queued"
    assert seen.statuses_after_stop == [("textback", "cancelled"), ("optout_confirm", "queued")]
    assert texts == [("textback", "cancelled"), ("optout_confirm", "sent")]
    (error,) = query(db, "SELECT last_error FROM messages WHERE kind = 'textback'")
    assert error == ("opted out by text",)
    assert len(bodies) == 1
    assert "unsubscribed" in bodies[0]
    assert [s.to for s in twilio.sent] == [CALLER]
    assert query(db, "SELECT opted_out FROM contacts WHERE e164 = ?", (CALLER,)) == [(1,)]


async def test_stop_while_the_text_waits_in_the_rate_limiter_is_not_sent(
    tmp_path: Path,
) -> None:
    """Two texts due at once, 1 per 2 s: a STOP for the second while it waits stops it."""

    async def drive(
        parts: RunningService, seen: Seen, twilio: FakeTwilio, port: int, db: Path
    ) -> None:
        results = await seen.wait_decided(2)
        assert all(r.queued for r in results), [r.decision for r in results]
        # Both due now: the first goes at once, the second waits 2 s for its rate slot.
        await _pass(clock, SEND_DELAY)
        await _wait_sent(twilio, 1, seconds=10)
        numbers = {r.decision.to for r in results if r.decision.to is not None}
        (waiting,) = numbers - {twilio.sent[0].to}
        seen.stopped = waiting
        async with aiohttp.ClientSession() as http:
            seen.stop_status = await post_signed(http, port, inbound_form(waiting, "STOP", 2))
        seen.statuses_after_stop = _texts(db, waiting)
        # The limiter's slot has passed, and the next one, the confirmation's, too.
        await _pass(clock, 2.0 / SLOW_RATE + 1.0)
        await _wait_sent(twilio, 2, seconds=10)  # at least the confirmation
        await _pass(clock, 1.0)  # room for a wrong third text to show up

    clock = FakeClock(time.time())
    seen, twilio, db = await _run(
        tmp_path, _fresh_calls(2, fresh_numbers=True), drive, clock, rate=SLOW_RATE
    )
    waiting = seen.stopped
    assert waiting is not None
    texts = _texts(db, waiting)
    bodies = [s.body for s in twilio.sent if s.to == waiting]
    print(f"\nat the STOP's 200: {seen.statuses_after_stop}; outbox now {texts}; sent {bodies}")
    assert seen.stop_status == 200
    # The STOP came while the text-back was claimed by a worker but not yet handed to the
    # provider (waiting for its rate slot): the STOP's transaction cancels it there and then.
    assert seen.statuses_after_stop == [("textback", "cancelled"), ("optout_confirm", "queued")]
    assert query(db, "SELECT opted_out FROM contacts WHERE e164 = ?", (waiting,)) == [(1,)]
    assert texts == [("textback", "cancelled"), ("optout_confirm", "sent")]
    assert len(bodies) == 1
    assert "unsubscribed" in bodies[0]
