"""One service watching two PBXes: calls tagged by PBX, the same Linkedid kept apart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import read_trace
from asterisk_textback.ami.sim.workload import call_stream
from asterisk_textback.app.service import RunningService, serve
from asterisk_textback.config import settings_from_mapping
from asterisk_textback.errors import ConfigError
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.models import Call
from asterisk_textback.store.schema import upgrade
from asterisk_textback.textback.loading import prepare


async def test_two_pbxes_one_database(tmp_path: Path, traces_dir: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    await upgrade(url)
    trace = read_trace(traces_dir / "ringgroup-novm-caller-hangup-ringing.ami")
    # The same recorded call (same Linkedid) happens on both PBXes.
    frames = call_stream([trace], 1, rate=1, start_at=time.time() - 5, fresh_numbers=False)
    async with AmiServer({"tb": "a"}) as east, AmiServer({"tb": "b"}) as west:
        settings = settings_from_mapping(
            {
                "pbx": {"name": "east", "port": east.port, "username": "tb", "secret": "a"},
                "pbxes": [{"name": "west", "port": west.port, "username": "tb", "secret": "b"}],
                "database": {"url": url},
                "web": {"enabled": False},
            }
        )
        stop = asyncio.Event()

        async def drive(parts: RunningService) -> None:
            assert [p.name for p in parts.pbxes] == ["east", "west"]
            for link in parts.pbxes:
                await link.connection.wait_ready()
            await asyncio.gather(east.stream(frames), west.stream(frames))
            async with asyncio.timeout(5):
                while parts.recorder.recorded < 2:  # noqa: ASYNC110 - counter of the recorder
                    await asyncio.sleep(0.02)
            stop.set()

        await serve(prepare(settings), stop, environ={}, on_ready=drive)
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            rows = (await session.execute(select(Call.pbx, Call.linkedid))).all()
    finally:
        await engine.dispose()
    assert sorted(pbx for pbx, _ in rows) == ["east", "west"]
    assert len({linkedid for _, linkedid in rows}) == 1


def test_pbx_names_must_differ() -> None:
    with pytest.raises(ConfigError, match=r"pbxes\[0\]\.name"):
        settings_from_mapping({"pbx": {"name": "a"}, "pbxes": [{"name": "a"}]})
