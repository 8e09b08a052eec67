"""``run_report``: KPIs from the database and history from CDR, as table, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import NullPool

from asterisk_textback.kpi.periods import parse_period
from asterisk_textback.kpi.report import VOICEMAIL_NOTE, ReportConfig, run_report, text_progress
from asterisk_textback.kpi.settings import KpiSettings
from tests.kpi.helpers import T0, add_booking, add_call, add_inbound, add_text

MASTER = Path(__file__).parents[1] / "fixtures" / "cdr" / "Master.csv"
CONFIG = ReportConfig(database_url=None, kpi=KpiSettings(average_order_value=100.0))
NOVEMBER = parse_period("2026-11", now=T0)


async def _report(config: ReportConfig, fmt: str, **kwargs: object) -> str:
    out = io.StringIO()
    args = {"period": None, "did": None, "cdr": None, "cdr_db_url": None, **kwargs}
    code = await run_report(config, fmt=fmt, out=out, **args)  # type: ignore[arg-type]
    assert code == 0
    return out.getvalue()


async def test_cdr_json() -> None:
    """Master.csv: 14 inbound, 11 missed; 11 x 25% x 100 = 275 left on the table."""
    data = json.loads(await _report(CONFIG, "json", cdr=MASTER))
    assert data["summary"]["inbound"] == 14
    assert data["summary"]["missed"] == 11
    assert data["summary"]["answered"] == 3
    assert data["calculator"]["point"]["revenue"] == pytest.approx(275.0)
    assert data["calculator"]["low"]["revenue"] == pytest.approx(220.0)
    assert data["notes"] == [VOICEMAIL_NOTE]


async def test_cdr_table_csv_and_progress() -> None:
    """The table says the voicemail caveat; the CSV parses; progress ends at 100%."""
    stream = io.StringIO()
    table = await _report(
        CONFIG, "table", cdr=MASTER, did="5550100", progress=text_progress(stream)
    )
    assert "Missed-call rate" in table
    assert "80.0%" in table
    assert "voicemail spool" in table
    assert stream.getvalue().endswith("100%\n")
    rows = list(csv.DictReader(io.StringIO(await _report(CONFIG, "csv", cdr=MASTER))))
    values = {r["key"]: r["value"] for r in rows if r["section"] == "cdr"}
    assert values["missed"] == "11"
    assert any(r["section"] == "note" for r in rows)


async def test_cdr_period_filter_and_database(tmp_path: Path) -> None:
    """A period outside the file is empty; a CDR database URL is read the same way."""
    data = json.loads(await _report(CONFIG, "json", cdr=MASTER, period=NOVEMBER))
    assert data["summary"]["inbound"] == 14
    data = json.loads(await _report(CONFIG, "json", cdr=MASTER, period=parse_period("2026-10", T0)))
    assert data["summary"]["inbound"] == 0
    assert data["summary"]["missed_rate"] is None
    url = f"sqlite:///{tmp_path / 'cdr.db'}"
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE cdr (calldate TEXT, clid TEXT, src TEXT, dst TEXT, dcontext TEXT, "
                "channel TEXT, dstchannel TEXT, lastapp TEXT, lastdata TEXT, duration INT, "
                "billsec INT, disposition TEXT, uniqueid TEXT)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO cdr VALUES ('2026-11-27 05:43:38', '', 'anonymous', '5550100', "
                "'from-trunk', 'PJSIP/trunk-1', 'PJSIP/1001-2', 'Dial', '', 3, 0, "
                "'NO ANSWER', '1.1')"
            )
        )
    engine.dispose()
    data = json.loads(await _report(CONFIG, "json", cdr_db_url=url))
    assert (data["summary"]["missed"], data["summary"]["missed_textable"]) == (1, 0)


async def test_kpi_report_from_the_database(db_url: str, session: AsyncSession) -> None:
    """KPIs and the calculator from the textback database, in every format."""
    call = add_call(session)
    await add_text(session, call, delay=0.4)
    add_inbound(session, call, "Can you come Tuesday to fix the boiler?")
    add_booking(session, call, 12000)
    add_call(session)
    await session.commit()
    config = ReportConfig(database_url=db_url, kpi=KpiSettings(currency="usd"))
    data = json.loads(await _report(config, "json", period=NOVEMBER))
    values = {k["key"]: k["value"] for k in data["kpis"]}
    assert values["missed_calls"] == 2
    assert values["booking_rate"] == 1.0
    assert values["time_to_first_response_p50"] == pytest.approx(0.4, abs=0.01)
    assert data["calculator"]["average_order_value"] == 120.0
    assert data["calculator"]["point"]["revenue"] == pytest.approx(60.0)
    table = await _report(config, "table", period=NOVEMBER, did="5550100")
    assert "Reply rate" in table
    assert "100.0%" in table
    assert "120.00 USD" in table
    rows = list(csv.DictReader(io.StringIO(await _report(config, "csv", period=NOVEMBER))))
    assert {r["section"] for r in rows} == {"report", "kpi", "calculator"}
    assert next(r for r in rows if r["key"] == "reply_rate")["definition"].startswith("replies")


async def test_bad_arguments() -> None:
    """Unknown formats, a KPI report without a period or a database are refused."""
    with pytest.raises(ValueError, match="format"):
        await _report(CONFIG, "xml", cdr=MASTER)
    with pytest.raises(ValueError, match="period"):
        await _report(CONFIG, "json")
    with pytest.raises(ValueError, match="no database"):
        await _report(CONFIG, "json", period=NOVEMBER)


async def test_kpi_table_says_how_each_figure_was_worked_out(
    db_url: str, session: AsyncSession
) -> None:
    """A delivered text, a reply and a 120.00 booking: each row says what it counts."""
    from zoneinfo import ZoneInfo

    from asterisk_textback.kpi.report_words import Inputs

    call = add_call(session)
    await add_text(session, call, delay=0.4)
    add_inbound(session, call, "Can you come Tuesday to fix the boiler?")
    add_booking(session, call, 12000)
    await session.commit()
    zone = ZoneInfo("America/New_York")
    kpi = KpiSettings(sms_cost_per_segment=0.01, software_cost_per_month=30.44)
    config = ReportConfig(database_url=db_url, kpi=kpi, zone=zone, inputs=Inputs(aov="--aov"))
    period = parse_period("2026-11", now=T0, zone=zone)
    table = await _report(config, "table", period=period)
    assert table.startswith("KPIs, Nov 1, 2026 to Nov 30, 2026\nTimes in America/New_York.\n")
    assert "1 replied of 1 texts delivered" in table
    assert "= the values of 1 attributed booking, added up" in table
    assert "= revenue 120.00 USD ÷ texts sent 1" in table
    assert "What the figures mean:" in table
    assert "  Reply rate: replies / delivered" in table
    # 120.00 from the one booking, 1 missed call x 25% x 120.00 = 30.00.
    assert "1 missed call × 25% × 120.00 USD = 30.00 USD" in table
    assert "from the average of the bookings recorded" in table
    assert "Revenue recovered (estimate)" in table
    assert "1 booking × 120.00 USD = 120.00 USD" in table
    cost = next(line for line in table.splitlines() if line.startswith("Cost "))
    # November in New York is 30 days and an hour (DST ends): 30.44 a month x 0.987 months.
    assert f"software and labour {30.44 * period.months:.2f} USD" in cost
    assert "= SMS 0.01 USD (1 segment × 0.01 USD)" in cost
    rows = list(csv.DictReader(io.StringIO(await _report(config, "csv", period=period))))
    revenue = next(r for r in rows if r["key"] == "revenue")
    assert (revenue["value"], revenue["unit"]) == ("120.00", "USD")
    estimate = next(r for r in rows if r["key"] == "revenue_recovered_estimate")
    assert (estimate["value"], estimate["numerator"]) == ("120.00", "1")
    start = next(r for r in rows if r["key"] == "start")
    assert start["value"] == "2026-11-01 00:00:00"


def test_words_for_periods_and_rates() -> None:
    from datetime import UTC
    from zoneinfo import ZoneInfo

    from asterisk_textback.kpi.periods import Period
    from asterisk_textback.kpi.report_words import money, percent, period_words

    ny = ZoneInfo("America/New_York")
    assert period_words(parse_period("2026-11-27", T0, ny), ny) == "Fri, Nov 27, 2026"
    assert period_words(parse_period("2026-11", T0, ny), ny) == "Nov 1, 2026 to Nov 30, 2026"
    odd = Period(T0, T0.replace(hour=18))
    assert period_words(odd, UTC) == "Nov 2, 2026 15:00 to Nov 2, 18:00"
    assert (percent(0.25), percent(0.375), percent(0.35)) == ("25%", "37.5%", "35%")
    assert (money(1234.5, "USD"), money(1234.5, "JPY")) == ("1,234.50 USD", "1,234 JPY")
