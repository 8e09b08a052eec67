"""A call cut by a blip that nothing decided waits for its CDR/CEL row: bounded, once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from asterisk_textback.ami.settings import PbxSettings
from asterisk_textback.ami.sim.tracefile import read_trace
from asterisk_textback.calls.model import CallEnded, Outcome, Reason
from asterisk_textback.calls.settings import TrackerSettings
from asterisk_textback.calls.tracker import CallTracker
from asterisk_textback.textback.catchup import CdrCatchUp
from tests.app.blip_support import cdr_row, copies
from tests.calls.helpers import read_events

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TRACE = "ringgroup-novm-caller-hangup-ringing.ami"


class FakeTime:
    """A clock, and a sleep that advances it without waiting."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def _cut_unknown() -> CallEnded:
    """The real trace (no hook) cut while ringing, two events lost: the tracker's verdict."""
    events = read_events(FIXTURES / "traces" / TRACE)
    cut = next(i for i, e in enumerate(events) if e["Event"] == "DialBegin") + 1
    tracker = CallTracker(TrackerSettings(trunk_contexts=("from-trunk",)))
    for ev in events[:cut]:
        tracker.feed(ev, 0.0)
    alive = frozenset(e["Uniqueid"] for e in events[: cut + 2] if e["Event"] == "Newchannel")
    assert tracker.resync(alive, 0.0) == []
    (call,) = [c for ev in events[cut + 2 :] for c in tracker.feed(ev, 0.0)]
    return call


async def _settle(catchup: CdrCatchUp, done: list[CallEnded], want: int) -> None:
    async with asyncio.timeout(5):
        while len(done) < want or catchup.oldest_pending() is not None:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_cel_decides_the_cut_call_with_its_reason() -> None:
    lost = _cut_unknown()
    assert (lost.outcome, lost.reason) == (Outcome.UNKNOWN, Reason.CONNECTION_LOST)
    got: list[CallEnded] = []
    fake = FakeTime(lost.ended_at + 1)
    pbx = PbxSettings(cel_csv=str(FIXTURES / "cel" / "Master.csv"))
    catchup = CdrCatchUp(pbx, got.append, {}, clock=fake.clock, sleep=fake.sleep)
    catchup.submit(lost)
    await _settle(catchup, got, 1)
    (call,) = got
    assert (call.linkedid, call.outcome, call.reason) == (
        lost.linkedid,
        Outcome.MISSED_NO_VOICEMAIL,
        Reason.CALLER_HANGUP,
    )
    assert call.caller_number == "7135550111"
    assert catchup.stats.resolved == 1


async def test_the_row_written_late_is_waited_for(tmp_path: Path) -> None:
    (copy,) = copies(read_trace(FIXTURES / "traces" / TRACE), 1, end_at=1_796_000_000.0)
    lost = CallEnded(
        linkedid=copy.linkedid,
        direction=_cut_unknown().direction,
        outcome=Outcome.UNKNOWN,
        reason=Reason.CONNECTION_LOST,
        caller_number=copy.number,
        caller_name="",
        did="5550300",
        queue=None,
        mailbox=None,
        started_at=1_796_000_000.0 - 5,
        ended_at=1_796_000_000.0,
        ring_seconds=0,
    )
    cdr = tmp_path / "Master.csv"
    got: list[CallEnded] = []
    fake = FakeTime(1_796_000_001.0)

    async def pbx_writes_late(seconds: float) -> None:
        await fake.sleep(seconds)
        if len(fake.sleeps) == 3:  # batch mode: the row lands a few polls later
            cdr.write_text(cdr_row(copy, "NO ANSWER"))

    pbx = PbxSettings(cdr_csv=str(cdr), cdr_wait_seconds=60)
    catchup = CdrCatchUp(pbx, got.append, {}, clock=fake.clock, sleep=pbx_writes_late)
    catchup.submit(lost)
    await _settle(catchup, got, 1)
    (call,) = got
    assert (call.outcome, call.reason) == (Outcome.MISSED_NO_VOICEMAIL, Reason.NO_ANSWER)
    assert fake.sleeps == [0.5, 1.0, 2.0]  # backing off, not hammering the file


async def test_no_row_within_the_bound_stays_unknown_once(tmp_path: Path) -> None:
    lost = _cut_unknown()
    got: list[CallEnded] = []
    fake = FakeTime(lost.ended_at + 1)
    pbx = PbxSettings(cdr_csv=str(tmp_path / "Master.csv"), cdr_wait_seconds=30)
    catchup = CdrCatchUp(pbx, got.append, {}, clock=fake.clock, sleep=fake.sleep)
    catchup.submit(lost)
    catchup.submit(lost)  # the same call twice (a second resync): still one record
    await _settle(catchup, got, 1)
    await asyncio.sleep(0.05)
    assert got == [lost]
    assert 30 <= sum(fake.sleeps) <= 30 + 10  # bounded by cdr_wait_seconds
    assert catchup.stats.unresolved == 1


async def test_stopping_leaves_waiting_calls_for_the_next_start(tmp_path: Path) -> None:
    lost = _cut_unknown()
    got: list[CallEnded] = []
    pbx = PbxSettings(cdr_csv=str(tmp_path / "Master.csv"))
    blocked = asyncio.Event()

    async def never(_: float) -> None:
        await blocked.wait()

    catchup = CdrCatchUp(pbx, got.append, {}, sleep=never)
    catchup.submit(lost)
    await asyncio.sleep(0.05)
    await catchup.drain()
    assert got == []  # not recorded unknown: the start-up catch-up reads it next time
    assert catchup.oldest_pending() == lost.started_at  # so the saved mark stays before it


async def test_a_call_wholly_inside_the_outage_whose_row_comes_late(tmp_path: Path) -> None:
    """Batch mode: at the reconnect its row is not written yet; a later read finds it, once."""
    end = 1_796_000_000.0
    (copy,) = copies(read_trace(FIXTURES / "traces" / TRACE), 1, end_at=end)
    cdr = tmp_path / "Master.csv"
    got: list[CallEnded] = []
    fake = FakeTime(end + 2)

    async def pbx_writes_late(seconds: float) -> None:
        await fake.sleep(seconds)
        if len(fake.sleeps) == 2:
            cdr.write_text(cdr_row(copy, "NO ANSWER"))

    pbx = PbxSettings(cdr_csv=str(cdr), cdr_wait_seconds=60)
    catchup = CdrCatchUp(pbx, got.append, {}, clock=fake.clock, sleep=pbx_writes_late)
    assert await catchup.resolve([], end - 30, end + 1) == 0  # nothing there yet
    async with asyncio.timeout(5):
        while not got:  # noqa: ASYNC110 - the poller has no event to wait on
            await asyncio.sleep(0.01)
    await catchup.drain()
    (call,) = got
    assert (call.linkedid, call.outcome) == (copy.linkedid, Outcome.MISSED_NO_VOICEMAIL)
    assert catchup.stats.recovered == 1


async def test_a_window_never_hands_on_a_call_the_events_reported(tmp_path: Path) -> None:
    """The live report (hook facts, TEXTBACK=no…) wins over a CDR row read in a window."""
    end = 1_796_000_000.0
    (copy,) = copies(read_trace(FIXTURES / "traces" / TRACE), 1, end_at=end)
    cdr = tmp_path / "Master.csv"
    # The PBX clock runs 30 s behind: by the CDR, the call began before our start.
    cdr.write_text(cdr_row(copy, "NO ANSWER", began=end - 40))
    got: list[CallEnded] = []
    fake = FakeTime(end + 0.5)  # the first poll: the call just ended, its row is there
    first_poll_done = asyncio.Event()
    go_on = asyncio.Event()

    async def sleep(seconds: float) -> None:
        if not first_poll_done.is_set():
            first_poll_done.set()
            await go_on.wait()
        await fake.sleep(seconds)

    pbx = PbxSettings(cdr_csv=str(cdr))
    catchup = CdrCatchUp(pbx, got.append, {}, clock=fake.clock, sleep=sleep)
    catchup.watch_up_at(end - 10)  # started 10 s before the call ended
    async with asyncio.timeout(5):
        await first_poll_done.wait()
    reported = CallEnded(
        linkedid=copy.linkedid,
        direction=_cut_unknown().direction,
        outcome=Outcome.ANSWERED,
        reason=Reason.ANSWERED,
        caller_number=copy.number,
        caller_name="",
        did="5550300",
        queue=None,
        mailbox=None,
        started_at=end - 5,
        ended_at=end,
        ring_seconds=1,
        excluded=True,
    )
    catchup.submit(reported)  # the tracker's verdict arrives just after that read
    go_on.set()
    async with asyncio.timeout(5):
        while catchup.oldest_pending() is not None:  # noqa: ASYNC110 - until the window closes
            await asyncio.sleep(0.01)
    assert got == [reported]
