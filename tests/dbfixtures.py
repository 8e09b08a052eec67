"""Database fixtures shared by every test that needs a real database.

PostgreSQL is required, not optional: if the server cannot be reached the PostgreSQL half
of each test fails with a message saying so. ``TEXTBACK_TEST_PG_URL`` overrides the server
(default ``postgresql+asyncpg://postgres@127.0.0.1:5432``); each test session works in
throwaway ``textback_test_<random>`` databases and drops them at the end. Import the
fixtures into a ``conftest.py`` to use them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.schema import upgrade

PG_SERVER = os.environ.get("TEXTBACK_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
TABLES = (
    "crm_events, bookings, pending_delivery_reports, inbound_messages, messages, calls, "
    "call_hours, contacts, experiments, pbx_marks, consent_events"
)


class PgServer:
    """Creates and drops throwaway databases on the test PostgreSQL server."""

    def __init__(self, server_url: str) -> None:
        self.server = make_url(server_url)
        self.prefix = f"textback_test_{secrets.token_hex(4)}"
        self.count = 0

    def _dsn(self, database: str) -> str:
        return self.server.set(drivername="postgresql", database=database).render_as_string(
            hide_password=False
        )

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server."""
        return self.server.set(database=database).render_as_string(hide_password=False)

    async def execute(self, sql: str, database: str = "postgres") -> None:
        """Run one statement on ``database``."""
        connection = await asyncpg.connect(self._dsn(database), timeout=5)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    def create(self) -> str:
        """Create an empty database; its name."""
        self.count += 1
        name = f"{self.prefix}_{self.count}"
        asyncio.run(self.execute(f'CREATE DATABASE "{name}"'))
        return name

    def drop(self, name: str) -> None:
        """Drop a database made by :meth:`create`, even if connections linger."""
        asyncio.run(self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    """The PostgreSQL server; fails (never skips) the test when it is not reachable."""
    server = PgServer(PG_SERVER)
    try:
        asyncio.run(server.execute("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_SERVER} ({exc!r}); the storage tests need it: "
            "start the server or point TEXTBACK_TEST_PG_URL at one",
            pytrace=False,
        )
    return server


@pytest.fixture(scope="session")
def pg_migrated(pg_server: PgServer) -> Iterator[str]:
    """URL of a session-wide PostgreSQL database migrated to head."""
    name = pg_server.create()
    try:
        asyncio.run(upgrade(pg_server.url(name)))
        yield pg_server.url(name)
    finally:
        pg_server.drop(name)


@pytest.fixture(scope="session")
def sqlite_migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, copied afresh for each test."""
    path = tmp_path_factory.mktemp("template") / "textback.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test."""
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a migrated, empty database for this test."""
    if backend == "sqlite":
        path = tmp_path / "textback.db"
        shutil.copyfile(request.getfixturevalue("sqlite_migrated"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_migrated")
    server: PgServer = request.getfixturevalue("pg_server")
    name = make_url(url).database or ""
    asyncio.run(server.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE", name))
    return url


@pytest.fixture
def empty_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a database with no schema at all (for migration tests)."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    name = server.create()
    try:
        yield server.url(name)
    finally:
        server.drop(name)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test database, disposed afterwards."""
    engine = create_engine(db_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The production session factory on the test engine."""
    return create_session_factory(engine)


@pytest.fixture
async def session(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One session, closed afterwards."""
    async with session_factory() as session:
        yield session
