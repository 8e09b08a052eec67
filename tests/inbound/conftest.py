"""Fixtures for the inbound tests: real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.dbfixtures import (  # noqa: F401 - fixtures are found by name
    TABLES,
    PgServer,
    backend,
    empty_url,
    engine,
    pg_migrated,
    pg_server,
    session,
    session_factory,
    sqlite_migrated,
)

#: The shared fixture's tables plus those of migration 0002, emptied between tests.
ALL_TABLES = f"{TABLES}, inbound_messages, pending_delivery_reports"


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
