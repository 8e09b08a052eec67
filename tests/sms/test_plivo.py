"""Plivo adapter against a local fake of its Message API, and its V3 callback verification."""

from __future__ import annotations

import dataclasses
import random
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from pydantic import ValidationError

from asterisk_textback.errors import (
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
from asterisk_textback.sms.vendors.plivo import (
    PlivoProvider,
    PlivoSettings,
    PlivoWebhook,
    v3_signature,
)
from tests.sms import fake_plivo as fp
from tests.sms.fake_plivo import FakePlivo, Reply, fake_plivo

SMS = OutboundSms(
    message_id=1,
    idempotency_key="pbx1:1700000000.12:textback",
    to="+12125551000",
    sender="+14155550100",
    body="Sorry we missed your call – we'll ring you back",
)
URL = "https://textback.example.com/webhooks/plivo"
NONCE = "05429567804466091622"


@pytest.fixture
async def fake() -> AsyncIterator[FakePlivo]:
    async with fake_plivo() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _provider(
    fake: FakePlivo, http: aiohttp.ClientSession, token: str = fp.AUTH_TOKEN, **options: object
) -> PlivoProvider:
    settings = PlivoSettings.model_validate(
        {"auth_id": fp.AUTH_ID, "api_base_url": fake.url, "timeout_seconds": 2.0, **options}
    )
    return PlivoProvider(settings, http, token)


async def test_send_posts_the_documented_request(
    fake: FakePlivo, http: aiohttp.ClientSession
) -> None:
    provider = _provider(fake, http, status_url="https://tb.example.com/webhooks/plivo")
    result = await provider.send(SMS)
    assert fake.paths == [f"/v1/Account/{fp.AUTH_ID}/Message/"]
    assert fake.requests == [
        {
            "src": "14155550100",
            "dst": "12125551000",
            "text": SMS.body,
            "type": "sms",
            "url": "https://tb.example.com/webhooks/plivo",
            "method": "POST",
        }
    ]
    assert fake.headers[0]["Content-Type"] == "application/json"
    assert result.provider == "plivo"
    assert result.provider_message_id == fake.replies[0]["message_uuid"][0]


async def test_powerpack_only_without_a_sender(
    fake: FakePlivo, http: aiohttp.ClientSession
) -> None:
    provider = _provider(fake, http, powerpack_uuid="pp-1")
    await provider.send(SMS)  # the DID's own number wins: replies land on the line called
    await provider.send(OutboundSms(2, "k2", "+12125551000", "", "hi"))
    assert "powerpack_uuid" not in fake.requests[0]
    assert fake.requests[1]["powerpack_uuid"] == "pp-1"
    assert "src" not in fake.requests[1]
    with pytest.raises(ProviderAuthError):
        await _provider(fake, http).send(OutboundSms(3, "k3", "+12125551000", "", "hi"))


async def test_wrong_token_pauses_sending(fake: FakePlivo, http: aiohttp.ClientSession) -> None:
    with pytest.raises(ProviderAuthError, match="401"):
        await _provider(fake, http, token="wrong").send(SMS)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (fp.INVALID_DST, ProviderNumberError),
        (fp.LANDLINE, ProviderNumberError),
        (fp.OPTED_OUT, ProviderOptedOutError),
        (fp.BAD_SRC, ProviderAuthError),
        (fp.NO_CREDIT, ProviderAuthError),
        (fp.UNREGISTERED, ProviderAuthError),
        (fp.NOT_FOUND, ProviderAuthError),
        (fp.SERVER_ERROR, ProviderTransientError),
        (Reply(502, raw="bad gateway"), ProviderTransientError),
        (fp.MALFORMED_OK, ProviderOutcomeUnknownError),
    ],
)
async def test_vendor_errors_map_to_our_errors(
    fake: FakePlivo, http: aiohttp.ClientSession, reply: Reply, error: type[Exception]
) -> None:
    fake.script = [reply]
    with pytest.raises(error) as caught:
        await _provider(fake, http).send(SMS)
    assert type(caught.value) is error


async def test_generic_400_is_not_held_against_the_number(
    fake: FakePlivo, http: aiohttp.ClientSession
) -> None:
    fake.script = [fp.BAD_PARAM]
    with pytest.raises(ProviderError) as caught:
        await _provider(fake, http).send(SMS)
    assert type(caught.value) is ProviderError


async def test_429_honours_retry_after(fake: FakePlivo, http: aiohttp.ClientSession) -> None:
    fake.script = [fp.RATE_LIMITED]
    with pytest.raises(ProviderTransientError) as caught:
        await _provider(fake, http).send(SMS)
    assert caught.value.retry_after == 3.0


async def test_timeout_is_outcome_unknown(fake: FakePlivo, http: aiohttp.ClientSession) -> None:
    fake.script = [Reply(delay=1.0)]
    with pytest.raises(ProviderOutcomeUnknownError):
        await _provider(fake, http, timeout_seconds=0.2).send(SMS)


async def test_connection_refused_is_transient(http: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    settings = PlivoSettings.model_validate({"auth_id": fp.AUTH_ID, "api_base_url": base})
    with pytest.raises(ProviderTransientError):
        await PlivoProvider(settings, http, fp.AUTH_TOKEN).send(SMS)


# --- callbacks ----------------------------------------------------------------------------


def _signed(
    fields: dict[str, str],
    url: str = URL,
    *,
    method: str = "POST",
    token: str = fp.AUTH_TOKEN,
    nonce: str = NONCE,
) -> WebhookRequest:
    signature = fp.sdk_signature(method, url, fields if method == "POST" else {}, nonce, token)
    headers = {"x-plivo-signature-v3": signature, "x-plivo-signature-v3-nonce": nonce}
    body = urlencode(fields).encode() if method == "POST" else b""
    return WebhookRequest(method, url, headers, body)


def _hook() -> PlivoWebhook:
    return PlivoWebhook(fp.AUTH_TOKEN)


# Signatures computed with plivo-python 4.63.0 (signature_v3.construct_post_url /
# construct_get_url + get_signature_v3, as validate_v3_signature does) for these inputs.
KNOWN_ANSWERS = [
    (
        "POST",
        URL,
        {
            "MessageUUID": "db3ce55a-7f1d-11e1-8ea7-1231380bc196",
            "Status": "undelivered",
            "ErrorCode": "200",
            "To": "14155550147",
            "From": "14155550100",
        },
        "iJm4ukDWHPvvfJwxAnPxB2ic4FRCsHyi1qxQZQeR1w0=",
    ),
    (
        "POST",
        URL + "?site=main&a=1",
        {
            "From": "14155550147",
            "To": "14155550100",
            "Text": "Yes please call me ☎",
            "MessageUUID": "2d55e4b6-a3bb-11ee-a7a4-0242ac110002",
            "Type": "sms",
        },
        "TLxvbhWy6+j1RSiHlrplIZB8IUf3auJM/brAYZbai9c=",
    ),
    (
        "GET",
        URL + "?MessageUUID=abc&Status=sent",
        {},
        "PpBYwnuL5o8Et2hwiCoXAfQY7QzqlmcMF4DHqFX5Fo4=",
    ),
]


@pytest.mark.parametrize(("method", "url", "fields", "expected"), KNOWN_ANSWERS)
def test_signature_matches_plivo_sdk(
    method: str, url: str, fields: dict[str, str], expected: str
) -> None:
    params = {k: [v] for k, v in fields.items()}
    assert v3_signature(method, url, params, NONCE, fp.AUTH_TOKEN) == expected
    assert fp.sdk_signature(method, url, fields, NONCE, fp.AUTH_TOKEN) == expected
    body = urlencode(fields).encode()
    headers = {"x-plivo-signature-v3": expected, "x-plivo-signature-v3-nonce": NONCE}
    assert _hook().parse(WebhookRequest(method, url, headers, body), 0.0)


@pytest.mark.parametrize(
    ("status", "code", "state", "failure"),
    [
        ("queued", "", DeliveryState.ACCEPTED, None),
        ("sent", "", DeliveryState.SENT, None),
        ("delivered", "000", DeliveryState.DELIVERED, None),
        ("undelivered", "200", DeliveryState.UNDELIVERED, FailureKind.OPTED_OUT),
        ("undelivered", "50", DeliveryState.UNDELIVERED, FailureKind.NUMBER),
        ("undelivered", "80", DeliveryState.UNDELIVERED, FailureKind.TRANSIENT),
        ("failed", "40", DeliveryState.FAILED, FailureKind.AUTH),
        ("failed", "900", DeliveryState.FAILED, FailureKind.AUTH),
        ("failed", "1000", DeliveryState.FAILED, FailureKind.OTHER),
        ("failed", "", DeliveryState.FAILED, FailureKind.OTHER),
    ],
)
def test_status_callbacks(
    status: str, code: str, state: DeliveryState, failure: FailureKind | None
) -> None:
    (event,) = _hook().parse(_signed(fp.status_callback("uuid-1", status, code)), 0.0)
    assert event == DeliveryReport(
        provider="plivo",
        provider_message_id="uuid-1",
        state=state,
        error_code=code or None,
        failure=failure,
        at=datetime(2024, 1, 5, 18, 22, 32, 345678, UTC).timestamp(),
    )


def test_inbound_message() -> None:
    (event,) = _hook().parse(_signed(fp.inbound("STOP")), 0.0)
    assert event == InboundSms(
        provider="plivo",
        provider_message_id="2d55e4b6-a3bb-11ee-a7a4-0242ac110002",
        from_number="+12125551000",
        to_number="+14155550100",
        body="STOP",
    )


def test_get_callback_with_params_in_the_query() -> None:
    url = URL + "?" + urlencode(fp.status_callback("uuid-2", "delivered"))
    (event,) = _hook().parse(_signed({}, url, method="GET"), 0.0)
    assert isinstance(event, DeliveryReport)
    assert (event.provider_message_id, event.state) == ("uuid-2", DeliveryState.DELIVERED)


def test_callback_url_with_its_own_query() -> None:
    (event,) = _hook().parse(_signed(fp.inbound("yes"), URL + "?site=main"), 0.0)
    assert isinstance(event, InboundSms)


def test_any_of_several_signatures_is_enough() -> None:
    good = _signed(fp.inbound("hi"))
    both = f"c29tZSBvdGhlciB0b2tlbg==, {good.headers['x-plivo-signature-v3']}"
    headers = {**good.headers, "x-plivo-signature-v3": both}
    assert _hook().parse(WebhookRequest("POST", URL, headers, good.body), 0.0)


def _with(request: WebhookRequest, **changes: Any) -> WebhookRequest:
    return dataclasses.replace(request, **changes)


GOOD = _signed(fp.status_callback("uuid-1", "delivered"))


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(_signed(fp.inbound("hi"), token="some-other-token"), id="forged"),
        pytest.param(
            _with(GOOD, headers={**GOOD.headers, "x-plivo-signature-v3-nonce": "1"}), id="nonce"
        ),
        pytest.param(_with(GOOD, url="https://evil.example.com/webhooks/plivo"), id="host"),
        pytest.param(_with(GOOD, url=URL + "/other"), id="path"),
        pytest.param(_with(GOOD, url=URL + "?extra=1"), id="query"),
        pytest.param(_with(GOOD, url=URL.replace("https", "http")), id="scheme"),
        pytest.param(_with(GOOD, body=GOOD.body.replace(b"delivered", b"failed")), id="body"),
        pytest.param(_with(GOOD, body=GOOD.body + b"&ErrorCode=200"), id="added-param"),
        pytest.param(_with(GOOD, method="GET"), id="method"),
        pytest.param(_with(GOOD, headers={}), id="unsigned"),
        pytest.param(
            _with(GOOD, headers={"x-plivo-signature-v3": "", "x-plivo-signature-v3-nonce": "1"}),
            id="empty-signature",
        ),
    ],
)
def test_refused_requests(request_: WebhookRequest) -> None:
    with pytest.raises(WebhookAuthError):
        _hook().parse(request_, 0.0)


@pytest.mark.parametrize(
    "fields", [{"Status": "delivered"}, {"MessageUUID": "u", "Units": "1"}, {"x": "y"}]
)
def test_signed_but_malformed_callbacks(fields: dict[str, str]) -> None:
    with pytest.raises(WebhookPayloadError):
        _hook().parse(_signed(fields), 0.0)


def test_unknown_status_is_ignored() -> None:
    assert _hook().parse(_signed(fp.status_callback("u", "read")), 0.0) == []


def test_fuzzed_requests_are_refused_never_crash() -> None:
    rng = random.Random(7)
    hook = _hook()
    for _ in range(500):
        body = rng.randbytes(rng.randrange(0, 300))
        headers = {
            "x-plivo-signature-v3": rng.choice(["", "AAAA", rng.randbytes(32).hex()]),
            "x-plivo-signature-v3-nonce": rng.choice(["", "1", str(rng.random())]),
        }
        with pytest.raises((WebhookAuthError, WebhookPayloadError)):
            hook.parse(WebhookRequest(rng.choice(["POST", "GET"]), URL, headers, body), 0.0)


def test_settings() -> None:
    ok = PlivoSettings(auth_id=fp.AUTH_ID)
    assert str(ok.api_base_url) == "https://api.plivo.com/"
    assert ok.auth_token_env == "PLIVO_AUTH_TOKEN"
    with pytest.raises(ValidationError):
        PlivoSettings.model_validate({"auth_id": fp.AUTH_ID, "auth_token": "inline"})
    with pytest.raises(ValidationError):
        PlivoSettings.model_validate({"auth_id": ""})
    with pytest.raises(ValidationError):
        ok.auth_id = "other"
