"""Provider callbacks through a real aiohttp server, a fake HMAC adapter and a real database."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.inbound.forwarding import Forwarder, ForwardingSecrets
from asterisk_textback.inbound.inbox import Inbox
from asterisk_textback.inbound.settings import ConsentSettings, ForwardingSettings
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store import contacts
from asterisk_textback.store.models import InboundMessage, Message
from asterisk_textback.web.settings import WebhookServerSettings
from asterisk_textback.web.webhooks import webhook_app
from tests.inbound.helpers import (
    CALLER,
    DID,
    FAKE_SIGNATURE,
    FakeAdapter,
    add_call,
    fake_sign,
    inbound_event,
)

Sessions = async_sessionmaker[AsyncSession]
BASE = "https://sms.example.com/textback"


class Hook:
    """A client for the webhook server that signs like the fake provider."""

    def __init__(self, client: TestClient[web.Request, web.Application], base: str | None) -> None:
        self.client = client
        self.base = base

    def url(self, path: str) -> str:
        """The public URL the provider believes it calls."""
        return (self.base or str(self.client.make_url(""))).rstrip("/") + path

    async def post(
        self, events: list[dict[str, Any]] | bytes, path: str = "/webhooks/fake", **headers: str
    ) -> aiohttp.ClientResponse:
        """POST ``events`` signed over the public URL (unless a signature header is given)."""
        body = events if isinstance(events, bytes) else json.dumps({"events": events}).encode()
        headers.setdefault(FAKE_SIGNATURE, fake_sign(self.url(path), body))
        return await self.client.post(path, data=body, headers=headers)


class Staff:
    """The staff's webhook endpoint (forwarded replies land here)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        """Record one forwarded reply."""
        self.posts.append(await request.json())
        return web.Response()


@pytest.fixture
async def staff() -> AsyncIterator[tuple[Staff, str]]:
    recv = Staff()
    app = web.Application()
    app.router.add_post("/staff", recv.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield recv, str(server.make_url("/staff"))
    finally:
        await server.close()


MakeHook = Callable[..., Any]


@pytest.fixture
async def make_hook(
    session_factory: Sessions, staff: tuple[Staff, str]
) -> AsyncIterator[Callable[..., Any]]:
    clients: list[TestClient[web.Request, web.Application]] = []
    http = aiohttp.ClientSession()

    async def make(**settings: Any) -> tuple[Hook, Inbox, FakeAdapter]:
        forwarder = Forwarder.build(
            ForwardingSettings(webhook_url=staff[1]), session_factory, http, ForwardingSecrets()
        )
        consent = ConsentSettings(contact="+1 555 0100")
        inbox = Inbox(session_factory, consent, business_name="Acme Plumbing", forwarder=forwarder)
        adapter = FakeAdapter()
        app = webhook_app(
            {"fake": adapter}, inbox, WebhookServerSettings(**settings), sweep_seconds=None
        )
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return Hook(client, settings.get("public_base_url")), inbox, adapter

    yield make
    for client in clients:
        await client.close()
    await http.close()


async def _count(sessions: Sessions, model: type[Any]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _messages(sessions: Sessions, kind: str) -> list[Message]:
    async with sessions() as session:
        return list((await session.scalars(select(Message).where(Message.kind == kind))).all())


async def test_forged_and_unsigned_refused_nothing_stored(
    make_hook: MakeHook, session_factory: Sessions
) -> None:
    hook, _, _ = await make_hook()
    stop = [inbound_event("m1", "STOP")]
    forged = await hook.post(stop, **{FAKE_SIGNATURE: "00" * 32})
    unsigned = await hook.client.post("/webhooks/fake", data=json.dumps({"events": stop}))
    assert forged.status == 403
    assert unsigned.status == 401
    assert await _count(session_factory, InboundMessage) == 0
    async with session_factory() as session:
        assert await contacts.get_contact(session, CALLER) is None


async def test_unknown_provider_and_bad_payload(make_hook: MakeHook) -> None:
    hook, _, _ = await make_hook()
    assert (await hook.post([], path="/webhooks/nope")).status == 404
    assert (await hook.post(b"{not json")).status == 400
    assert (await hook.post([{"type": "status", "id": "x", "state": "weird"}])).status == 400


async def test_duplicate_processed_once(make_hook: MakeHook, session_factory: Sessions) -> None:
    hook, inbox, _ = await make_hook()
    await add_call(session_factory)
    for _ in range(3):
        assert (await hook.post([inbound_event("m1", "Can you call me back?")])).status == 200
    await inbox.join()
    assert await _count(session_factory, InboundMessage) == 1


async def test_oversized_refused(make_hook: MakeHook, session_factory: Sessions) -> None:
    hook, _, _ = await make_hook(max_body_bytes=2048)
    big = [inbound_event("m1", "x" * 4000)]
    assert (await hook.post(big)).status == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000  # no Content-Length: refused once the limit is crossed

    response = await hook.client.post(
        "/webhooks/fake", data=chunks(), headers={FAKE_SIGNATURE: "0"}
    )
    assert response.status == 413
    assert await _count(session_factory, InboundMessage) == 0


async def test_stop_committed_before_200_and_confirmed_once(
    make_hook: MakeHook, session_factory: Sessions
) -> None:
    hook, _, _ = await make_hook()
    await add_call(session_factory, texted=MessageStatus.QUEUED)
    assert (await hook.post([inbound_event("s1", " Stop. ")])).status == 200
    async with session_factory() as session:  # a fresh session: what is committed
        contact = await contacts.get_contact(session, CALLER)
    assert contact is not None
    assert contact.opted_out
    assert (await hook.post([inbound_event("s2", "STOP!!")])).status == 200
    assert (await hook.post([inbound_event("s1", " Stop. ")])).status == 200  # a retry
    [confirm] = await _messages(session_factory, "optout_confirm")
    assert confirm.to_e164 == CALLER
    assert confirm.sender == DID
    assert confirm.body.startswith("Acme Plumbing: you are unsubscribed")
    [textback] = await _messages(session_factory, "textback")
    assert textback.status is MessageStatus.CANCELLED  # the STOP race: never sent


async def test_help_answered(make_hook: MakeHook, session_factory: Sessions) -> None:
    hook, _, _ = await make_hook()
    assert (await hook.post([inbound_event("h1", "HELP")])).status == 200
    [help_text] = await _messages(session_factory, "help")
    assert help_text.body == (
        "Acme Plumbing: help at +1 555 0100. Msg frequency varies. Msg & data rates may apply. "
        "Reply STOP to opt out."
    )


async def test_reply_forwarded_with_call_details(
    make_hook: MakeHook, session_factory: Sessions, staff: tuple[Staff, str]
) -> None:
    hook, inbox, _ = await make_hook()
    call = await add_call(session_factory)
    assert (await hook.post([inbound_event("r1", "Yes please call me")])).status == 200
    await inbox.join()
    [post] = staff[0].posts
    assert post["from_e164"] == CALLER
    assert post["caller_name"] == "Jane Roe"
    assert post["call_outcome"] == "missed_voicemail"
    assert post["voicemail_mailbox"] == "100@default"
    assert post["body"] == "Yes please call me"
    async with session_factory() as session:
        row = await session.scalar(select(InboundMessage))
    assert row is not None
    assert row.call_id == call.id
    assert row.forwarded_at is not None


async def test_delivery_report(make_hook: MakeHook, session_factory: Sessions) -> None:
    hook, _, _ = await make_hook()
    call = await add_call(session_factory)
    async with session_factory() as session:
        message = await session.scalar(select(Message).where(Message.call_id == call.id))
        assert message is not None
        message.provider, message.provider_message_id = "fake", "SM9"
        await session.commit()
    event = {"type": "status", "id": "SM9", "state": "delivered"}
    assert (await hook.post([event], path="/webhooks/fake/status")).status == 200
    [textback] = await _messages(session_factory, "textback")
    assert textback.status is MessageStatus.DELIVERED


async def test_public_url_behind_proxy(make_hook: MakeHook) -> None:
    hook, _, adapter = await make_hook(public_base_url=BASE + "/")
    path = "/webhooks/fake/inbound?a=1&b=%20x"
    assert (await hook.post([inbound_event("q1", "hi")], path=path)).status == 200
    assert adapter.urls == [BASE + path]


async def test_forwarded_headers_only_when_trusted(make_hook: MakeHook) -> None:
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.example.com"}
    for trusted, expected in ((False, None), (True, "https://sms.example.com/webhooks/fake")):
        hook, _, adapter = await make_hook(trust_forwarded_headers=trusted)
        await hook.post([inbound_event("f1", "hi")], **headers)
        assert adapter.urls[0] == (expected or hook.url("/webhooks/fake"))


async def test_fuzz_never_500_never_stored(make_hook: MakeHook, session_factory: Sessions) -> None:
    hook, _, _ = await make_hook()
    rng = random.Random(4)
    statuses = set()
    for _ in range(300):
        body = rng.randbytes(rng.randrange(0, 400))
        if rng.random() < 0.5:
            body = json.dumps({"events": [inbound_event(str(rng.random()), "STOP")]}).encode()
        headers = {FAKE_SIGNATURE: rng.randbytes(32).hex()} if rng.random() < 0.7 else {}
        if rng.random() < 0.3:
            headers["Content-Type"] = rng.choice(
                ["application/json", "text/plain; charset=latin-1"]
            )
        response = await hook.client.post("/webhooks/fake", data=body, headers=headers)
        statuses.add(response.status)
    assert statuses <= {401, 403}
    assert await _count(session_factory, InboundMessage) == 0
