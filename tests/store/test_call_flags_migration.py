"""Migration 0007: its backfill gives the flags and hourly sums the triggers keep live, and it
downgrades and upgrades again without losing a row (on SQLite and PostgreSQL)."""

from __future__ import annotations

import importlib.util
import random
import re
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from asterisk_textback.store import migrations
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.hour_sums import NOT_SMS_CAPABLE
from asterisk_textback.store.models import Call, CallHour, Message
from asterisk_textback.store.schema import downgrade, upgrade
from tests.kpi.seeding import seed

FLAGS = (
    Call.id,
    Call.first_reply_at,
    Call.reply_chars,
    Call.opted_out_at,
    Call.booked_at,
    Call.texted_at,
    Call.response_seconds,
    Call.texts_sent,
    Call.texts_delivered,
    Call.segments_sent,
    Call.no_sms,
)


async def _snapshot(engine: AsyncEngine) -> tuple[list[Any], list[Any], int]:
    async with create_session_factory(engine)() as session:
        flags = (await session.execute(select(*FLAGS).order_by(Call.id))).all()
        hours = (
            await session.execute(select(CallHour).order_by(CallHour.hour, CallHour.did))
        ).scalars()
        sums = [(h.hour, h.did, h.calls, h.missed, h.capable, h.replied, h.stopped, h.texted,
                 h.delivered, h.segments, h.responded) for h in hours]  # fmt: skip
        linked = await session.scalar(
            select(text("count(*)")).select_from(Message).where(Message.experiment_id.is_not(None))
        )
    return [tuple(r) for r in flags], sums, int(linked or 0)


def _columns(connection: Connection, table: str) -> set[str]:
    return {c["name"] for c in inspect(connection).get_columns(table)}


async def test_backfill_equals_live_flags_and_round_trips(empty_url: str) -> None:
    await upgrade(empty_url)
    engine = create_engine(empty_url)
    try:
        async with create_session_factory(engine)() as session:
            await seed(session, random.Random(11), calls=200)
        live = await _snapshot(engine)
        assert sum(1 for row in live[0] if row[1] is not None) > 10  # replied calls
        assert sum(1 for row in live[0] if row[-1]) > 5  # numbers that cannot text
        assert live[2] > 10  # texts of an experiment

        await downgrade(empty_url, "0006")
        async with engine.connect() as connection:
            calls = await connection.run_sync(_columns, "calls")
            assert "texted_at" not in calls
            assert "assigned" in await connection.run_sync(_columns, "experiments")
            assert "call_hours" not in await connection.run_sync(
                lambda c: inspect(c).get_table_names()
            )

        await upgrade(empty_url)  # the backfill
        async with engine.connect() as connection:
            assert "assigned" not in await connection.run_sync(_columns, "experiments")
        assert await _snapshot(engine) == live
    finally:
        await engine.dispose()


def test_the_triggers_and_the_queries_agree_on_numbers_that_cannot_text() -> None:
    """The migration holds its own copy of ``NOT_SMS_CAPABLE``: it must be the same list."""
    path = Path(migrations.__file__).parent / "versions" / "0007_call_flags.py"
    spec = importlib.util.spec_from_file_location("migration_0007", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert set(re.findall(r"'(\w+)'", module._NOT_SMS_CAPABLE)) == set(NOT_SMS_CAPABLE)
