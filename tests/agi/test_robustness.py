"""What Asterisk or our own code can do wrong does not escape into panoramisk."""

from __future__ import annotations

import asyncio
from typing import Any

from asterisk_textback.agi.server import AgiServer
from asterisk_textback.agi.settings import AgiSettings
from asterisk_textback.agi.texter import AgiTexter
from asterisk_textback.textback.loading import prepare
from tests.agi.support import NOW, Harness, Sessions, environment, textback_settings


async def test_asterisk_refusing_the_command_still_closes_cleanly(agi: Harness) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", agi.server.port)
    writer.write(environment())
    async with asyncio.timeout(5):
        assert await reader.readline() == b'SET VARIABLE TEXTBACK_STATUS "queued"\n'
        writer.write(b"100 result=0 Trying...\n511 Command Not Permitted on a dead channel\n")
        assert await reader.read() == b""
    writer.close()
    await writer.wait_closed()
    assert len(await agi.messages()) == 1


def _explode() -> Any:
    raise RuntimeError("database exploded")


#: Stands in for a session factory whose database is gone.
_BROKEN_SESSIONS: Any = _explode


async def test_a_failing_database_is_an_error_status(session_factory: Sessions) -> None:
    texter = AgiTexter(prepare(textback_settings()), _BROKEN_SESSIONS, on_queued=lambda: None)
    server = AgiServer(AgiSettings(port=0), texter)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(environment())
        async with asyncio.timeout(5):
            assert await reader.readline() == b'SET VARIABLE TEXTBACK_STATUS "error"\n'
            writer.write(b"200 result=1\n")
            assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
    finally:
        await server.stop()
    assert server.stats.errors == 1


async def test_a_failing_wake_up_does_not_unqueue_the_text(session_factory: Sessions) -> None:
    def wake() -> None:
        raise RuntimeError("dispatcher gone")

    texter = AgiTexter(
        prepare(textback_settings()), session_factory, on_queued=wake, clock=lambda: NOW
    )
    server = AgiServer(AgiSettings(port=0), texter)
    await server.start()
    try:
        harness = Harness(server, session_factory, [])
        seen = await harness.call(environment())
    finally:
        await server.stop()
    assert seen.commands == ['SET VARIABLE TEXTBACK_STATUS "queued"']
    assert len(await harness.messages()) == 1


async def test_stop_waits_for_a_session_in_progress(agi: Harness) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", agi.server.port)
    writer.write(environment())
    async with asyncio.timeout(5):
        command = await reader.readline()
        stopping = asyncio.create_task(agi.server.stop())
        await asyncio.sleep(0.05)
        assert not stopping.done()  # still waiting for Asterisk's answer
        writer.write(b"200 result=1\n")
        assert await reader.read() == b""
        await stopping
    writer.close()
    await writer.wait_closed()
    assert command == b'SET VARIABLE TEXTBACK_STATUS "queued"\n'
