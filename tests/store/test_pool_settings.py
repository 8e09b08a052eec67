"""``[database] pool_size`` and ``max_overflow`` size the PostgreSQL pool (one per host)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from asterisk_textback.store.engine import create_engine
from asterisk_textback.store.settings import DatabaseSettings

PG = "postgresql+asyncpg://postgres@127.0.0.1/test"


async def test_the_pool_is_sized_as_configured() -> None:
    engine = create_engine(PG, pool_size=3, max_overflow=2)
    try:
        pool = engine.sync_engine.pool
        assert pool.size() == 3  # type: ignore[attr-defined]
        assert pool._max_overflow == 2  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_defaults_are_sqlalchemys() -> None:
    engine = create_engine(PG)
    try:
        assert engine.sync_engine.pool.size() == 5  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


def test_settings_defaults_and_bounds() -> None:
    db = DatabaseSettings()
    assert (db.pool_size, db.max_overflow) == (10, 10)
    with pytest.raises(ValidationError, match="pool_size"):
        DatabaseSettings(pool_size=0)
    with pytest.raises(ValidationError, match="max_overflow"):
        DatabaseSettings(max_overflow=-1)
