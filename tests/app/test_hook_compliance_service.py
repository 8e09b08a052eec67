"""The running service stores the hook's disclosure flag and caller ID verification.

Verified real traces (tests/fixtures/verified/) streamed by the in-repo AMI server to
``serve`` (listener, tracker, policy, recorder, SQLite outbox), then read back.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import func, select

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import read_trace
from asterisk_textback.ami.sim.workload import call_stream
from asterisk_textback.app.service import RunningService, serve
from asterisk_textback.config import settings_from_mapping
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.models import Call, Message
from asterisk_textback.store.schema import upgrade
from asterisk_textback.textback.loading import prepare

VERIFIED = Path(__file__).parents[1] / "fixtures" / "verified"
#: One trace per source recording: (file, verification, disclosure, texted)
CASES = (
    ("stir-failed.ami", "failed", False, False),
    ("verstat-passed.ami", "passed", False, True),
    ("disclosure-caller-hangup.ami", "none", True, True),
)


async def test_service_records_disclosure_and_verification(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    await upgrade(url)
    traces = [read_trace(VERIFIED / name) for name, *_ in CASES]
    frames = call_stream(
        traces, len(traces), rate=50, start_at=time.time() - 5, fresh_numbers=False
    )
    async with AmiServer({"tb": "pw"}) as pbx:
        settings = settings_from_mapping(
            {
                "pbx": {"port": pbx.port, "username": "tb", "secret": "pw"},
                "database": {"url": url},
                "web": {"enabled": False},
                "suppression": {"quiet_hours": None},
            }
        )
        stop = asyncio.Event()

        async def drive(parts: RunningService) -> None:
            for link in parts.pbxes:
                await link.connection.wait_ready()
            await pbx.stream(frames)
            async with asyncio.timeout(10):
                while parts.recorder.recorded < len(CASES):  # noqa: ASYNC110 - a counter
                    await asyncio.sleep(0.02)
            stop.set()

        await serve(prepare(settings), stop, environ={}, on_ready=drive)
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            rows = (
                await session.execute(
                    select(
                        Call.linkedid,
                        Call.caller_verification,
                        Call.disclosure_played,
                        Call.suppress_reason,
                        select(func.count(Message.id))
                        .where(Message.call_id == Call.id)
                        .scalar_subquery(),
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    got = sorted(tuple(row[1:]) for row in rows)
    expected = sorted(
        (verification, disclosed, None if texted else "caller_not_verified", int(texted))
        for _, verification, disclosed, texted in CASES
    )
    assert got == expected
