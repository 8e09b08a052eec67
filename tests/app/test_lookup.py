"""Line-type lookup before a first text: landlines are never texted, answers are cached."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.config import Settings, settings_from_mapping
from asterisk_textback.errors import ConfigError, ProviderTransientError
from asterisk_textback.policy.settings import SuppressionSettings
from asterisk_textback.sms.lookup import LineInfo
from asterisk_textback.sms.registry import Resources, build_lookup
from asterisk_textback.store import contacts
from asterisk_textback.textback.handler import CallHandler
from asterisk_textback.textback.loading import prepare
from tests.calls.helpers import read_events, run
from tests.sms.fake_twilio import fake_twilio

Sessions = async_sessionmaker[AsyncSession]
SID = "AC" + "0" * 32


class Lookups:
    """Answers lookups from a table and counts them."""

    def __init__(self, answers: dict[str, LineInfo | Exception]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, e164: str) -> LineInfo:
        self.asked.append(e164)
        answer = self.answers[e164]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _recorder(sessions: Sessions, lookups: Lookups, now: float) -> CallHandler:
    settings = Settings(suppression=SuppressionSettings(quiet_hours=None, cooldown_hours=0))
    return CallHandler(
        prepare(settings), sessions, on_queued=lambda: None, clock=lambda: now, lookup=lookups
    )


async def test_a_landline_is_looked_up_once_and_never_texted(
    session_factory: Sessions, traces_dir: Path
) -> None:
    (call,) = run(read_events(traces_dir / "direct-voicemail-left.ami"))
    lookups = Lookups({"+12125550147": LineInfo("landline", False)})
    recorder = _recorder(session_factory, lookups, call.ended_at)
    first = await recorder.record(call)
    assert str(first.decision.reason) == "landline"
    assert not first.queued
    again = await recorder.record(replace(call, linkedid="2"))
    assert str(again.decision.reason) == "landline"
    assert lookups.asked == ["+12125550147"]  # cached in the contact
    async with session_factory() as session:
        contact = await contacts.get_contact(session, "+12125550147")
    assert contact is not None
    assert contact.sms_capable is False
    assert contact.line_type == "landline"


async def test_a_mobile_is_texted(session_factory: Sessions, traces_dir: Path) -> None:
    (call,) = run(read_events(traces_dir / "direct-voicemail-left.ami"))
    lookups = Lookups({"+12125550147": LineInfo("mobile", True)})
    assert (await _recorder(session_factory, lookups, call.ended_at).record(call)).queued


async def test_a_failed_lookup_never_blocks_the_text(
    session_factory: Sessions, traces_dir: Path
) -> None:
    (call,) = run(read_events(traces_dir / "direct-voicemail-left.ami"))
    lookups = Lookups({"+12125550147": ProviderTransientError("lookup down")})
    assert (await _recorder(session_factory, lookups, call.ended_at).record(call)).queued


async def test_twilio_lookup_v2_is_wired_from_config() -> None:
    async with fake_twilio(SID, "tok") as fake, aiohttp.ClientSession() as http:
        fake.lookups["+12125550147"] = {
            "phone_number": "+12125550147",
            "valid": True,
            "line_type_intelligence": {"type": "landline", "carrier_name": "Acme"},
        }
        settings = settings_from_mapping(
            {
                "provider": {
                    "name": "twilio",
                    "twilio": {"account_sid": SID},
                    "lookup": {"enabled": True, "twilio_api_base_url": fake.url},
                }
            }
        )
        lookup = build_lookup(settings.provider, Resources(http, {"TWILIO_AUTH_TOKEN": "tok"}))
        assert lookup is not None
        assert await lookup("+12125550147") == LineInfo("landline", False)
    assert fake.lookup_queries == [{"Fields": "line_type_intelligence"}]


def test_lookup_needs_a_provider_that_has_one() -> None:
    with pytest.raises(ConfigError, match=r"provider\.lookup\.enabled"):
        settings_from_mapping({"provider": {"lookup": {"enabled": True}}})
