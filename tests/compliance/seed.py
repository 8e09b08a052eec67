"""A number's story through the real paths: a missed call texted back, STOP, then START."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.utc import utc
from asterisk_textback.config import Settings
from asterisk_textback.inbound import optout_csv
from asterisk_textback.inbound.inbox import Inbox
from asterisk_textback.sms.base import InboundSms
from asterisk_textback.store.models import Call
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.textback.loading import PreparedConfig, prepare
from tests.app.fakes import fake_gateway
from tests.templates.test_preview_billed import _call, _caller_for, _contrib, _send_all, _with_rules

Sessions = async_sessionmaker[AsyncSession]
STOP_WORDS = "Please stop texting me"
#: Opted out on the command line, never called.
CLI_NUMBER = "+13105550177"


@dataclass(frozen=True, slots=True)
class Story:
    """What was seeded: the config, the caller, the text-back's body as sent."""

    loaded: PreparedConfig
    number: str
    sent_body: str
    sender: str


def config(db_url: str) -> PreparedConfig:
    """contrib/textback.toml's business and templates, one rule per template, on ``db_url``."""
    settings, _ = _with_rules(_contrib())
    data: dict[str, Any] = settings.model_dump(mode="json", exclude_none=True)
    data["database"] = {"url": db_url}
    return prepare(Settings.model_validate(data))


def _afternoon() -> float:
    """The latest 18:00 UTC (1 pm in New York, 10 am in California) at least an hour ago."""
    now = time.time()
    day = now - now % 86_400 + 18 * 3600
    return day if day <= now - 3600 else day - 86_400


async def seed_story(sessions: Sessions, db_url: str) -> Story:
    """Texted back, opted out by a free-text STOP, back in by START; another number by CLI."""
    loaded = config(db_url)
    _, dids = _with_rules(_contrib())
    number = _caller_for(loaded, "missed_no_voicemail", "sorry", set())
    # Default (federal) quiet hours hold: the story happens at an afternoon in New York, not
    # whenever the test runs (at night the text would wait for the morning).
    day = _afternoon()
    call = _call(number, dids["missed_no_voicemail"], 1, at=day)
    async with fake_gateway() as gateway:
        sent = await _send_all(sessions, loaded, [call], gateway, clock=lambda: day)
    async with unit_of_work(sessions) as db:  # what the dialplan hook reports for the call
        await db.execute(
            update(Call)
            .where(Call.caller_e164 == number)
            .values(disclosure_played=True, caller_verification="passed")
        )
    sender = loaded.settings.provider.sender_for(call.did)
    clock = [day + 10]
    inbox = Inbox(
        sessions,
        loaded.settings.consent,
        business_name=loaded.settings.business.name,
        clock=lambda: clock[0],
    )
    await inbox.receive(InboundSms("webhook", "in-1", number, sender, STOP_WORDS))
    clock[0] += 60
    await inbox.receive(InboundSms("webhook", "in-2", number, sender, "START"))
    async with unit_of_work(sessions) as db:
        await optout_csv.add(db, CLI_NUMBER, region="US", now=utc(clock[0] + 60))
    return Story(loaded, number, sent[number], sender)
