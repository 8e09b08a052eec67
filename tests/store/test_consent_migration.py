"""Migration 0010: its backfill keeps the one change ``contacts`` knows of each number, with the
words of the text that made it; its downgrade leaves ``calls`` and its triggers as they were
(on SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from asterisk_textback.calls.utc import utc
from asterisk_textback.inbound import optout_csv
from asterisk_textback.inbound.inbox import Inbox
from asterisk_textback.sms.base import InboundSms
from asterisk_textback.store import contacts
from asterisk_textback.store.consent_events import ConsentEvent
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.schema import downgrade, upgrade
from asterisk_textback.store.uow import unit_of_work
from tests.compliance.seed import config

OURS = "+15555550100"
T0 = 1_800_000_000.0


async def _seed(url: str, sessions: async_sessionmaker[AsyncSession]) -> None:
    """Six numbers, each through the real paths, some changed several times."""
    clock = [T0]
    loaded = config(url)
    inbox = Inbox(sessions, loaded.settings.consent, business_name="Acme", clock=lambda: clock[0])

    async def texted(number: str, body: str) -> None:
        clock[0] += 60
        await inbox.receive(InboundSms("webhook", f"{number}-{clock[0]}", number, OURS, body))

    async def cli(number: str, add: bool) -> None:
        clock[0] += 60
        change = optout_csv.add if add else optout_csv.remove
        async with unit_of_work(sessions) as db:
            await change(db, number, region="US", now=utc(clock[0]))

    await cli("+12125550101", add=True)
    await texted("+12125550101", "START")
    await texted("+12125550101", "Stop texting me")  # last: opt_out with these words
    await texted("+12125550102", "STOP")
    await texted("+12125550102", "START")  # last: opt_in with its words
    await cli("+12125550103", add=True)  # last: opt_out by the CLI, no words
    await texted("+12125550104", "STOP")  # last: this STOP, not the next one
    await texted("+12125550104", "stop")
    await texted("+12125550105", "STOP")
    await cli("+12125550105", add=False)  # last: opt_in by the CLI, no words
    async with unit_of_work(sessions) as db:
        src = io.StringIO("e164,opted_out_at,source\n+12125550106,2026-03-04T05:06:07Z,crm\n")
        await optout_csv.import_csv(db, src, region="US", now=utc(clock[0]))
        await contacts.opt_out(db, "+12125550107", now=utc(clock[0]), source="provider")


async def _events(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    async with create_session_factory(engine)() as session:
        rows = await session.scalars(select(ConsentEvent).order_by(ConsentEvent.id))
        return [
            (e.e164, e.kind, e.at, e.source, e.wording, e.inbound_message_id) for e in rows.all()
        ]


def _last_of_each(events: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    last = {e[0]: e for e in events}
    return sorted(last.values(), key=lambda e: (e[2], e[0]))


def _shape(connection: Connection) -> tuple[set[str], set[str], set[str]]:
    names = set(inspect(connection).get_table_names())
    columns = {c["name"] for c in inspect(connection).get_columns("calls")}
    if connection.dialect.name == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    else:
        sql = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    triggers = {str(r[0]) for r in connection.execute(text(sql))}
    return names, columns, triggers


async def test_backfill_keeps_the_last_change_of_each_number(empty_url: str) -> None:
    await upgrade(empty_url)
    engine = create_engine(empty_url)
    try:
        await _seed(empty_url, create_session_factory(engine))
        live = await _events(engine)
        assert len(live) == 11  # every change, none for the repeated STOP
        async with engine.connect() as connection:
            tables, calls, triggers = await connection.run_sync(_shape)
        assert {"consent_events"} <= tables
        assert "quiet_rule" in calls
        assert any(t.startswith("calls_hours") for t in triggers)

        await downgrade(empty_url, "0009")
        async with engine.connect() as connection:
            down_tables, down_calls, down_triggers = await connection.run_sync(_shape)
        assert down_tables == tables - {"consent_events"}
        assert down_calls == calls - {"quiet_rule"}
        assert down_triggers == triggers  # ``calls`` was not re-created

        await upgrade(empty_url)  # the backfill
        backfilled = await _events(engine)
    finally:
        await engine.dispose()
    expected = _last_of_each(live)
    assert [e[:5] for e in backfilled] == [e[:5] for e in expected]
    assert [e[5] for e in backfilled] == [e[5] for e in expected]
    words = {e[0]: (e[1], e[3], e[4]) for e in backfilled}
    assert words == {
        "+12125550101": ("opt_out", "sms:stop texting", "Stop texting me"),
        "+12125550102": ("opt_in", "sms:START", "START"),
        "+12125550103": ("opt_out", "cli", None),
        "+12125550104": ("opt_out", "sms:STOP", "STOP"),
        "+12125550105": ("opt_in", "cli", None),
        "+12125550106": ("opt_out", "crm", None),
        "+12125550107": ("opt_out", "provider", None),
    }
