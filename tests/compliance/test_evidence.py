"""``consent export``: a number's calls, texts, opt-outs and opt-ins, CSV and JSON, or all."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.cli.consent import run_export
from asterisk_textback.compliance.evidence import CSV_HEADER, safe_cell
from asterisk_textback.compliance.evidence_export import export_all
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.wording.times import csv_time
from tests.compliance.seed import CLI_NUMBER, STOP_WORDS, Story, seed_story
from tests.inbound.helpers import add_call

Sessions = async_sessionmaker[AsyncSession]


async def _export(story: Story, number: str | None, fmt: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run_export(story.loaded, number, fmt, out, err)
    return code, out.getvalue(), err.getvalue()


async def test_one_number_as_json(session_factory: Sessions, db_url: str) -> None:
    story = await seed_story(session_factory, db_url)
    # National form, as a person types it: parsed like the rest of the app.
    national = story.number.removeprefix("+1")
    code, out, err = await _export(story, national, "json")
    assert (code, err) == (0, "")
    record = json.loads(out)
    assert record["number"] == story.number
    assert record["opted_out"] is False
    assert record["consent_source"] == "sms:START"
    types = [e["type"] for e in record["events"]]
    assert types == ["call", "text_sent", "opt_out", "text_sent", "opt_in", "text_sent"]
    call, text, stop, stop_ok, start, start_ok = record["events"]
    assert call["outcome"] == "missed_no_voicemail"
    assert call["decision"] == {"action": "send", "reason": None}
    assert (call["disclosure_played"], call["caller_verification"]) == (True, "passed")
    assert call["quiet_rule"] == "federal (47 CFR § 64.1200(c)(1))"
    assert (text["kind"], text["status"], text["body"]) == ("textback", "sent", story.sent_body)
    assert text["call_id"] == call["call_id"]
    assert (stop["wording"], stop["source"], stop["keyword"]) == (
        STOP_WORDS,
        "sms:stop texting",
        "stop texting",
    )
    assert stop_ok["kind"] == "optout_confirm"
    assert (start["wording"], start["source"]) == ("START", "sms:START")
    assert start_ok["kind"] == "optin_confirm"
    # In time order, in the business's zone with its offset (New York: -05:00 in winter).
    times = [datetime.fromisoformat(e["at"]) for e in record["events"]]
    assert times == sorted(times)
    assert all(e["at"].endswith(("-05:00", "-04:00")) for e in record["events"])


async def test_one_number_as_csv(session_factory: Sessions, db_url: str) -> None:
    story = await seed_story(session_factory, db_url)
    code, out, _ = await _export(story, story.number, "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert tuple(rows[0]) == CSV_HEADER
    body = [dict(zip(CSV_HEADER, r, strict=True)) for r in rows[1:]]
    assert [r["event"] for r in body] == [
        "call",
        "text sent",
        "opt out",
        "text sent",
        "opt in",
        "text sent",
    ]
    assert {r["number"] for r in body} == {story.number}
    call, text, stop = body[0], body[1], body[2]
    # Quiet hours are on by default: the rule the text's send time obeyed is on the call.
    assert call["what"] == (
        "Missed, no voicemail; Texted; quiet hours: federal (47 CFR § 64.1200(c)(1))"
    )
    assert (call["disclosure_played"], call["caller_verification"]) == ("yes", "passed")
    assert (text["what"], text["status"], text["text"]) == ("text-back", "sent", story.sent_body)
    assert (stop["text"], stop["source"]) == (STOP_WORDS, "text message (stop texting)")
    zone = story.loaded.settings.business.zone
    assert len(call["time"]) == len(csv_time(datetime.now(UTC), zone))
    assert [r["time"] for r in body] == sorted(r["time"] for r in body)


async def test_a_command_line_opt_out_says_its_source(
    session_factory: Sessions, db_url: str
) -> None:
    story = await seed_story(session_factory, db_url)
    code, out, _ = await _export(story, CLI_NUMBER, "json")
    assert code == 0
    record = json.loads(out)
    (event,) = record["events"]
    assert (event["type"], event["source"], event["wording"]) == ("opt_out", "cli", None)
    assert record["opted_out"] is True


async def test_unknown_and_bad_numbers(session_factory: Sessions, db_url: str) -> None:
    story = await seed_story(session_factory, db_url)
    code, out, err = await _export(story, "+12125559999", "csv")
    assert (code, out) == (1, "")
    assert err == "asterisk-textback: no calls, texts or opt-outs of +12125559999\n"
    code, out, err = await _export(story, "12", "csv")
    assert (code, out) == (2, "")
    assert "'12' is not a valid phone number" in err


async def test_all_numbers_page_by_page(session_factory: Sessions, db_url: str) -> None:
    story = await seed_story(session_factory, db_url)
    start = datetime.now(UTC) - timedelta(hours=2)
    callers = [f"+1212555{i:04d}" for i in range(230)]
    for i, caller in enumerate(callers):
        status = MessageStatus.DELIVERED if i % 2 else None
        await add_call(
            session_factory,
            caller=caller,
            linkedid=f"9.{i}",
            ended_at=start + timedelta(seconds=i),
            texted=status,
        )
    expected = sorted({*callers, story.number, CLI_NUMBER})
    zone = story.loaded.settings.business.zone
    out = io.StringIO()
    assert await export_all(session_factory, "json", out, zone, page=50) == len(expected)
    records = json.loads(out.getvalue())
    assert [r["number"] for r in records] == expected
    one = next(r for r in records if r["number"] == callers[1])
    assert [e["type"] for e in one["events"]] == ["call", "text_sent"]
    assert one["events"][1]["status"] == "delivered"
    out = io.StringIO()
    assert await export_all(session_factory, "csv", out, zone, page=7) == len(expected)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    numbers = [r[0] for r in rows[1:]]
    assert sorted(set(numbers)) == expected
    assert numbers == sorted(numbers)  # each number's rows together, numbers in order
    assert len(rows) - 1 == 230 + 115 + 6 + 1


def test_caller_text_cannot_become_a_spreadsheet_formula() -> None:
    assert safe_cell('=HYPERLINK("http://evil","x")').startswith("'=")
    assert safe_cell("-1+1") == "'-1+1"
    assert safe_cell("Hi there") == "Hi there"
