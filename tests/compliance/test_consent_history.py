"""Every opt-out and opt-in is kept (``consent_events``), whoever made it, and exported in order.

Through the real paths on SQLite and PostgreSQL: ``optout add`` (the CLI's store call), texts
through the real :class:`~asterisk_textback.inbound.inbox.Inbox`, the CSV import, the provider's
delivery report; the export is ``consent export``'s own function.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.utc import utc
from asterisk_textback.cli.consent import run_export
from asterisk_textback.compliance.evidence import CSV_HEADER
from asterisk_textback.inbound import optout_csv
from asterisk_textback.inbound.inbox import Inbox
from asterisk_textback.sms.base import InboundSms
from asterisk_textback.store import contacts
from asterisk_textback.store.consent_events import WORDING_MAX, ConsentEvent
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.textback.loading import PreparedConfig
from tests.compliance.seed import config

Sessions = async_sessionmaker[AsyncSession]
NUMBER = "+12125550147"
OURS = "+15555550100"
T0 = 1_800_000_000.0  # 2027-01-15, a fixed clock for the texts


def _inbox(sessions: Sessions, loaded: PreparedConfig, clock: list[float]) -> Inbox:
    return Inbox(
        sessions,
        loaded.settings.consent,
        business_name=loaded.settings.business.name,
        clock=lambda: clock[0],
    )


async def _export(loaded: PreparedConfig, number: str, fmt: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert await run_export(loaded, number, fmt, out, err) == 0, err.getvalue()
    return out.getvalue()


async def _events(sessions: Sessions, number: str | None = None) -> list[ConsentEvent]:
    async with sessions() as session:
        query = select(ConsentEvent).order_by(ConsentEvent.at, ConsentEvent.id)
        if number is not None:
            query = query.where(ConsentEvent.e164 == number)
        return list((await session.scalars(query)).all())


def _changes(record: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return [
        (e["type"], e["source"], e["wording"])
        for e in record["events"]
        if e["type"] in ("opt_out", "opt_in")
    ]


async def test_cli_opt_out_then_start_then_stop_are_all_exported(
    session_factory: Sessions, db_url: str
) -> None:
    loaded = config(db_url)
    async with unit_of_work(session_factory) as db:  # asterisk-textback optout add
        await optout_csv.add(db, NUMBER, region="US", now=utc(T0))
    clock = [T0 + 60]
    inbox = _inbox(session_factory, loaded, clock)
    started = await inbox.receive(InboundSms("webhook", "in-1", NUMBER, OURS, "START"))
    clock[0] += 60
    stopped = await inbox.receive(
        InboundSms("webhook", "in-2", NUMBER, OURS, "Stop texting me, please")
    )
    assert started.consent_changed
    assert stopped.consent_changed

    record = json.loads(await _export(loaded, NUMBER, "json"))
    assert _changes(record) == [
        ("opt_out", "cli", None),
        ("opt_in", "sms:START", "START"),
        ("opt_out", "sms:stop texting", "Stop texting me, please"),
    ]
    changes = [e for e in record["events"] if e["type"] in ("opt_out", "opt_in")]
    assert [c["inbound_id"] for c in changes] == [None, started.inbound.id, stopped.inbound.id]
    assert [datetime.fromisoformat(c["at"]).timestamp() for c in changes] == [
        T0,
        T0 + 60,
        T0 + 120,
    ]
    # The texts that made a change are listed once, as the change (no "text received").
    assert not [e for e in record["events"] if e["type"] == "text_received"]
    assert (record["opted_out"], record["consent_source"]) == (True, "sms:stop texting")

    rows = list(csv.reader(io.StringIO(await _export(loaded, NUMBER, "csv"))))
    body = [dict(zip(CSV_HEADER, r, strict=True)) for r in rows[1:]]
    consent = [
        (r["event"], r["source"], r["text"]) for r in body if r["event"] in ("opt out", "opt in")
    ]
    assert consent == [
        ("opt out", "command line (asterisk-textback optout)", ""),
        ("opt in", "text message (START)", "START"),
        ("opt out", "text message (stop texting)", "Stop texting me, please"),
    ]


async def test_a_second_stop_changes_nothing_and_is_listed_as_a_text(
    session_factory: Sessions, db_url: str
) -> None:
    loaded = config(db_url)
    clock = [T0]
    inbox = _inbox(session_factory, loaded, clock)
    first = await inbox.receive(InboundSms("webhook", "in-1", NUMBER, OURS, "STOP"))
    clock[0] += 30
    again = await inbox.receive(InboundSms("webhook", "in-2", NUMBER, OURS, "stop"))
    assert first.consent_changed
    assert not again.consent_changed
    assert [(e.kind, e.inbound_message_id) for e in await _events(session_factory)] == [
        ("opt_out", first.inbound.id)
    ]
    record = json.loads(await _export(loaded, NUMBER, "json"))
    kinds = [(e["type"], e.get("inbound_id")) for e in record["events"] if e["type"] != "text_sent"]
    assert kinds == [("opt_out", first.inbound.id), ("text_received", again.inbound.id)]
    rows = list(csv.reader(io.StringIO(await _export(loaded, NUMBER, "csv"))))
    assert [r[3] for r in rows[1:] if r[2] == "text received"] == ["STOP text, no change recorded"]


async def test_the_words_are_bounded(session_factory: Sessions) -> None:
    long = "please stop " + "x" * (WORDING_MAX + 500)
    async with unit_of_work(session_factory) as db:
        changed = await contacts.opt_out(db, NUMBER, now=utc(T0), source="sms:stop", wording=long)
    assert changed
    (event,) = await _events(session_factory)
    assert event.wording == long[:WORDING_MAX]


async def test_the_csv_import_and_the_provider_write_one_event_per_change(
    session_factory: Sessions, db_url: str
) -> None:
    loaded = config(db_url)
    inbox = _inbox(session_factory, loaded, [T0])
    await inbox.receive(InboundSms("webhook", "in-1", NUMBER, OURS, "STOP"))
    src = io.StringIO(
        "e164,opted_out_at,source\n"
        f"{NUMBER},2026-01-01T00:00:00Z,old list\n"  # already opted out: unchanged
        "+13105550177,2026-03-04T05:06:07Z,\n"
        "(646) 555-0123,,crm export\n"
    )
    now = utc(T0 + 600)
    async with unit_of_work(session_factory) as db:
        report = await optout_csv.import_csv(db, src, region="US", now=now)
        # The provider reports a number opted out at the carrier (the dispatcher's path).
        assert await contacts.opt_out(db, "+14155550199", now=now, source="provider")
        assert not await contacts.opt_out(db, "+13105550177", now=now, source="provider")
    assert (report.added, report.unchanged, report.errors) == (2, 1, [])
    got = [(e.e164, e.kind, e.at, e.source, e.wording) for e in await _events(session_factory)]
    assert got == [
        ("+13105550177", "opt_out", datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), "import", None),
        (NUMBER, "opt_out", utc(T0), "sms:STOP", "STOP"),
        ("+16465550123", "opt_out", now, "crm export", None),
        ("+14155550199", "opt_out", now, "provider", None),
    ]
    record = json.loads(await _export(loaded, "+13105550177", "json"))
    assert _changes(record) == [("opt_out", "import", None)]


async def test_stops_at_the_same_moment_write_one_event(
    session_factory: Sessions, db_url: str
) -> None:
    """Five STOPs of one number in the same millisecond, each in its own transaction."""
    loaded = config(db_url)
    inbox = _inbox(session_factory, loaded, [T0])  # the same clock reading for all
    stored = await asyncio.gather(
        *(inbox.receive(InboundSms("webhook", f"in-{i}", NUMBER, OURS, "STOP")) for i in range(5))
    )
    changed = [s for s in stored if s.consent_changed]
    assert len(changed) == 1  # one opt-out, one confirmation
    assert len({s.inbound.id for s in stored}) == 5  # every text kept
    (event,) = await _events(session_factory)
    assert (event.kind, event.at, event.inbound_message_id) == (
        "opt_out",
        utc(T0),
        changed[0].inbound.id,
    )
    # And back in and out again at that same moment: the order they were written.
    await inbox.receive(InboundSms("webhook", "in-start", NUMBER, OURS, "START"))
    await inbox.receive(InboundSms("webhook", "in-stop", NUMBER, OURS, "STOP"))
    events = await _events(session_factory)
    assert [e.kind for e in events] == ["opt_out", "opt_in", "opt_out"]
    record = json.loads(await _export(loaded, NUMBER, "json"))
    assert [c[0] for c in _changes(record)] == ["opt_out", "opt_in", "opt_out"]
    assert sum(e["type"] == "text_received" for e in record["events"]) == 4


async def test_an_opt_in_of_a_number_not_opted_out_changes_nothing(
    session_factory: Sessions,
) -> None:
    now = utc(T0)
    async with unit_of_work(session_factory) as db:
        assert not await contacts.opt_in(db, NUMBER, now=now, source="cli")
        assert await contacts.opt_out(db, NUMBER, now=now, source="cli")
        assert not await contacts.opt_out(db, NUMBER, now=now + timedelta(1), source="cli")
        assert await contacts.opt_in(db, NUMBER, now=now + timedelta(2), source="cli")
    assert [e.kind for e in await _events(session_factory)] == ["opt_out", "opt_in"]
