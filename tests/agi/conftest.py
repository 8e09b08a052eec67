"""Fixtures for the FastAGI tests: real databases (SQLite and PostgreSQL), a running server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from asterisk_textback.agi.server import AgiServer
from asterisk_textback.agi.settings import AgiSettings
from asterisk_textback.agi.texter import AgiTexter
from asterisk_textback.textback.loading import prepare
from tests.agi.support import NOW, Harness, Sessions, StartAgi, textback_settings
from tests.dbfixtures import (  # noqa: F401 - fixtures are found by name
    backend,
    db_url,
    engine,
    pg_migrated,
    pg_server,
    session,
    session_factory,
    sqlite_migrated,
)


@pytest.fixture
async def start_agi(session_factory: Sessions) -> AsyncIterator[StartAgi]:  # noqa: F811
    """Start an AgiServer (``[suppression]`` values as keywords); stopped afterwards."""
    servers: list[AgiServer] = []

    async def start(**suppression: Any) -> Harness:
        woken: list[int] = []
        texter = AgiTexter(
            prepare(textback_settings(**suppression)),
            session_factory,
            on_queued=lambda: woken.append(1),
            clock=lambda: NOW,
        )
        server = AgiServer(AgiSettings(enabled=True, port=0, timeout_seconds=2), texter)
        await server.start()
        servers.append(server)
        return Harness(server, session_factory, woken)

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def agi(start_agi: StartAgi) -> Harness:
    """An AgiServer with the default policy settings."""
    return await start_agi()
