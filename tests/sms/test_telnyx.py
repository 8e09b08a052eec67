"""Telnyx adapter against a local fake of its v2 API, and its Ed25519 webhook verification."""

from __future__ import annotations

import json
import random
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from asterisk_textback.errors import (
    ConfigError,
    ProviderAuthError,
    ProviderError,
    ProviderNumberError,
    ProviderOptedOutError,
    ProviderOutcomeUnknownError,
    ProviderTransientError,
    WebhookAuthError,
    WebhookPayloadError,
)
from asterisk_textback.sms.base import (
    DeliveryReport,
    DeliveryState,
    FailureKind,
    InboundSms,
    OutboundSms,
    WebhookRequest,
)
from asterisk_textback.sms.vendors.telnyx import TelnyxProvider, TelnyxSettings, TelnyxWebhook
from tests.sms import fake_telnyx as ft
from tests.sms.fake_telnyx import FakeTelnyx, Reply, fake_telnyx

SMS = OutboundSms(
    message_id=1,
    idempotency_key="pbx1:1700000000-12:textback",
    to="+12125551000",
    sender="+15555550100",
    body="Sorry we missed your call – we'll ring you back",
)
NOW = 1_700_000_000


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelnyx]:
    async with fake_telnyx() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _provider(
    fake: FakeTelnyx, http: aiohttp.ClientSession, key: str = ft.API_KEY, **options: object
) -> TelnyxProvider:
    settings = TelnyxSettings.model_validate(
        {"api_base_url": fake.url, "timeout_seconds": 2.0, **options}
    )
    return TelnyxProvider(settings, http, key)


async def test_send_posts_the_documented_request(
    fake: FakeTelnyx, http: aiohttp.ClientSession
) -> None:
    provider = _provider(
        fake, http, messaging_profile_id="prof-1", webhook_url="https://tb.example.com/wh/telnyx"
    )
    result = await provider.send(SMS)
    assert result.provider == "telnyx"
    (body,) = fake.requests
    assert body == {
        "to": "+12125551000",
        "text": SMS.body,
        "from": "+15555550100",
        "messaging_profile_id": "prof-1",
        "webhook_url": "https://tb.example.com/wh/telnyx",
    }
    headers = fake.headers[0]
    assert headers["Authorization"] == f"Bearer {ft.API_KEY}"
    assert headers["Content-Type"] == "application/json"
    assert headers["Idempotency-Key"] == SMS.idempotency_key
    assert result.provider_message_id == fake.replies[0]["data"]["id"]


async def test_retry_with_the_same_key_is_replayed_not_resent(
    fake: FakeTelnyx, http: aiohttp.ClientSession
) -> None:
    provider = _provider(fake, http)
    first = await provider.send(SMS)
    again = await provider.send(SMS)  # byte-identical body, so Telnyx replays the answer
    assert again == first
    assert fake.raw[0] == fake.raw[1]


async def test_keys_outside_telnyx_format_are_hashed(
    fake: FakeTelnyx, http: aiohttp.ClientSession
) -> None:
    linkedid = OutboundSms(1, "pbx1:1700000000.12:textback", "+12125551000", "+1555", "hi")
    await _provider(fake, http).send(linkedid)
    await _provider(fake, http).send(linkedid)
    key = fake.headers[0]["Idempotency-Key"]
    assert key.startswith("tb-")
    assert len(key) == 67
    assert fake.headers[1]["Idempotency-Key"] == key  # stable across retries


async def test_profile_alone_when_the_text_has_no_sender(
    fake: FakeTelnyx, http: aiohttp.ClientSession
) -> None:
    no_sender = OutboundSms(1, "k", "+12125551000", "", "hi")
    await _provider(fake, http, messaging_profile_id="prof-1").send(no_sender)
    assert "from" not in fake.requests[0]
    assert fake.requests[0]["messaging_profile_id"] == "prof-1"
    with pytest.raises(ProviderAuthError):
        await _provider(fake, http).send(no_sender)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (ft.STOP_BLOCKED, ProviderOptedOutError),  # a 403, but the code says opted out
        (ft.INVALID_TO, ProviderNumberError),
        (ft.NOT_ROUTABLE, ProviderNumberError),
        (ft.INVALID_NUMBER, ProviderNumberError),
        (ft.INVALID_FROM, ProviderAuthError),
        (ft.TOLL_FREE_UNVERIFIED, ProviderAuthError),
        (ft.UNREGISTERED_10DLC, ProviderAuthError),
        (ft.PROFILE_DISABLED, ProviderAuthError),
        (ft.SERVER_ERROR, ProviderTransientError),
        (Reply(503, raw="upstream down"), ProviderTransientError),
        (Reply(404, raw="no such route"), ProviderAuthError),
        (ft.MALFORMED_OK, ProviderOutcomeUnknownError),
    ],
)
async def test_vendor_errors_map_to_our_errors(
    fake: FakeTelnyx, http: aiohttp.ClientSession, reply: Reply, error: type[Exception]
) -> None:
    fake.script = [reply]
    with pytest.raises(error) as caught:
        await _provider(fake, http).send(SMS)
    assert type(caught.value) is error


async def test_unknown_code_is_a_plain_provider_error(
    fake: FakeTelnyx, http: aiohttp.ClientSession
) -> None:
    fake.script = [ft.UNKNOWN_CODE]
    with pytest.raises(ProviderError) as caught:
        await _provider(fake, http).send(SMS)
    assert type(caught.value) is ProviderError
    assert "40304" in str(caught.value)


async def test_wrong_api_key_pauses_sending(fake: FakeTelnyx, http: aiohttp.ClientSession) -> None:
    with pytest.raises(ProviderAuthError, match="10009"):
        await _provider(fake, http, key="KEY_wrong").send(SMS)


async def test_429_honours_retry_after(fake: FakeTelnyx, http: aiohttp.ClientSession) -> None:
    fake.script = [ft.RATE_LIMITED]
    with pytest.raises(ProviderTransientError) as caught:
        await _provider(fake, http).send(SMS)
    assert caught.value.retry_after == 2.0


async def test_retry_after_as_http_date(fake: FakeTelnyx, http: aiohttp.ClientSession) -> None:
    later = datetime.now(UTC).timestamp() + 120
    stamp = datetime.fromtimestamp(later, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    fake.script = [Reply(503, ft._errors("10007", "Unexpected error"), {"Retry-After": stamp})]
    with pytest.raises(ProviderTransientError) as caught:
        await _provider(fake, http).send(SMS)
    assert caught.value.retry_after is not None
    assert 100 < caught.value.retry_after <= 121


async def test_timeout_is_outcome_unknown(fake: FakeTelnyx, http: aiohttp.ClientSession) -> None:
    fake.script = [Reply(delay=1.0)]
    with pytest.raises(ProviderOutcomeUnknownError):
        await _provider(fake, http, timeout_seconds=0.2).send(SMS)


async def test_connection_refused_is_transient(http: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = TelnyxSettings.model_validate({"api_base_url": f"http://127.0.0.1:{port}"})
    with pytest.raises(ProviderTransientError):
        await TelnyxProvider(settings, http, ft.API_KEY).send(SMS)


@pytest.mark.parametrize(
    ("kind", "line_type", "capable"),
    [
        ("mobile", "mobile", True),
        ("fixed line", "landline", False),
        ("voip", "voip", None),
        ("toll free", "toll_free", None),
    ],
)
async def test_number_lookup(
    fake: FakeTelnyx,
    http: aiohttp.ClientSession,
    kind: str,
    line_type: str,
    capable: bool | None,
) -> None:
    fake.lookups["+12125551000"] = kind
    found = await _provider(fake, http).lookup("+12125551000")
    assert (found.number, found.line_type, found.sms_capable) == (
        "+12125551000",
        line_type,
        capable,
    )
    assert found.carrier == "T-MOBILE USA, INC."
    assert fake.lookup_paths == ["/v2/number_lookup/+12125551000?type=carrier"]


async def test_lookup_errors(fake: FakeTelnyx, http: aiohttp.ClientSession) -> None:
    with pytest.raises(ProviderNumberError):
        await _provider(fake, http).lookup("+10000000000")
    fake.script = [Reply(200, {"data": {}}, delay=1.0)]
    with pytest.raises(ProviderTransientError):  # a read: safe to repeat after a timeout
        await _provider(fake, http, timeout_seconds=0.2).lookup("+12125551000")


# --- webhooks ---------------------------------------------------------------------------

KEY = Ed25519PrivateKey.generate()


def _hook(tolerance: float = 300.0) -> TelnyxWebhook:
    return TelnyxWebhook(ft.public_key_b64(KEY), tolerance)


def _request(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest("POST", "https://tb.example.com/webhooks/telnyx", headers, body)


def _signed(body: bytes, stamp: int = NOW, key: Ed25519PrivateKey = KEY) -> WebhookRequest:
    return _request(body, ft.signed_headers(key, body, stamp))


def test_delivered_report() -> None:
    (event,) = _hook().parse(_signed(ft.message_event("message.finalized")), NOW)
    assert event == DeliveryReport(
        provider="telnyx",
        provider_message_id="40385f64-5717-4562-b3fc-2c963f66afa6",
        state=DeliveryState.DELIVERED,
        at=datetime(2019, 12, 9, 21, 32, 14, 148000, UTC).timestamp(),
    )


def test_sent_report() -> None:
    (event,) = _hook().parse(_signed(ft.message_event("message.sent", status="sent")), NOW)
    assert isinstance(event, DeliveryReport)
    assert event.state is DeliveryState.SENT


@pytest.mark.parametrize(
    ("status", "code", "state", "failure"),
    [
        ("delivery_failed", "40001", DeliveryState.UNDELIVERED, FailureKind.NUMBER),
        ("sending_failed", "40300", DeliveryState.FAILED, FailureKind.OPTED_OUT),
        ("delivery_failed", "40002", DeliveryState.UNDELIVERED, FailureKind.TRANSIENT),
        ("delivery_failed", "40010", DeliveryState.UNDELIVERED, FailureKind.AUTH),
        ("delivery_failed", "40008", DeliveryState.UNDELIVERED, FailureKind.OTHER),
        ("expired", "40014", DeliveryState.UNDELIVERED, FailureKind.TRANSIENT),
    ],
)
def test_failed_reports_carry_the_mapped_failure(
    status: str, code: str, state: DeliveryState, failure: FailureKind
) -> None:
    errors = [{"code": code, "title": "Some title", "detail": "Some detail"}]
    body = ft.message_event("message.finalized", status=status, errors=errors)
    (event,) = _hook().parse(_signed(body), NOW)
    assert isinstance(event, DeliveryReport)
    assert (event.state, event.failure, event.error_code) == (state, failure, code)
    assert event.error_detail == "Some title – Some detail"


def test_inbound_message() -> None:
    body = ft.message_event("message.received", message_id="7ee4", text="STOP")
    (event,) = _hook().parse(_signed(body), NOW)
    assert event == InboundSms(
        provider="telnyx",
        provider_message_id="7ee4",
        from_number="+18665550001",
        to_number="+18445550001",
        body="STOP",
        at=datetime(2019, 12, 9, 21, 32, 14, 148000, UTC).timestamp(),
    )


def test_other_event_types_are_ignored() -> None:
    body = json.dumps({"data": {"event_type": "call.initiated", "payload": {}}}).encode()
    assert _hook().parse(_signed(body), NOW) == []


def test_timestamp_within_tolerance_accepted() -> None:
    body = ft.message_event("message.finalized")
    assert _hook().parse(_signed(body, NOW - 299), NOW)
    assert _hook(tolerance=10).parse(_signed(body, NOW - 10), NOW)


def _tampered() -> WebhookRequest:
    good = _signed(ft.message_event("message.finalized"))
    return _request(good.body.replace(b"delivered", b"delivery_failed"), dict(good.headers))


def _restamped() -> WebhookRequest:
    good = _signed(ft.message_event("message.finalized"))
    return _request(good.body, {**good.headers, "telnyx-timestamp": str(NOW - 1)})


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(_signed(ft.message_event("message.finalized"), NOW - 301), id="stale"),
        pytest.param(_signed(ft.message_event("message.finalized"), NOW + 301), id="future"),
        pytest.param(
            _signed(ft.message_event("message.finalized"), key=Ed25519PrivateKey.generate()),
            id="forged",
        ),
        pytest.param(_tampered(), id="tampered-body"),
        pytest.param(_restamped(), id="tampered-timestamp"),
        pytest.param(_request(ft.message_event("message.finalized"), {}), id="unsigned"),
        pytest.param(
            _request(b"{}", {"telnyx-signature-ed25519": "AAAA", "telnyx-timestamp": str(NOW)}),
            id="short-signature",
        ),
        pytest.param(
            _request(b"{}", {"telnyx-signature-ed25519": "***", "telnyx-timestamp": str(NOW)}),
            id="not-base64",
        ),
        pytest.param(
            _request(b"{}", {"telnyx-signature-ed25519": "AAAA", "telnyx-timestamp": "1e9"}),
            id="bad-timestamp",
        ),
    ],
)
def test_refused_requests(request_: WebhookRequest) -> None:
    with pytest.raises(WebhookAuthError):
        _hook().parse(request_, NOW)


def test_tolerance_is_configurable() -> None:
    with pytest.raises(WebhookAuthError):
        _hook(tolerance=10).parse(_signed(ft.message_event("message.sent"), NOW - 11), NOW)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"data": 1}',
        b'{"data": {"event_type": "message.received", "payload": {"id": "x"}}}',
    ],
)
def test_signed_but_malformed_bodies(body: bytes) -> None:
    with pytest.raises(WebhookPayloadError):
        _hook().parse(_signed(body), NOW)


def test_fuzzed_requests_are_refused_never_crash() -> None:
    rng = random.Random(4)
    hook = _hook()
    for _ in range(500):
        body = rng.randbytes(rng.randrange(0, 300))
        headers = {
            "telnyx-signature-ed25519": rng.choice(["", "AAAA", rng.randbytes(64).hex()]),
            "telnyx-timestamp": rng.choice(["", str(NOW), str(rng.randrange(10**12))]),
        }
        with pytest.raises(WebhookAuthError):
            hook.parse(_request(body, headers), NOW)


def test_settings() -> None:
    ok = TelnyxSettings.model_validate({"public_key": ft.public_key_b64(KEY)})
    assert str(ok.api_base_url) == "https://api.telnyx.com/"
    assert ok.webhook_tolerance_seconds == 300.0
    with pytest.raises(ValidationError):
        TelnyxSettings.model_validate({"public_key": "bm90IGEga2V5"})
    with pytest.raises(ValidationError):
        TelnyxSettings.model_validate({"api_key": "KEY_inline"})  # secrets by env var name
    with pytest.raises(ValidationError):
        ok.timeout_seconds = 1
    with pytest.raises(ConfigError):
        TelnyxWebhook("bm90IGEga2V5")
