"""A dialplan's request and a missed call take the one decide → render step (textback.drafting)."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from asterisk_textback.agi.request import TextRequest
from asterisk_textback.agi.texter import MESSAGE_KIND, QUEUED, AgiTexter
from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason
from asterisk_textback.config import Settings
from asterisk_textback.policy import NO_HISTORY, SuppressReason
from asterisk_textback.store.models import Message
from asterisk_textback.textback.drafting import decide_and_render
from asterisk_textback.textback.handler import CallHandler
from asterisk_textback.textback.loading import PreparedConfig, prepare
from tests.agi.support import NOW, Sessions

#: Sender, encoding and segments all depend on the body: a Unicode one takes UCS-2.
HELLO = "Sorry we missed you – {{ business_name }} will call back ✓"


def _loaded() -> PreparedConfig:
    return prepare(
        Settings.model_validate(
            {
                "business": {"name": "Acme Plumbing", "timezone": "America/New_York"},
                "templates": {"hello": {"variants": [{"name": "a", "body": HELLO}]}},
                "rules": [{"name": "all", "template": "hello"}],
                "suppression": {"quiet_hours": None},
            }
        )
    )


def _missed(number: str) -> CallEnded:
    return CallEnded(
        linkedid="1717484400.5",
        direction=Direction.INBOUND,
        outcome=Outcome.MISSED_NO_VOICEMAIL,
        reason=Reason.NO_ANSWER,
        caller_number=number,
        caller_name="JORDAN SMITH",
        did="2125550100",
        queue=None,
        mailbox=None,
        started_at=NOW - 30,
        ended_at=NOW - 5,
        ring_seconds=25.0,
    )


async def test_a_request_and_a_missed_call_commit_the_same_text(
    session_factory: Sessions,
) -> None:
    loaded = _loaded()
    handler = CallHandler(loaded, session_factory, on_queued=lambda: None, clock=lambda: NOW)
    assert (await handler.record(_missed("2125550147"))).queued
    texter = AgiTexter(loaded, session_factory, on_queued=lambda: None, clock=lambda: NOW)
    request = TextRequest(
        script="textback",
        template="hello",
        uniqueid="1717484400.17",
        channel="PJSIP/trunk-00000001",
        to="2125550148",
        caller_name="JORDAN SMITH",
        did="2125550100",
        delay=0.0,
    )
    assert (await texter.text(request)).status == QUEUED
    async with session_factory() as db:
        call_text, agi_text = (await db.scalars(select(Message).order_by(Message.id))).all()
    assert (call_text.kind, agi_text.kind) == ("textback", MESSAGE_KIND)
    assert (call_text.to_e164, agi_text.to_e164) == ("+12125550147", "+12125550148")

    def rendered(m: Message) -> tuple[object, ...]:
        return (m.body, m.sender, m.segments, m.encoding, m.template, m.variant, m.provider)

    assert rendered(agi_text) == rendered(call_text)
    # Rendered, not copied: the name filled in, and the opt-out line of a first text.
    assert call_text.body.startswith("Sorry we missed you - Acme Plumbing will call back ✓")
    assert call_text.body.endswith("Reply STOP to opt out.")


async def test_the_line_type_is_asked_only_about_a_text_to_send() -> None:
    loaded = _loaded()
    asked: list[str] = []

    async def landline(e164: str) -> bool:
        asked.append(e164)
        return True

    missed = _missed("2125550147")
    drafted = await decide_and_render(
        missed, NO_HISTORY, loaded.settings, loaded, now=NOW, tracking_secret="", landline=landline
    )
    assert asked == ["+12125550147"]
    assert drafted.decision.reason is SuppressReason.LANDLINE
    assert (drafted.draft, drafted.message) == (None, None)
    answered = replace(missed, outcome=Outcome.ANSWERED, reason=Reason.ANSWERED)
    drafted = await decide_and_render(
        answered,
        NO_HISTORY,
        loaded.settings,
        loaded,
        now=NOW,
        tracking_secret="",
        landline=landline,
    )
    assert not drafted.decision.send
    assert asked == ["+12125550147"]  # no lookup (it costs money) for a call not texted
    sent = await decide_and_render(
        missed, NO_HISTORY, loaded.settings, loaded, now=NOW, tracking_secret="", kind="agi"
    )
    assert sent.message is not None
    assert sent.message.kind == "agi"
