"""What each hook puts in the queue: the events and fields a CRM needs."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason
from asterisk_textback.config import Settings
from asterisk_textback.crm.hooks import CrmHooks, CrmSecrets
from asterisk_textback.crm.settings import CrmEndpoint, CrmEventType, CrmSettings
from asterisk_textback.errors import ConfigError
from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.kpi.conversions import NewBooking
from asterisk_textback.policy.settings import BusinessSettings, SuppressionSettings
from asterisk_textback.store.bookings import record_booking
from asterisk_textback.store.models import CrmEvent, InboundMessage, Message
from asterisk_textback.textback.handler import CallHandler
from asterisk_textback.textback.loading import prepare
from tests.crm.support import START, Clock, settings
from tests.kpi.helpers import T0, add_call, add_text

Sessions = async_sessionmaker[AsyncSession]
URL = "http://127.0.0.1:1/hook"


async def _queued(session: AsyncSession) -> list[dict[str, Any]]:
    rows = (await session.scalars(select(CrmEvent).order_by(CrmEvent.id))).all()
    return [json.loads(row.payload) for row in rows]


async def test_missed_call_from_the_recorder(
    session_factory: Sessions, session: AsyncSession
) -> None:
    """``CallHandler(on_decided=hooks.on_decided)``: missed calls only, with the text."""
    hooks = CrmHooks(settings(("crm", URL, tuple(CrmEventType))), session_factory, clock=Clock())
    config = Settings(
        business=BusinessSettings(name="Acme", booking_link="https://book.example/x"),
        suppression=SuppressionSettings.model_validate({"quiet_hours": None}),
    )
    recorder = CallHandler(
        prepare(config),
        session_factory,
        on_queued=lambda: None,
        on_decided=hooks.on_decided,
        clock=lambda: START + 30,
    )
    missed = CallEnded(
        linkedid="1794000000.7",
        direction=Direction.INBOUND,
        outcome=Outcome.MISSED_NO_VOICEMAIL,
        reason=Reason.NO_ANSWER,
        caller_number="2125550147",
        caller_name="Pat Caller",
        did="5550100",
        queue=None,
        mailbox="1001",
        started_at=START - 20,
        ended_at=START,
        ring_seconds=20.0,
    )
    answered = CallEnded(
        linkedid="1794000000.8",
        direction=Direction.INBOUND,
        outcome=Outcome.ANSWERED,
        reason=Reason.ANSWERED,
        caller_number="2125550148",
        caller_name="",
        did="5550100",
        queue=None,
        mailbox=None,
        started_at=START,
        ended_at=START + 60,
        ring_seconds=3.0,
    )
    await recorder.record(missed)
    await recorder.record(answered)
    await recorder.record(missed)  # recorded again (a replay): still one event
    await hooks.join()
    [event] = await _queued(session)
    assert (event["event"], event["id"]) == ("missed_call", "missed_call:default:1794000000.7")
    assert event["contact"] == {"phone": "+12125550147", "name": "Pat Caller"}
    assert (event["call"]["did"], event["call"]["outcome"]) == ("5550100", "missed_no_voicemail")
    assert event["call"]["action"] == "send"
    assert "book.example/x?tb=" in event["text"]["body"]
    assert event["lead_source"] == "missed-call-textback"


async def test_text_reply_opt_out_and_booking(
    session_factory: Sessions, session: AsyncSession
) -> None:
    """Text sent (text-backs only), reply and STOP, and a booking with its value."""
    hooks = CrmHooks(
        settings(("crm", URL, tuple(CrmEventType)), lead_source="acme-textback"),
        session_factory,
        clock=Clock(),
    )
    call = add_call(session)
    text = await add_text(session, call)
    confirm = await add_text(session, call, kind="optout_confirm")
    for n, (kind, body) in enumerate(
        [
            (InboundKind.REPLY, "Can you come Tuesday?"),
            (InboundKind.STOP, "STOP"),
            (InboundKind.HELP, "HELP"),
        ]
    ):
        session.add(
            InboundMessage(
                provider="fake",
                provider_message_id=f"in-{n}",
                from_e164="+12125550147",
                to_e164="+15555550100",
                body=body,
                received_at=T0 + timedelta(minutes=n + 1),
                kind=kind,
                keyword=None if kind is InboundKind.REPLY else body,
                call_id=call.id,
                forward_done="",
                forward_attempts=0,
                created_at=T0,
            )
        )
    await session.commit()
    await hooks.texts_sent([text.id, confirm.id])
    inbound = (await session.scalars(select(InboundMessage).order_by(InboundMessage.id))).all()
    await session.commit()  # SQLite: release the read before the hooks write
    for row in inbound:
        await hooks.inbound_received(row)
    booking = await record_booking(
        session,
        NewBooking(
            source="webhook",
            external_id="b-1",
            booked_at=T0 + timedelta(hours=2),
            value_minor=15000,
            currency="usd",
            e164="+12125550147",
        ),
        now=T0,
        window=timedelta(days=7),
        secret="",
    )
    await session.commit()  # record_booking writes in the caller's unit of work
    await hooks.booking_recorded(booking)
    await hooks.booking_recorded(booking)  # the same state again: no new event
    events = await _queued(session)
    assert [e["event"] for e in events] == ["text_sent", "reply", "opt_out", "booking"]
    assert {e["lead_source"] for e in events} == {"acme-textback"}
    sent, reply, opt_out, booked = events
    assert (sent["text"]["id"], sent["text"]["template"], sent["contact"]["name"]) == (
        text.id,
        text.template,
        "Caller",
    )
    assert sent["call"]["id"] == call.id
    assert reply["reply"]["body"] == "Can you come Tuesday?"
    assert opt_out["reply"]["keyword"] == "STOP"
    assert (booked["booking"]["value_minor"], booked["booking"]["currency"]) == (15000, "USD")
    assert (booked["booking"]["attributed_by"], booked["call"]["id"]) == ("phone", call.id)
    assert booked["booking"]["booked_at"].endswith("+00:00")


async def test_no_endpoints_no_rows(session_factory: Sessions, session: AsyncSession) -> None:
    """Without endpoints the hooks store nothing."""
    hooks = CrmHooks(CrmSettings(), session_factory)
    assert await hooks.emit(CrmEventType.REPLY, "reply:1", {}) == 0
    assert await _queued(session) == []


def test_settings_are_strict() -> None:
    """Unknown keys, bad URLs, duplicate names and missing secrets are refused."""
    with pytest.raises(ValidationError, match="extra"):
        CrmSettings.model_validate({"endpoint": []})
    with pytest.raises(ValidationError, match="https://"):
        CrmEndpoint(name="a", url="ftp://x", secret_env="S")
    with pytest.raises(ValidationError, match="must differ"):
        settings(("a", URL, ()), ("a", URL, ()))
    with pytest.raises(ValidationError):
        CrmEndpoint(name="a", url=URL, secret_env="S", events=("call",))  # type: ignore[arg-type]
    config = settings(("a", URL, (CrmEventType.BOOKING,)))
    assert config.enabled
    with pytest.raises(ConfigError, match="CRM_A"):
        CrmSecrets.from_env(config, {})
    assert CrmSecrets.from_env(config, {"CRM_A": "k"}).keys == {"a": b"k"}
    with pytest.raises(ValidationError):
        config.lead_source = "x"  # type: ignore[misc]
    assert isinstance(Message.__tablename__, str)
