"""Caller-controlled text is data: clean in headers, never longer than max_segments (issue 13)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.callertext import header_value
from asterisk_textback.crm.settings import CrmEventType
from asterisk_textback.inbound.forwarding import Forwarder, ForwardingSecrets
from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.inbound.settings import EmailSettings, ForwardingSettings
from asterisk_textback.sms.base import OutboundSms
from asterisk_textback.sms.settings import WebhookSettings
from asterisk_textback.sms.vendors.webhook import IDEMPOTENCY_HEADER, WebhookProvider
from asterisk_textback.store import inbound
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.schema import upgrade
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.templates import sample_context
from asterisk_textback.templates.render import Renderer
from asterisk_textback.templates.segments import to_gsm7
from asterisk_textback.templates.settings import TemplatesSettings
from tests.crm.conftest import Receiver
from tests.crm.support import Clock as CrmClock
from tests.crm.support import build
from tests.crm.support import settings as crm_settings
from tests.inbound.helpers import CALLER, DID, T0, SmtpServer, add_call

Sessions = async_sessionmaker[AsyncSession]

#: Every Unicode line break str.splitlines() knows, other controls, and a bidi override.
HOSTILE = [
    "\u2028",
    "\u2029",
    "\u0085",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1d",
    "\x1e",
    "\r\n",
    "\n",
    "\r",
    "\x00",
    "\x1b[31m",
    "\u202e",
]


@pytest.mark.parametrize("bad", HOSTILE, ids=[repr(b) for b in HOSTILE])
def test_header_value_is_one_clean_line(bad: str) -> None:
    value = header_value(f"Text reply from Eve{bad}Bcc: all@example.com (+15555550123)")
    assert value.isprintable()
    assert len(value.splitlines()) == 1
    assert value.startswith("Text reply from Eve")
    assert header_value("Zoë  O'Brien ") == "Zoë O'Brien"


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[Sessions]:
    url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    await upgrade(url)
    engine = create_engine(url)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("bad", ["\u2028", "\u0085", "\x0b"], ids=["U+2028", "U+0085", "VT"])
async def test_email_forwarding_survives_separators_in_the_name(
    sessions: Sessions, bad: str
) -> None:
    await add_call(sessions, name=f"Eve{bad}Bcc: all@example.com")
    new = inbound.NewInbound(
        "fake", "m1", CALLER, DID, "call me", T0 + timedelta(minutes=5), InboundKind.REPLY
    )
    async with unit_of_work(sessions) as session:
        inbound_id = (await inbound.record_inbound(session, new, now=T0)).inbound.id
    smtp = SmtpServer()
    await smtp.start()
    try:
        email = EmailSettings(
            host="127.0.0.1",
            port=smtp.port,
            starttls=False,
            from_address="tb@example.com",
            to=("d@example.com",),
        )
        settings = ForwardingSettings(email=email)
        async with aiohttp.ClientSession() as http:
            forwarder = Forwarder.build(
                settings,
                sessions,
                http,
                ForwardingSecrets.from_env(settings, {}),
                clock=lambda: T0.timestamp() + 600,
            )
            assert await forwarder.forward(inbound_id)
    finally:
        await smtp.stop()
    [mail] = smtp.mails
    parsed = message_from_bytes(mail.data, policy=policy.default)
    subject = str(parsed["Subject"])
    assert len(subject.splitlines()) == 1
    assert parsed["Bcc"] is None
    assert subject.endswith(f"({CALLER})")


async def test_webhook_provider_header_is_clean() -> None:
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.headers[IDEMPOTENCY_HEADER])
        return web.json_response({"id": "m1"})

    app = web.Application()
    app.router.add_post("/send", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            settings = WebhookSettings(url=str(server.make_url("/send")))
            provider = WebhookProvider(settings, http, None)
            # The key carries the PBX's Linkedid: a hostile PBX chooses it.
            sms = OutboundSms(1, "call:pbx:1.2\u2028X-Evil: 1\u0085", CALLER, "+15555550100", "hi")
            await provider.send(sms)
    finally:
        await server.close()
    assert seen == ["call:pbx:1.2 X-Evil: 1"]


# 150 GSM-7 characters with the name, under 2 x 153 septets: 2 segments; any non-GSM-7
# letter makes it UCS-2, where 2 x 67 units are not enough.
LONG = (
    "Hi {{ first_name or 'there' }}, sorry we missed your call to {{ business_name }}. "
    "We would love to help: reply here with a good time to call you back, or book online "
    "any time that suits you at {{ booking_link }} - we answer every message the same day."
)


def _renderer(body: str = LONG) -> Renderer:
    variants = [{"name": "a", "body": body}]
    return Renderer(
        TemplatesSettings.model_validate(
            {"max_segments": 2, "include_defaults": False, "t": {"variants": variants}}
        )
    )


def _render(name: str) -> tuple[int, str, str]:
    ctx = sample_context(caller_name=name, booking_link="https://book.example.com/x")
    text = _renderer().render("t", ctx, first_contact=False)
    return text.segments, text.encoding, text.body


def test_zoe_keeps_a_two_segment_template_at_two() -> None:
    segments, encoding, body = _render("Jordan Smith")
    assert (segments, encoding) == (2, "GSM-7")
    segments, encoding, body = _render("Zoë Smith")
    assert (segments, encoding) == (2, "GSM-7")
    assert body.startswith("Hi Zoe,")


@pytest.mark.parametrize("name", ["王小明", "Жанна", "Zoë\u0301\u0301 X", "🙂 Smile"])
def test_a_name_without_a_gsm7_form_is_left_out(name: str) -> None:
    segments, _, body = _render(name)
    assert segments <= 2
    assert body.startswith("Hi there,")


def test_a_name_that_fits_is_kept_as_written() -> None:
    ctx = sample_context(caller_name="Zoë Smith")
    text = _renderer("Hi {{ first_name }}").render("t", ctx, first_contact=False)
    assert text.body == "Hi Zoë"


def test_to_gsm7_is_faithful_or_nothing() -> None:
    assert to_gsm7("Zoë Łukasz Œuvre José Müller") == "Zoe Lukasz OEuvre José Müller"
    assert to_gsm7("Ærø") == "Ærø"  # already GSM-7
    assert to_gsm7("王") is None
    assert to_gsm7("Жанна") is None


def test_render_never_exceeds_max_segments_for_hostile_names() -> None:
    names = ["Zoë", "Ñoño ĀĒĪŌŪ", "王" * 30, "\u2028" * 5 + "Eve", "ë" * 32, "A" * 32]
    for name in names:
        segments, _, _ = _render(name)
        assert segments <= 2, name


async def test_crm_headers_are_clean(sessions: Sessions) -> None:
    recv = Receiver()
    app = web.Application()
    app.router.add_post("/hook", recv.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            url = str(server.make_url("/hook"))
            hooks, dispatcher = build(
                crm_settings(("crm", url, tuple(CrmEventType))), sessions, http, CrmClock()
            )
            # The key of a missed call holds the PBX's Linkedid: a hostile PBX chooses it.
            key = "missed_call:default:1.2\u2028X-Evil: 1\x0b"
            await hooks.emit(CrmEventType.MISSED_CALL, key, {"contact": {"phone": CALLER}})
            assert await dispatcher.deliver_due() == 1
    finally:
        await server.close()
    [(headers, _)] = recv.posts
    assert headers["Idempotency-Key"] == "missed_call:default:1.2 X-Evil: 1"
    assert "X-Evil" not in headers
