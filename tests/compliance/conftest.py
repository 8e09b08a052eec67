"""Database fixtures for the compliance tests (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.dbfixtures import (  # noqa: F401 - fixtures are found by name
    backend,
    db_url,
    engine,
    pg_migrated,
    pg_server,
    session_factory,
    sqlite_migrated,
)
