"""Alembic environment: run migrations on a connection from asterisk_textback.store.schema.

Programmatic runs (``asterisk-textback db upgrade``) hand over a connection in
``config.attributes["connection"]``; a bare ``alembic`` invocation with ``sqlalchemy.url``
set gets an async engine of its own, and ``--sql`` renders an offline script.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from asterisk_textback.store.engine import create_engine
from asterisk_textback.store.models import Base

TARGET_METADATA = Base.metadata


def _run_on(connection: Connection) -> None:
    # Batch mode lets ALTERs that SQLite lacks be emulated by copy-and-move.
    context.configure(
        connection=connection,
        target_metadata=TARGET_METADATA,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run_on)
    finally:
        await engine.dispose()


def _main() -> None:
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=TARGET_METADATA, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run_on(connection)
    elif url:
        asyncio.run(_run_async(url))
    else:
        raise RuntimeError("no connection and no sqlalchemy.url given to the migrations")


_main()
