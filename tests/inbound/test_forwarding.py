"""Forwarding replies to staff: real SMTP (STARTTLS, login), signed webhook, SMS, retries."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from email import message_from_bytes, policy
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.errors import ConfigError
from asterisk_textback.inbound.forwarding import SIGNATURE_HEADER, Forwarder, ForwardingSecrets
from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.inbound.settings import EmailSettings, ForwardingSettings
from asterisk_textback.store import inbound
from asterisk_textback.store.models import Message
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.templates.segments import count_segments
from tests.inbound.helpers import CALLER, DID, T0, SmtpServer, add_call, self_signed

Sessions = async_sessionmaker[AsyncSession]
KEY = b"staff-hook-key"


class Receiver:
    """A local aiohttp server standing in for the staff's webhook endpoint."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.status = 200

    async def handle(self, request: web.Request) -> web.Response:
        """Record the post; answer ``self.status``."""
        self.posts.append((dict(request.headers), await request.read()))
        return web.Response(status=self.status)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    recv = Receiver()
    app = web.Application()
    app.router.add_post("/hook", recv.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield recv, str(server.make_url("/hook"))
    finally:
        await server.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _reply(sessions: Sessions, body: str = "Yes please call me after 5") -> int:
    await add_call(sessions)
    new = inbound.NewInbound(
        "fake", "m1", CALLER, DID, body, T0 + timedelta(minutes=5), InboundKind.REPLY
    )
    async with unit_of_work(sessions) as session:
        return (await inbound.record_inbound(session, new, now=T0)).inbound.id


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = T0.timestamp() + 600

    def __call__(self) -> float:
        return self.now


async def test_email_over_starttls_with_login(
    session_factory: Sessions, http: aiohttp.ClientSession
) -> None:
    server_ctx, client_ctx = self_signed()
    smtp = SmtpServer(tls=server_ctx, login=("textback", "s3cret"))
    await smtp.start()
    try:
        email = EmailSettings(
            host="127.0.0.1",
            port=smtp.port,
            username="textback",
            password_env="SMTP_PW",
            from_address="textback@example.com",
            to=("desk@example.com",),
        )
        settings = ForwardingSettings(email=email, timezone="America/New_York")
        secrets = ForwardingSecrets.from_env(settings, {"SMTP_PW": "s3cret"})
        forwarder = Forwarder.build(
            settings, session_factory, http, secrets, ssl_context=client_ctx, clock=Clock()
        )
        inbound_id = await _reply(session_factory)
        assert await forwarder.forward(inbound_id)
    finally:
        await smtp.stop()
    [mail] = smtp.mails
    assert mail.tls
    assert mail.user == "textback"
    assert mail.recipients == ["desk@example.com"]
    parsed = message_from_bytes(mail.data, policy=policy.default)
    assert parsed["Subject"] == f"Text reply from Jane Roe ({CALLER})"
    text = parsed.get_content()
    assert "Yes please call me after 5" in text
    # The call's time in the business's zone, for people; the outcome and reason in words.
    assert "Missed call Tue, Dec 1, 10:00 AM (missed, left a voicemail; nobody picked up)" in text
    assert "Received Tue, Dec 1, 10:05 AM on" in text
    assert "T10:00:00" not in text
    assert "missed_voicemail" not in text
    assert "no_answer" not in text
    assert "mailbox 100@default" in text


async def test_missing_secret_is_a_config_error() -> None:
    settings = ForwardingSettings(webhook_url="http://x", hmac_secret_env="HOOK_KEY")
    with pytest.raises(ConfigError, match="HOOK_KEY"):
        ForwardingSecrets.from_env(settings, {})


async def test_signed_webhook(
    session_factory: Sessions, http: aiohttp.ClientSession, receiver: tuple[Receiver, str]
) -> None:
    recv, url = receiver
    settings = ForwardingSettings(webhook_url=url)
    forwarder = Forwarder.build(
        settings, session_factory, http, ForwardingSecrets(webhook_key=KEY), clock=Clock()
    )
    inbound_id = await _reply(session_factory)
    assert await forwarder.forward(inbound_id)
    [(headers, body)] = recv.posts
    expected = hmac.new(KEY, body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}"
    data: dict[str, Any] = json.loads(body)
    assert data["type"] == "reply"
    assert data["from_e164"] == CALLER
    assert data["caller_name"] == "Jane Roe"
    assert data["call_outcome"] == "missed_voicemail"  # programs get the raw values
    assert data["call_reason"] == "no_answer"
    assert data["call_started_at"] == "2026-12-01T15:00:00+00:00"
    assert data["received_at"] == "2026-12-01T15:05:00+00:00"
    assert data["voicemail_mailbox"] == "100@default"
    assert data["body"] == "Yes please call me after 5"


async def test_failed_channel_retried_alone(
    session_factory: Sessions, http: aiohttp.ClientSession, receiver: tuple[Receiver, str]
) -> None:
    recv, url = receiver
    recv.status = 503
    smtp = SmtpServer()
    await smtp.start()
    clock = Clock()
    try:
        email = EmailSettings(
            host="127.0.0.1",
            port=smtp.port,
            starttls=False,
            from_address="textback@example.com",
            to=("desk@example.com",),
        )
        settings = ForwardingSettings(email=email, webhook_url=url, retry_min_seconds=60)
        forwarder = Forwarder.build(
            settings, session_factory, http, ForwardingSecrets(), clock=clock
        )
        inbound_id = await _reply(session_factory)
        assert not await forwarder.forward(inbound_id)
        async with session_factory() as session:
            row = await inbound.get_inbound(session, inbound_id)
        assert row is not None
        assert row.forwarded_at is None
        assert row.forward_done == "email"
        assert "HTTP 503" in (row.forward_error or "")
        assert await forwarder.forward_pending() == 0  # backing off
        recv.status = 200
        clock.now += 61
        assert await forwarder.forward_pending() == 1
    finally:
        await smtp.stop()
    assert len(smtp.mails) == 1  # the email was not sent twice
    assert len(recv.posts) == 2


async def test_smtp_refusal_is_retried(
    session_factory: Sessions, http: aiohttp.ClientSession
) -> None:
    smtp = SmtpServer(fail=True)
    await smtp.start()
    clock = Clock()
    try:
        email = EmailSettings(
            host="127.0.0.1",
            port=smtp.port,
            starttls=False,
            from_address="t@example.com",
            to=("desk@example.com",),
        )
        forwarder = Forwarder.build(
            ForwardingSettings(email=email), session_factory, http, ForwardingSecrets(), clock=clock
        )
        inbound_id = await _reply(session_factory)
        assert not await forwarder.forward(inbound_id)
        smtp.fail = False
        clock.now += 3600
        assert await forwarder.forward_pending() == 1
    finally:
        await smtp.stop()
    assert len(smtp.mails) == 1


async def test_sms_to_staff_queued_once(
    session_factory: Sessions, http: aiohttp.ClientSession
) -> None:
    woken: list[bool] = []
    settings = ForwardingSettings(sms_to=("+12125550199",))
    forwarder = Forwarder.build(
        settings,
        session_factory,
        http,
        ForwardingSecrets(),
        clock=Clock(),
        on_queued=lambda: woken.append(True),
    )
    inbound_id = await _reply(session_factory)
    assert await forwarder.forward(inbound_id)
    assert not await forwarder.forward(inbound_id)  # already forwarded: nothing to do
    async with session_factory() as session:
        [message] = (await session.scalars(select(Message).where(Message.kind == "forward"))).all()
    assert message.to_e164 == "+12125550199"
    assert message.sender == DID
    assert "Jane Roe" in message.body
    assert message.idempotency_key == f"forward:{inbound_id}:+12125550199"
    assert woken == [True]


@pytest.mark.parametrize(
    ("forwarding_zone", "expected"),
    [
        (None, "Tue, Dec 1, 7:00 AM"),  # no forwarding.timezone: the business's (Los Angeles)
        ("America/Chicago", "Tue, Dec 1, 9:00 AM"),  # set in the file: that one
    ],
)
async def test_sms_to_staff_reads_in_words_and_local_time(
    session_factory: Sessions,
    http: aiohttp.ClientSession,
    forwarding_zone: str | None,
    expected: str,
) -> None:
    zone = {} if forwarding_zone is None else {"timezone": forwarding_zone}
    settings = ForwardingSettings.model_validate({"sms_to": ["+12125550199"], **zone})
    forwarder = Forwarder.build(
        settings,
        session_factory,
        http,
        ForwardingSecrets(),
        clock=Clock(),
        business_zone=ZoneInfo("America/Los_Angeles"),
    )
    inbound_id = await _reply(session_factory)
    assert await forwarder.forward(inbound_id)
    async with session_factory() as session:
        [message] = (await session.scalars(select(Message).where(Message.kind == "forward"))).all()
    later = expected.replace(":00 AM", ":05 AM")
    assert message.body.splitlines() == [
        f"Text reply from Jane Roe ({CALLER}):",
        "Yes please call me after 5",
        "",
        f"Missed call {expected} (missed, left a voicemail; nobody picked up)",
        "Voicemail left in mailbox 100@default",
        f"Received {later} on {DID}",
    ]
    info = count_segments(message.body)
    assert (message.segments, message.encoding) == (info.segments, info.encoding)


async def test_a_reply_without_a_call_says_when_it_came(
    session_factory: Sessions, http: aiohttp.ClientSession
) -> None:
    new = inbound.NewInbound(
        "fake", "m9", CALLER, DID, "Who is this?", T0 + timedelta(hours=30), InboundKind.REPLY
    )
    async with unit_of_work(session_factory) as session:
        inbound_id = (await inbound.record_inbound(session, new, now=T0)).inbound.id
    settings = ForwardingSettings(sms_to=("+12125550199",), timezone="America/New_York")
    forwarder = Forwarder.build(settings, session_factory, http, ForwardingSecrets(), clock=Clock())
    assert await forwarder.forward(inbound_id)
    async with session_factory() as session:
        [message] = (await session.scalars(select(Message).where(Message.kind == "forward"))).all()
    assert message.body.splitlines() == [
        f"Text reply from {CALLER}:",
        "Who is this?",
        "",
        f"Received Wed, Dec 2, 4:00 PM on {DID}",
    ]
