"""Engine set-up: SQLite pragmas, UTC timestamps, foreign keys, supported URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.errors import ConfigError
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store.engine import create_engine
from asterisk_textback.store.models import Contact, Message


async def test_sqlite_pragmas_are_set_on_every_connection(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}", busy_timeout_ms=1234)
    try:
        async with engine.connect() as connection:
            pragma = {
                name: (await connection.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            }
    finally:
        await engine.dispose()
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 1,
        "busy_timeout": 1234,
        "foreign_keys": 1,
    }


def test_unsupported_driver_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"database.url: driver 'mysql\+pymysql'"):
        create_engine("mysql+pymysql://u@h/db")


async def test_timestamps_come_back_as_aware_utc(session: AsyncSession) -> None:
    paris = timezone(timedelta(hours=1))
    at = datetime(2026, 3, 2, 16, 30, 0, 123456, tzinfo=paris)
    session.add(
        Contact(e164="+33612345678", opted_out=True, opted_out_at=at, created_at=at, updated_at=at)
    )
    await session.commit()
    session.expunge_all()
    contact = await session.get(Contact, "+33612345678")
    assert contact is not None
    assert contact.opted_out_at == at
    assert contact.opted_out_at is not None
    assert contact.opted_out_at.tzinfo is UTC


async def test_naive_timestamps_are_refused(session: AsyncSession, now: datetime) -> None:
    naive = datetime(2026, 3, 2, 15, 0)
    session.add(Contact(e164="+12125550147", created_at=naive, updated_at=now))
    with pytest.raises(StatementError, match="naive datetime"):
        await session.commit()


async def test_foreign_keys_are_enforced(session: AsyncSession, now: datetime) -> None:
    session.add(
        Message(
            idempotency_key="x",
            call_id=999,
            kind="textback",
            to_e164="+12125550147",
            sender="+15550100",
            body="hi",
            segments=1,
            encoding="GSM-7",
            status=MessageStatus.QUEUED,
            send_at=now,
            next_attempt_at=now,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
    )
    with pytest.raises(IntegrityError):
        await session.commit()


async def test_sqlite_writers_queue_and_deferred_readers_do_not_block(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'l.db'}", busy_timeout_ms=50)
    reader = engine.execution_options(sqlite_begin="DEFERRED")
    try:
        async with reader.connect() as deferred:
            await deferred.execute(text("SELECT 1"))  # a read transaction stays open
            async with engine.begin() as writer:
                await writer.execute(text("CREATE TABLE t (x)"))
        async with engine.connect() as immediate:
            await immediate.execute(text("SELECT 1"))  # holds the write lock from BEGIN
            with pytest.raises(OperationalError, match="database is locked"):
                async with engine.begin() as writer:
                    await writer.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(ValueError, match="sqlite_begin must be"):
            async with engine.execution_options(sqlite_begin="EXCLUSIVE").connect() as bad:
                await bad.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
