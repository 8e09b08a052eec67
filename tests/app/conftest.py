"""Fixtures for the pipeline tests: real databases (SQLite and PostgreSQL) and settings."""

from __future__ import annotations

from tests.dbfixtures import (  # noqa: F401 - fixtures are found by name
    backend,
    db_url,
    empty_url,
    engine,
    pg_migrated,
    pg_server,
    session,
    session_factory,
    sqlite_migrated,
)
