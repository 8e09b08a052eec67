"""An AMI blip in the middle of missed calls: every caller texted once, over real TCP.

One real trace is cloned once per event index (fresh ids, a distinct caller each). Copy
``k`` has its first ``k`` events sent before the connection is cut, so a single drop cuts
the missed call at every index at once; the service reconnects, CoreShowChannels shows the
channels still up, and the rest is sent. Two cases, as the issue asks: the dialplan hook
present (its UserEvent decides, no CDR configured), and the hook absent with ``cdr_csv``
(two events of each call are lost in the outage; the rows appear after the calls end).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import read_trace
from asterisk_textback.app.service import RunningService, serve
from asterisk_textback.config import settings_from_mapping
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.models import Call, Message
from asterisk_textback.store.schema import upgrade
from asterisk_textback.textback.loading import prepare
from tests.app.blip_support import Copy, cdr_row, copies

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MANIFEST = json.loads((FIXTURES / "traces" / "manifest.json").read_text())["traces"]
#: Ring groups: the case the live Asterisk showed (no voicemail, and a message left). The
#: FreePBX-style Local ring group (local-ringgroup-voicemail-left.ami, 218 cuts) passes too
#: but takes 7-15 s; every cut of it is covered without sockets in tests/calls/test_blip.py.
TRACES = ["ringgroup-novm-caller-hangup-ringing.ami", "ringgroup-voicemail-left.ami"]
MISSED = {"missed_voicemail", "missed_no_voicemail"}


async def _quiet(parts: RunningService, still: float = 0.3) -> None:
    """Wait until the tracker has taken no event for ``still`` seconds."""
    last = -1
    while parts.tracker.stats.events != last:
        last = parts.tracker.stats.events
        await asyncio.sleep(still)


def _ended_by(copy: Copy, upto: int) -> bool:
    return upto >= len(copy.frames)


async def _run(tmp_path: Path, trace: str, folder: str, lost: int, *, with_cdr: bool) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    await upgrade(url)
    frames = read_trace(FIXTURES / folder / trace)
    calls = copies(frames, len(frames) + 1, end_at=time.time())
    cdr = tmp_path / "Master.csv"
    pbx_section: dict[str, object] = {"reconnect_min": 0.05, "reconnect_max": 0.2}
    if with_cdr:
        pbx_section |= {"cdr_csv": str(cdr), "cdr_wait_seconds": 20}
    written: set[str] = set()

    def write_cdr(upto: int | None) -> None:
        """Asterisk writes a call's row when it ends (``upto`` events of copy k+upto sent)."""
        if not with_cdr:
            return
        with cdr.open("a") as f:
            for k, c in enumerate(calls):
                if c.linkedid not in written and (upto is None or _ended_by(c, k + upto)):
                    f.write(cdr_row(c, "NO ANSWER"))
                    written.add(c.linkedid)

    async with AmiServer({"tb": "pw"}) as pbx:
        settings = settings_from_mapping(
            {
                "pbx": {"port": pbx.port, "username": "tb", "secret": "pw", **pbx_section},
                "database": {"url": url},
                "web": {"enabled": False},
                "provider": {"rate_per_second": 10_000},
                "suppression": {
                    "quiet_hours": False,
                    "misdial_min_seconds": 0,
                    "global_rate_per_minute": 0,
                    "per_prefix_rate_per_minute": 0,
                },
            }
        )
        stop = asyncio.Event()

        async def drive(parts: RunningService) -> None:
            await parts.connection.wait_ready()
            await pbx.stream([f for k, c in enumerate(calls) for f in c.frames[:k]])
            await _quiet(parts)
            write_cdr(0)
            pbx.accept_connections = False
            pbx.drop_connections()
            # During the outage: ``lost`` events of every call happen unseen.
            await pbx.stream([f for k, c in enumerate(calls) for f in c.frames[k : k + lost]])
            write_cdr(lost)
            pbx.accept_connections = True
            async with asyncio.timeout(10):
                while parts.connection.stats.resyncs < 1:  # noqa: ASYNC110 - a counter
                    await asyncio.sleep(0.02)
            await _quiet(parts, 0.1)
            await pbx.stream([f for k, c in enumerate(calls) for f in c.frames[k + lost :]])
            await asyncio.sleep(0.3)  # the rows land after the calls ended: polled for
            write_cdr(None)
            async with asyncio.timeout(30):
                while parts.dispatcher.stats.sent < len(calls):  # noqa: ASYNC110 - a counter
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # a duplicate would show up now
            stop.set()

        parts = await serve(prepare(settings), stop, environ={}, on_ready=drive)
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            stored = (await session.scalars(select(Call))).all()
            texts = (await session.scalars(select(Message))).all()
    finally:
        await engine.dispose()
    assert parts.connection.stats.reconnects == 1
    assert parts.startup is not None
    (outages,) = (h["after_outages"] for h in parts.startup.health().values())
    assert (outages["unresolved"], outages["waiting"]) == (0, 0)
    if with_cdr:  # the cut calls the events could not decide came from their CDR rows
        assert outages["resolved"] > 0
        print(f"resolved from the CDR: {outages['resolved']} of {len(calls)} cut calls")
    assert sorted(c.linkedid for c in stored) == sorted(c.linkedid for c in calls)
    outcomes = Counter(c.outcome.value for c in stored)
    if with_cdr:  # the CDR cannot tell a left voicemail: either missed outcome
        assert set(outcomes) <= MISSED
    else:  # the hook's report tells exactly what the events would have
        assert outcomes == {MANIFEST[trace]["calls"][0]["outcome"]: len(calls)}
    per_number = Counter(t.to_e164 for t in texts)
    assert per_number == {f"+1{c.number}": 1 for c in calls}  # each once, none twice


@pytest.mark.parametrize("trace", TRACES)
async def test_hook_present_every_cut_texted_once(tmp_path: Path, trace: str) -> None:
    await _run(tmp_path, trace, "hooked", 0, with_cdr=False)


@pytest.mark.parametrize("trace", TRACES)
async def test_hook_absent_cdr_row_every_cut_texted_once(tmp_path: Path, trace: str) -> None:
    await _run(tmp_path, trace, "traces", 2, with_cdr=True)
