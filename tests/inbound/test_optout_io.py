"""The opt-out list as CSV: add, remove, list, import (with bad rows), export round trip."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.inbound import optout_csv as optout_io
from asterisk_textback.store import contacts
from tests.inbound.helpers import T0

CSV = """e164,opted_out_at,source
+12125550147,2026-01-02T03:04:05+00:00,sms:STOP
(212) 555-0148,,
not a number,,
+12125550149,yesterday,
212-555-0150,2026-02-01T00:00:00,crm

+12125550147,,duplicate
"""


async def test_add_remove_list(session: AsyncSession) -> None:
    e164 = await optout_io.add(session, "(212) 555-0147", region="US", now=T0)
    assert e164 == "+12125550147"
    assert [e.e164 for e in await optout_io.list_opted_out(session)] == [e164]
    await optout_io.remove(session, "+1 212 555 0147", region="US", now=T0)
    assert await optout_io.list_opted_out(session) == []
    with pytest.raises(ValueError, match="not a valid phone number"):
        await optout_io.add(session, "12", region="US", now=T0)


async def test_import_reports_bad_lines_and_keeps_good_ones(session: AsyncSession) -> None:
    report = await optout_io.import_csv(session, io.StringIO(CSV), region="US", now=T0)
    assert report.added == 3
    assert [line for line, _ in report.errors] == [4, 5]
    assert not report.ok
    entries = {e.e164: e for e in await optout_io.list_opted_out(session)}
    assert sorted(entries) == ["+12125550147", "+12125550148", "+12125550150"]
    assert entries["+12125550147"].opted_out_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert entries["+12125550147"].source == "sms:STOP"
    assert entries["+12125550148"].opted_out_at == T0
    assert entries["+12125550148"].source == "import"
    assert entries["+12125550150"].source == "crm"


async def test_import_keeps_existing_opt_out(session: AsyncSession) -> None:
    await contacts.opt_out(session, "+12125550148", now=T0, source="sms:STOP")
    report = await optout_io.import_csv(
        session, io.StringIO("e164\n+12125550148\n"), region="US", now=T0.replace(year=2027)
    )
    assert (report.added, report.unchanged) == (0, 1)
    [entry] = await optout_io.list_opted_out(session)
    assert entry.opted_out_at == T0
    assert entry.source == "sms:STOP"


async def test_import_without_e164_header(session: AsyncSession) -> None:
    report = await optout_io.import_csv(
        session, io.StringIO("phone\n+12125550148\n"), region="US", now=T0
    )
    assert report.errors == [(1, "header must name an e164 column (e164,opted_out_at,source)")]
    assert report.added == 0


async def test_export_import_round_trip(session: AsyncSession) -> None:
    await optout_io.import_csv(session, io.StringIO(CSV), region="US", now=T0)
    first = io.StringIO()
    assert await optout_io.export_csv(session, first) == 3
    text = first.getvalue()
    assert text.splitlines()[0] == "e164,opted_out_at,source"
    for entry in await optout_io.list_opted_out(session):
        await optout_io.remove(session, entry.e164, region="US", now=T0)
    report = await optout_io.import_csv(session, io.StringIO(text), region="GB", now=T0)
    assert report.ok
    assert report.added == 3
    second = io.StringIO()
    await optout_io.export_csv(session, second)
    assert second.getvalue() == text
