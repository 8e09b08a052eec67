"""Migrations from an empty database, and the startup check that refuses an old schema."""

from __future__ import annotations

import io
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from asterisk_textback.errors import TextbackError
from asterisk_textback.store.engine import create_engine
from asterisk_textback.store.models import Base
from asterisk_textback.store.schema import (
    SchemaOutdatedError,
    SchemaTooNewError,
    alembic_config,
    check_schema,
    current_revision,
    downgrade,
    head_revision,
    stamp,
    upgrade,
)


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_upgrade_from_empty_matches_the_models(empty_url: str) -> None:
    await upgrade(empty_url)
    await upgrade(empty_url)  # a second run is a no-op
    engine = create_engine(empty_url)
    try:
        assert await current_revision(engine) == head_revision()
        await check_schema(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
            assert {"calls", "messages", "contacts", "experiments"} <= await connection.run_sync(
                _tables
            )
    finally:
        await engine.dispose()


async def test_check_schema_refuses_an_empty_database(empty_url: str) -> None:
    engine = create_engine(empty_url)
    try:
        with pytest.raises(SchemaOutdatedError) as caught:
            await check_schema(engine)
    finally:
        await engine.dispose()
    assert isinstance(caught.value, TextbackError)
    assert str(caught.value) == (
        f"database schema is at revision <none> (empty database), this version needs "
        f"{head_revision()}: run `asterisk-textback db upgrade`"
    )


@pytest.mark.parametrize("how", ["downgrade", "stamp"])
async def test_check_schema_refuses_an_old_schema(empty_url: str, how: str) -> None:
    await upgrade(empty_url)
    await (downgrade if how == "downgrade" else stamp)(empty_url, "base")
    engine = create_engine(empty_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(_tables)
        assert ("messages" in tables) is (how == "stamp")
        with pytest.raises(SchemaOutdatedError, match="run `asterisk-textback db upgrade`"):
            await check_schema(engine)
    finally:
        await engine.dispose()
    if how == "downgrade":
        await upgrade(empty_url)  # and back up again


async def test_check_schema_refuses_a_newer_schema(empty_url: str) -> None:
    await upgrade(empty_url)
    engine = create_engine(empty_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(SchemaTooNewError, match="revision 9999, which this version"):
            await check_schema(engine)
    finally:
        await engine.dispose()


def test_plain_alembic_commands_work_with_a_url(empty_url: str) -> None:
    # The env.py path without a handed-over connection: it makes its own async engine.
    command.upgrade(alembic_config(empty_url), "head")
    command.downgrade(alembic_config(empty_url), "base")


def test_offline_mode_renders_sql() -> None:
    config = alembic_config("postgresql+asyncpg://u@h/db")
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    script = config.output_buffer.getvalue()
    assert "CREATE TABLE messages" in script
    assert "CREATE INDEX ix_messages_status_next_attempt_at" in script
