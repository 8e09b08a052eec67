"""``compliance kit``: the packet for contrib/textback.toml, its volume from each source."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.cli.compliance import database_volume
from asterisk_textback.cli.main import main
from asterisk_textback.compliance.kit import build_kit, find_phones
from asterisk_textback.compliance.kit_volume import from_cdr_file, no_history
from asterisk_textback.config import Settings, load_settings
from asterisk_textback.inbound.consent import classify
from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.templates.preview import preview_rows
from asterisk_textback.textback.loading import load, prepare
from tests.inbound.helpers import add_call

CONTRIB = Path(__file__).parents[2] / "contrib" / "textback.toml"
FIXTURE_CDR = Path(__file__).parents[1] / "fixtures" / "cdr" / "Master.csv"
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _kit_json(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    assert main(["compliance", "kit", "-c", str(CONTRIB), "--format", "json", *extra]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def test_the_json_kit_of_the_sample_config(capsys: pytest.CaptureFixture[str]) -> None:
    kit = _kit_json(capsys)
    settings = load_settings(CONTRIB)
    loaded = load(CONTRIB)
    assert kit["brand"]["name"] == settings.business.name == "Acme Plumbing"
    assert kit["use_case"] == {"code": "CUSTOMER_CARE", "label": "Customer Care"}
    assert set(kit["brand"]["senders"]) == {"+15555550100", "+15555550200"}
    # Every template and variant, as `templates preview` renders it for the same sample.
    rows = preview_rows(settings, loaded.renderer)
    got = [(s["template"], s["variant"], s["body"]) for s in kit["samples"]]
    assert got == [(r.template, r.variant, r.body) for r in rows]
    assert len(got) == sum(len(t.variants) for t in settings.templates.templates.values())
    # The keywords are the ones the inbox honours, each classified as what it is listed for.
    for key, kind in (("opt_out", "stop"), ("opt_in", "start"), ("help", "help")):
        assert kit[key]["keywords"], key
        for word in kit[key]["keywords"]:
            assert classify(word).kind is InboundKind(kind), word
    assert kit["opt_out"]["keywords"][:5] == ["STOP", "END", "CANCEL", "UNSUBSCRIBE", "QUIT"]
    consent = settings.consent
    assert kit["help"]["message"] == consent.render(consent.help_text, "Acme Plumbing")
    assert kit["opt_out"]["message"] == consent.render(consent.opt_out_text, "Acme Plumbing")
    # The booking link is in some samples; no sample writes a phone number, HELP does.
    assert kit["embedded_links"] is True
    assert any(
        "https://acme.example/book?tb=" in link for s in kit["samples"] for link in s["links"]
    )
    assert kit["embedded_phones"] is False
    assert kit["phones_in_answers"] is True
    assert "We may text you about this call. Reply STOP to opt out." in kit["message_flow"]
    assert kit["volume"]["source"] == "none"
    assert kit["volume"]["per_month"] is None
    # Within the lengths TCR's forms accept (description 40-4096, flow 40-2048, samples 20+).
    assert 40 <= len(kit["description"]) <= 4096
    assert 40 <= len(kit["message_flow"]) <= 2048
    assert all(20 <= len(s["body"]) <= 1024 for s in kit["samples"])


def test_the_markdown_kit_has_the_forms_sections(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compliance", "kit", "-c", str(CONTRIB)]) == 0
    out = capsys.readouterr().out
    headings = [line for line in out.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Brand",
        "## Campaign use case",
        "## Campaign description",
        "## Message flow (how end users consent)",
        "## Sample messages",
        "## Opt-in",
        "## Opt-out",
        "## Help",
        "## Message contents",
        "## Expected volume",
    ]
    loaded = load(CONTRIB)
    for row in preview_rows(loaded.settings, loaded.renderer):
        assert f"```text\n{row.body}\n```" in out
    assert "No history: estimate N/month" in out
    assert "Messages include embedded links: yes" in out


def test_phone_numbers_in_a_template_are_flagged() -> None:
    data = load_settings(CONTRIB).model_dump(mode="json", exclude_none=True)
    data["templates"]["busy"] = {
        "variants": [{"name": "call", "body": "Sorry! Call us back at (212) 555-0188."}]
    }
    loaded = prepare(Settings.model_validate(data))
    kit = build_kit(loaded.settings, loaded.renderer, no_history())
    (busy,) = [s for s in kit.samples if s.template == "busy"]
    assert busy.phones == ("(212) 555-0188",)
    assert kit.embedded_phones is True
    assert find_phones("reply STOP to opt out", "US") == ()


def _cdr_line(src: str, start: datetime, *, answered: bool = False, ctx: str = "from-trunk") -> str:
    stamp = start.strftime("%Y-%m-%d %H:%M:%S")
    end = (start + timedelta(seconds=20)).strftime("%Y-%m-%d %H:%M:%S")
    disposition = "ANSWERED" if answered else "NO ANSWER"
    dst = "1002" if ctx == "from-internal" else "5550100"
    uid = f"{start.timestamp():.0f}.{abs(hash(src)) % 1000}"
    return (
        f'"","{src}","{dst}","{ctx}","<{src}>","PJSIP/trunk-1","PJSIP/1001-2","Dial",'
        f'"PJSIP/1001,8","{stamp}","{stamp if answered else ""}","{end}",20,'
        f'{10 if answered else 0},"{disposition}","DOCUMENTATION","{uid}",""'
    )


def test_volume_from_a_cdr_file(tmp_path: Path) -> None:
    day1 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    day2 = day1 + timedelta(days=1)
    lines = [
        _cdr_line("2125550101", day1 - timedelta(days=40)),  # outside the 30 days
        _cdr_line("2125550101", day1),
        _cdr_line("2125550101", day1 + timedelta(hours=1)),  # same caller, same day: once
        _cdr_line("2125550102", day1 + timedelta(hours=2)),
        _cdr_line("2125550103", day1 + timedelta(hours=3), answered=True),
        _cdr_line("anonymous", day1 + timedelta(hours=4)),  # no number to text
        _cdr_line("1001", day1 + timedelta(hours=5), ctx="from-internal"),
        _cdr_line("2125550101", day2),
    ]
    cdr = tmp_path / "Master.csv"
    cdr.write_text("\n".join(lines) + "\n", encoding="utf-8")
    volume = from_cdr_file(cdr, UTC, UTC)
    assert volume is not None
    assert (volume.source, volume.counted, volume.days) == ("cdr", 3, 2.0)
    assert volume.per_month == 45  # 1.5 a day
    real = from_cdr_file(FIXTURE_CDR, UTC, UTC)
    assert real is not None
    assert real.source == "cdr"
    assert 0 < real.counted <= 10


def test_the_cli_estimates_from_the_cdr_without_a_database(
    capsys: pytest.CaptureFixture[str],
) -> None:
    kit = _kit_json(capsys, "--cdr", str(FIXTURE_CDR))
    assert kit["volume"]["source"] == "cdr"
    assert kit["volume"]["per_month"] > 0


@pytest.mark.parametrize("content", [None, "not,a,cdr\n"])
def test_a_bad_cdr_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None
) -> None:
    cdr = tmp_path / "Master.csv"
    if content is not None:
        cdr.write_text(content, encoding="utf-8")
    assert main(["compliance", "kit", "-c", str(CONTRIB), "--cdr", str(cdr)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("asterisk-textback: error: --cdr:")
    assert "Traceback" not in err


def test_a_missing_config_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["compliance", "kit", "-c", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err
    assert "cannot read config file" in err
    assert "Traceback" not in err


def _loaded_with(url: str) -> Any:
    data = load_settings(CONTRIB).model_dump(mode="json", exclude_none=True)
    data["database"] = {"url": url}
    return prepare(Settings.model_validate(data))


Sessions = async_sessionmaker[AsyncSession]


async def test_volume_from_the_database(session_factory: Sessions, db_url: str) -> None:
    loaded = _loaded_with(db_url)
    assert await database_volume(loaded, NOW, {}) is None  # empty: no history
    for i in range(6):  # six texts over the last three days
        at = NOW - timedelta(days=3) + timedelta(hours=12 * i)
        await add_call(session_factory, caller=f"+1212555{i:04d}", linkedid=f"1.{i}", ended_at=at)
    cancelled = NOW - timedelta(hours=1)
    await add_call(
        session_factory, linkedid="2.0", ended_at=cancelled, texted=MessageStatus.CANCELLED
    )
    volume = await database_volume(loaded, NOW, {})
    assert volume is not None
    assert (volume.source, volume.counted, volume.days) == ("database", 6, 3.0)
    assert volume.per_month == 60
    # A text older than the window makes the history a whole month long.
    await add_call(session_factory, linkedid="3.0", ended_at=NOW - timedelta(days=45))
    volume = await database_volume(loaded, NOW, {})
    assert volume is not None
    assert (volume.counted, volume.days, volume.per_month) == (6, 30, 6)


async def test_an_unreadable_database_counts_as_no_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database" * 100)
    loaded = _loaded_with(f"sqlite+aiosqlite:///{broken}")
    assert await database_volume(loaded, NOW, {}) is None
    assert (
        f"database sqlite+aiosqlite:///{broken} not used for the volume" in capsys.readouterr().err
    )
    missing = tmp_path / "missing.db"
    assert await database_volume(_loaded_with(f"sqlite+aiosqlite:///{missing}"), NOW, {}) is None
    assert not missing.exists()
