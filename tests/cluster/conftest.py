"""Cluster fixtures: a throwaway PostgreSQL database per test (leases need PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from asterisk_textback.store.leases import ensure_tables
from tests.dbfixtures import PgServer, pg_server  # noqa: F401 - fixtures are found by name


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:  # noqa: F811
    """URL of an empty PostgreSQL database of its own, dropped afterwards."""
    name = pg_server.create()
    try:
        yield pg_server.url(name)
    finally:
        pg_server.drop(name)


@pytest.fixture
async def lease_engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine with room for many connections at once, on a database with the tables."""
    engine = create_async_engine(pg_url, pool_size=40, max_overflow=0)
    try:
        await ensure_tables(engine)
        yield engine
    finally:
        await engine.dispose()
