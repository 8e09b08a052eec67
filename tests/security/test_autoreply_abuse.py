"""SMS pumping through auto-replies: HELP, INFO, STOP, START and forwards to staff.

Issue 13 #2 and #3: 8 keyword texts each from +44, +1 900, +881, +269 and +372 numbers got
40 texts sent back, and 60 HELPs from one phone in 1.3 s used up the global text-back cap,
so the next real missed call was suppressed. Auto-replies now pass the text-backs'
destination checks, HELP is answered once a day, and they have their own budget.
"""

from __future__ import annotations

import asyncio
import itertools

import aiohttp
import pytest
from sqlalchemy import select

from asterisk_textback.config import Settings, settings_from_mapping
from asterisk_textback.errors import ConfigError
from asterisk_textback.inbound.forwarding import Forwarder, ForwardingSecrets
from asterisk_textback.inbound.inbox import Inbox
from asterisk_textback.inbound.settings import ConsentSettings, ForwardingSettings
from asterisk_textback.policy import refuse_destination
from asterisk_textback.sms.base import InboundSms
from asterisk_textback.store.models import Contact, InboundMessage, Message
from tests.security.support import T0, Clock, Sessions, missed, recorder, settings

OURS = "+12125550100"
_ids = itertools.count()


def _inbox(sessions: Sessions, config: Settings, **kwargs: object) -> Inbox:
    return Inbox(
        sessions, config.consent, business_name="Acme", policy=config, clock=Clock(), **kwargs
    )  # type: ignore[arg-type]


def _text(sender: str, body: str) -> InboundSms:
    return InboundSms("test", f"in-{next(_ids)}", sender, OURS, body)


async def _messages(sessions: Sessions, kind: str | None = None) -> list[Message]:
    async with sessions() as session:
        query = select(Message).order_by(Message.id)
        if kind is not None:
            query = query.where(Message.kind == kind)
        return list((await session.scalars(query)).all())


DISALLOWED = {
    "+447911123456": "country_not_allowed",  # UK mobile; the business texts the US only
    "+19005550123": "premium",  # US premium rate
    "+881612345678": "country_not_allowed",  # satellite (Iridium)
    "+2693212345": "country_not_allowed",  # Comoros
    "+37251234567": "country_not_allowed",  # Estonia
}


async def test_no_auto_reply_to_a_disallowed_destination(session_factory: Sessions) -> None:
    config = settings()
    for number, reason in DISALLOWED.items():
        assert str((refuse_destination(number, config) or ("",))[0]) == reason
    inbox = _inbox(session_factory, config)
    keywords = ["HELP", "INFO", "STOP", "START"] * 2
    await asyncio.gather(
        *(inbox.receive(_text(n, k)) for n in DISALLOWED for k in keywords), return_exceptions=False
    )
    assert await _messages(session_factory) == []
    async with session_factory() as session:
        stored = (await session.scalars(select(InboundMessage))).all()
        # The texts are stored and STOP/START still act on consent; only the answers go.
        assert len(stored) == 40
        opted = (await session.scalars(select(Contact.e164))).all()
    assert set(opted) <= set(DISALLOWED)


async def test_sixty_helps_get_one_answer_and_the_next_missed_call_is_texted(
    session_factory: Sessions,
) -> None:
    config = settings()
    inbox = _inbox(session_factory, config)
    phone = "+12125550147"
    await asyncio.gather(*(inbox.receive(_text(phone, "HELP")) for _ in range(60)))
    helps = await _messages(session_factory, "help")
    assert [m.to_e164 for m in helps] == [phone]
    # The HELP answer uses none of the text-back caps or the caller's cooldown.
    rec = recorder(session_factory, Clock(), config)
    assert (await rec.record(missed("2125550147", "real-1"))).queued
    assert (await rec.record(missed("3125550147", "real-2"))).queued


async def test_help_is_answered_once_a_day(session_factory: Sessions) -> None:
    clock = Clock()
    config = settings()
    inbox = Inbox(session_factory, config.consent, business_name="Acme", policy=config, clock=clock)
    for _ in range(3):
        await inbox.receive(_text("+12125550147", "INFO"))
        clock.now += 3600
    assert len(await _messages(session_factory, "help")) == 1
    clock.now = T0 + 24 * 3600 + 1
    await inbox.receive(_text("+12125550147", "HELP"))
    assert len(await _messages(session_factory, "help")) == 2


async def test_auto_replies_have_their_own_rate_budget(session_factory: Sessions) -> None:
    config = settings().model_copy(
        update={"consent": ConsentSettings(auto_reply_rate_per_minute=20)}
    )
    inbox = _inbox(session_factory, config)
    numbers = [f"+1212555{i:04d}" for i in range(50)]
    await asyncio.gather(*(inbox.receive(_text(n, "HELP")) for n in numbers))
    assert len(await _messages(session_factory, "help")) == 20


async def test_stop_start_toggling_gets_the_daily_cap_of_confirmations(
    session_factory: Sessions,
) -> None:
    inbox = _inbox(session_factory, settings())
    phone = "+12125550147"
    for body in ["STOP", "STOP", "START", "START"] * 4:
        await inbox.receive(_text(phone, body))
    confirmations = await _messages(session_factory)
    # One per real change, at most auto_reply_daily_cap (3) a day: STOP, START, STOP.
    assert [m.kind for m in confirmations] == ["optout_confirm", "optin_confirm", "optout_confirm"]


async def test_forwards_to_staff_have_their_own_budget(session_factory: Sessions) -> None:
    forwarding = ForwardingSettings(sms_to=("+12125550199",), sms_rate_per_minute=5)
    async with aiohttp.ClientSession() as http:
        forwarder = Forwarder.build(
            forwarding, session_factory, http, ForwardingSecrets(), clock=Clock()
        )
        inbox = _inbox(session_factory, settings(), forwarder=forwarder)
        callers = [f"+1212555{i:04d}" for i in range(12)]
        await asyncio.gather(*(inbox.receive(_text(n, "call me back")) for n in callers))
        await inbox.join()
    assert len(await _messages(session_factory, "forward")) == 5
    async with session_factory() as session:
        waiting = (
            await session.scalars(
                select(InboundMessage.id).where(InboundMessage.forwarded_at.is_(None))
            )
        ).all()
    assert len(waiting) == 7  # retried by the sweep once the minute has passed


@pytest.mark.parametrize("number", ["+19005550123", "+447911123456", "12"])
def test_a_staff_number_must_pass_the_destination_checks(number: str) -> None:
    with pytest.raises(ConfigError, match=r"forwarding\.sms_to\[0\]"):
        settings_from_mapping({"forwarding": {"sms_to": [number]}})
