"""Fixtures for the CRM tests: real databases (with ``crm_events`` emptied) and a receiver."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.engine import make_url

from tests.dbfixtures import (  # noqa: F401 - fixtures are found by name
    TABLES,
    PgServer,
    backend,
    engine,
    pg_migrated,
    pg_server,
    session,
    session_factory,
    sqlite_migrated,
)

#: The shared fixture's tables plus those of migrations 0003 and 0004.
ALL_TABLES = f"{TABLES}, bookings, crm_events"


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:  # noqa: F811
    """URL of a migrated, empty database (like ``tests.dbfixtures.db_url``, more tables)."""
    if backend == "sqlite":
        path = tmp_path / "textback.db"
        shutil.copyfile(request.getfixturevalue("sqlite_migrated"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_migrated")
    server: PgServer = request.getfixturevalue("pg_server")
    name = make_url(url).database or ""
    asyncio.run(server.execute(f"TRUNCATE {ALL_TABLES} RESTART IDENTITY CASCADE", name))
    return url


@dataclass
class Receiver:
    """A CRM endpoint stand-in: records each post, answers the queued statuses (then 200)."""

    statuses: list[int] = field(default_factory=list)
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    got: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        """Record the post; answer the next queued status."""
        self.posts.append((dict(request.headers), await request.read()))
        self.got.set()
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    """A running receiver and its URL."""
    recv = Receiver()
    app = web.Application()
    app.router.add_post("/hook", recv.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield recv, str(server.make_url("/hook"))
    finally:
        await server.close()
