"""The recorder on real databases: every call stored with its decision, one text at most."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason
from asterisk_textback.config import Settings
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.policy.settings import SuppressionSettings
from asterisk_textback.store.models import Call, Message
from asterisk_textback.textback.handler import CallHandler
from asterisk_textback.textback.loading import prepare
from tests.calls.helpers import read_events, run
from tests.conftest import trace_names

Sessions = async_sessionmaker[AsyncSession]


class Clock:
    """A settable clock: the recorder's ``now``."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _recorder(
    sessions: Sessions, clock: Clock, **suppression: object
) -> tuple[CallHandler, list[int]]:
    settings = Settings(
        suppression=SuppressionSettings.model_validate({"quiet_hours": None, **suppression})
    )
    woken: list[int] = []
    recorder = CallHandler(
        prepare(settings), sessions, on_queued=lambda: woken.append(1), clock=clock
    )
    return recorder, woken


def _trace_calls(traces_dir: Path) -> list[CallEnded]:
    """The recorded calls in the order they happened (as a live PBX would report them)."""
    calls = [c for name in trace_names() for c in run(read_events(traces_dir / name))]
    return sorted(calls, key=lambda c: c.ended_at)


async def _statuses(sessions: Sessions) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.execute(select(Message.status, func.count()).group_by(Message.status))
        return {str(status): n for status, n in rows}


async def test_every_real_call_is_recorded_with_its_decision(
    session_factory: Sessions, traces_dir: Path
) -> None:
    clock = Clock()
    recorder, woken = _recorder(session_factory, clock, cooldown_hours=0)
    decisions = {}
    for call in _trace_calls(traces_dir):
        clock.now = call.ended_at + 1
        result = await recorder.record(call)
        decisions[call.linkedid] = result
    async with session_factory() as session:
        stored = {c.linkedid: c for c in (await session.scalars(select(Call))).all()}
    assert len(stored) == len(decisions) == 15
    texted = {k for k, r in decisions.items() if r.queued}
    # Answered, internal and anonymous calls are stored but never texted.
    for linkedid, result in decisions.items():
        call = result.call
        if call.outcome is Outcome.ANSWERED:
            assert str(result.decision.reason) == "answered"
        if call.direction is Direction.INTERNAL:
            assert str(result.decision.reason) == "internal"
        if call.caller_number == "anonymous":
            assert str(result.decision.reason) == "anonymous"
        row = stored[linkedid]
        assert row.action == ("send" if linkedid in texted else "suppress")
        assert row.suppress_reason == (None if linkedid in texted else str(result.decision.reason))
    # The missed inbound calls from real numbers; each was texted before any later answer.
    assert len(texted) == 9
    # No dispatcher runs here, so four texts are still waiting when their caller is answered
    # on a later call (2125550147 twice, 4155550199, 2065550142): those are cancelled.
    assert await _statuses(session_factory) == {"queued": 5, "cancelled": 4}
    assert len(woken) == 9


async def test_recording_a_call_twice_never_queues_two_texts(
    session_factory: Sessions, traces_dir: Path
) -> None:
    (call,) = run(read_events(traces_dir / "direct-voicemail-left.ami"))
    clock = Clock(call.ended_at)
    recorder, _ = _recorder(session_factory, clock)
    first = await recorder.record(call)
    again = await recorder.record(call)
    assert first.queued
    assert not again.queued
    assert await _statuses(session_factory) == {"queued": 1}


async def test_answered_on_a_newer_call_cancels_the_waiting_text(
    session_factory: Sessions, traces_dir: Path
) -> None:
    (missed,) = run(read_events(traces_dir / "direct-voicemail-left.ami"))
    (answered,) = run(read_events(traces_dir / "direct-answered.ami"))
    assert missed.caller_number == answered.caller_number
    clock = Clock(missed.ended_at)
    recorder, _ = _recorder(session_factory, clock, send_delay_seconds=300)
    assert (await recorder.record(missed)).queued
    later = replace(answered, started_at=missed.ended_at + 30, ended_at=missed.ended_at + 60)
    clock.now = later.ended_at
    await recorder.record(later)
    assert await _statuses(session_factory) == {"cancelled": 1}


async def test_an_extension_calling_back_cancels_the_waiting_text(
    session_factory: Sessions, traces_dir: Path
) -> None:
    (missed,) = run(read_events(traces_dir / "direct-voicemail-left.ami"))
    (internal,) = run(read_events(traces_dir / "internal-call-unanswered.ami"))
    clock = Clock(missed.ended_at)
    recorder, _ = _recorder(session_factory, clock, send_delay_seconds=300)
    await recorder.record(missed)
    call_back = replace(
        internal,
        linkedid="callback-1",
        direction=Direction.OUTBOUND,
        dialed_number="2125550147",
        started_at=missed.ended_at + 10,
        ended_at=missed.ended_at + 20,
    )
    clock.now = call_back.ended_at
    result = await recorder.record(call_back)
    assert str(result.decision.reason) == "outbound"
    assert await _statuses(session_factory) == {"cancelled": 1}


async def test_a_newer_missed_call_keeps_its_own_text(
    session_factory: Sessions, traces_dir: Path
) -> None:
    (missed,) = run(read_events(traces_dir / "direct-voicemail-left.ami"))
    clock = Clock(missed.ended_at)
    recorder, _ = _recorder(session_factory, clock, cooldown_hours=0, daily_cap=5)
    await recorder.record(missed)
    second = replace(
        missed, linkedid="second", reason=Reason.NO_ANSWER, ended_at=missed.ended_at + 120
    )
    clock.now = second.ended_at
    assert (await recorder.record(second)).queued
    assert await _statuses(session_factory) == {str(MessageStatus.QUEUED): 2}


async def test_stale_calls_expire_instead_of_texting(
    session_factory: Sessions, traces_dir: Path
) -> None:
    (missed,) = run(read_events(traces_dir / "direct-voicemail-left.ami"))
    recorder, woken = _recorder(session_factory, Clock(missed.ended_at + 3 * 3600))
    result = await recorder.record(missed)
    assert str(result.decision.reason) == "expired"
    assert woken == []


async def test_a_call_answered_after_the_missed_one_was_already_handled(
    session_factory: Sessions, traces_dir: Path
) -> None:
    """Recorded out of order, the older missed call is found already handled."""
    (missed,) = run(read_events(traces_dir / "direct-voicemail-left.ami"))
    (answered,) = run(read_events(traces_dir / "direct-answered.ami"))
    assert answered.ended_at > missed.ended_at
    clock = Clock(answered.ended_at + 1)
    recorder, _ = _recorder(session_factory, clock)
    await recorder.record(answered)
    result = await recorder.record(missed)
    assert str(result.decision.reason) == "already_handled"


async def test_group_commit_keeps_per_number_order(
    session_factory: Sessions, traces_dir: Path
) -> None:
    """Calls waiting together are committed together, yet a number's calls stay in order."""
    (missed,) = run(read_events(traces_dir / "direct-voicemail-left.ami"))
    (answered,) = run(read_events(traces_dir / "direct-answered.ami"))
    clock = Clock(missed.ended_at + 200)
    recorder, woken = _recorder(session_factory, clock, send_delay_seconds=300, cooldown_hours=0)
    others = [
        replace(missed, linkedid=f"o{i}", caller_number=f"415555{1000 + i}") for i in range(30)
    ]
    later = replace(answered, started_at=missed.ended_at + 30, ended_at=missed.ended_at + 60)
    for call in (missed, *others, later):  # all waiting before the recorder starts
        recorder.submit(call)
    recorder.stop()
    await recorder.run()
    assert recorder.recorded == 32
    assert recorder.errors == 0
    # The 2125550147 text was queued, then cancelled by the later answered call.
    assert await _statuses(session_factory) == {"queued": 30, "cancelled": 1}
    assert len(woken) == 31
