"""The Bandwidth adapter against a local messaging v2 API, and its basic-auth callbacks."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from asterisk_textback.errors import (
    ConfigError,
    ProviderAuthError,
    ProviderError,
    ProviderNumberError,
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
from asterisk_textback.sms.vendors.bandwidth import (
    BandwidthProvider,
    BandwidthSettings,
    BandwidthWebhook,
    failure_kind,
)
from tests.sms.fake_bandwidth import FakeBandwidth, Reply, fake_bandwidth

ACCOUNT = "9900000"
APP_ID = "93de2206-9669-4e07-948d-329f4b722ee2"
CLIENT = ("client-id", "client-secret")
SMS = OutboundSms(1, "missed:1700000000:+12125550147", "+12125550147", "+15550100", "Sorry!")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def fake() -> AsyncIterator[FakeBandwidth]:
    async with fake_bandwidth(ACCOUNT, CLIENT) as server:
        yield server


def _settings(base_url: str, **overrides: Any) -> BandwidthSettings:
    values: dict[str, Any] = {
        "account_id": ACCOUNT,
        "application_id": APP_ID,
        "client_id": CLIENT[0],
        "client_secret_env": "BANDWIDTH_CLIENT_SECRET",
        "api_base_url": base_url,
        "token_url": f"{base_url}/api/v1/oauth2/token",
        "timeout_seconds": 2.0,
        **overrides,
    }
    return BandwidthSettings.model_validate(values)


@pytest.fixture
def provider(fake: FakeBandwidth, http: aiohttp.ClientSession) -> BandwidthProvider:
    return BandwidthProvider(_settings(fake.base_url), http, secret=CLIENT[1])


async def test_sends_the_documented_body_with_an_oauth_token(
    fake: FakeBandwidth, provider: BandwidthProvider
) -> None:
    first = await provider.send(SMS)
    second = await provider.send(SMS)
    assert (first.provider, first.provider_message_id) == ("bandwidth", "bw-1")
    assert second.provider_message_id == "bw-2"
    assert fake.paths[0] == f"/api/v2/users/{ACCOUNT}/messages"
    assert fake.requests[0] == {
        "applicationId": APP_ID,
        "to": ["+12125550147"],
        "from": "+15550100",
        "text": "Sorry!",
        "tag": SMS.idempotency_key,
    }
    assert fake.token_requests == 1  # cached between sends


async def test_revoked_token_is_refreshed_once(
    fake: FakeBandwidth, provider: BandwidthProvider
) -> None:
    await provider.send(SMS)
    fake.tokens.clear()
    assert (await provider.send(SMS)).provider_message_id == "bw-2"
    assert fake.token_requests == 2


async def test_wrong_client_secret_is_an_auth_error(
    fake: FakeBandwidth, http: aiohttp.ClientSession
) -> None:
    provider = BandwidthProvider(_settings(fake.base_url), http, secret="wrong")
    with pytest.raises(ProviderAuthError, match="token"):
        await provider.send(SMS)
    assert fake.requests == []


async def test_legacy_basic_auth(http: aiohttp.ClientSession) -> None:
    async with fake_bandwidth(ACCOUNT, ("apiuser", "pw")) as fake:
        settings = _settings(
            fake.base_url,
            auth="basic",
            username="apiuser",
            password_env="BANDWIDTH_PASSWORD",
            client_id=None,
            client_secret_env=None,
        )
        result = await BandwidthProvider(settings, http, secret="pw").send(SMS)
        assert result.provider_message_id == "bw-1"
        assert fake.token_requests == 0
        with pytest.raises(ProviderAuthError, match="401"):
            await BandwidthProvider(settings, http, secret="nope").send(SMS)


async def test_wrong_account_id_is_an_auth_error(
    fake: FakeBandwidth, http: aiohttp.ClientSession
) -> None:
    settings = _settings(fake.base_url, account_id="1234")
    with pytest.raises(ProviderAuthError):
        await BandwidthProvider(settings, http, secret=CLIENT[1]).send(SMS)


async def test_rate_limited_is_transient_with_retry_after(
    fake: FakeBandwidth, provider: BandwidthProvider
) -> None:
    body = {"type": "max-message-queue-size-exceeded", "description": "The SMS queue is full"}
    fake.script = [Reply(429, body, {"Retry-After": "3"})]
    with pytest.raises(ProviderTransientError) as info:
        await provider.send(SMS)
    assert info.value.retry_after == 3.0


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_transient(
    fake: FakeBandwidth, provider: BandwidthProvider, status: int
) -> None:
    fake.script = [Reply(status, {"type": "internal", "description": "oops"})]
    with pytest.raises(ProviderTransientError):
        await provider.send(SMS)


def _validation(field: str) -> dict[str, Any]:
    return {
        "type": "request-validation",
        "description": "Your request could not be accepted",
        "fieldErrors": [{"fieldName": field, "description": f"'{field}' is invalid"}],
    }


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, _validation("to"), ProviderNumberError),
        (400, _validation("from"), ProviderAuthError),
        (400, _validation("applicationId"), ProviderAuthError),
        (400, _validation("text"), ProviderError),
        (403, {"type": "forbidden", "description": "Access Denied"}, ProviderAuthError),
        (415, {"type": "unsupported-content-type", "description": "no"}, ProviderError),
    ],
)
async def test_vendor_errors_map_once(
    fake: FakeBandwidth,
    provider: BandwidthProvider,
    status: int,
    body: dict[str, Any],
    error: type[ProviderError],
) -> None:
    fake.script = [Reply(status, body)]
    with pytest.raises(error) as info:
        await provider.send(SMS)
    assert type(info.value) is error
    assert body["type"] in str(info.value)


async def test_timeout_is_unknown_never_resent(
    fake: FakeBandwidth, http: aiohttp.ClientSession
) -> None:
    fake.script = [Reply(delay=1.0)]
    settings = _settings(fake.base_url, timeout_seconds=0.3)
    with pytest.raises(ProviderOutcomeUnknownError):
        await BandwidthProvider(settings, http, secret=CLIENT[1]).send(SMS)
    assert len(fake.requests) == 1


async def test_accepted_without_id_is_unknown(
    fake: FakeBandwidth, provider: BandwidthProvider
) -> None:
    fake.script = [Reply(202, {"nothing": "here"})]
    with pytest.raises(ProviderOutcomeUnknownError):
        await provider.send(SMS)


async def test_connection_refused_is_transient(http: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = _settings(f"http://127.0.0.1:{port}")
    with pytest.raises(ProviderTransientError):
        await BandwidthProvider(settings, http, secret=CLIENT[1]).send(SMS)


async def test_config_errors(http: aiohttp.ClientSession) -> None:
    with pytest.raises(ConfigError, match="client_secret_env"):
        BandwidthProvider(_settings("http://127.0.0.1:9"), http, secret="")
    with pytest.raises(ValueError, match="password_env"):
        BandwidthSettings.model_validate(
            {"account_id": ACCOUNT, "application_id": APP_ID, "auth": "basic"}
        )
    with pytest.raises(ConfigError):
        BandwidthWebhook("user", "")


# --- callbacks ------------------------------------------------------------------------------

NOW = 1_700_000_000.0


def _auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _callback(events: Any, authorization: str | None = None) -> WebhookRequest:
    headers = {"content-type": "application/json; charset=utf-8"}
    headers["authorization"] = (
        _auth("bw-hooks", "hook-pass") if authorization is None else authorization
    )
    return WebhookRequest(
        "POST", "https://pbx.example/hooks/bw", headers, json.dumps(events).encode()
    )


HOOK = BandwidthWebhook("bw-hooks", "hook-pass")


def _message(direction: str = "out", **extra: Any) -> dict[str, Any]:
    return {
        "id": "14762070468292kw2fuqty55yp2b2",
        "owner": "+15550100",  # our number, both ways
        "applicationId": APP_ID,
        "time": "2023-11-14T22:13:20.000Z",
        "segmentCount": 1,
        "direction": direction,
        "to": ["+12125550147"] if direction == "out" else ["+15550100"],
        "from": "+15550100" if direction == "out" else "+12125550147",
        "text": "",
        "tag": SMS.idempotency_key,
        **extra,
    }


def test_delivered_sending_and_received_events_are_parsed() -> None:
    events = [
        {
            "type": "message-sending",
            "time": "2023-11-14T22:13:20.000Z",
            "description": "Message is sending to carrier",
            "to": "+12125550147",
            "message": _message(),
        },
        {
            "type": "message-delivered",
            "time": "2023-11-14T22:13:20Z",
            "description": "ok",
            "to": "+12125550147",
            "message": _message(),
        },
        {
            "type": "message-received",
            "time": "2023-11-14T22:13:20Z",
            "description": "Incoming message received",
            "to": "+15550100",
            "message": _message("in", id="inbound-1", text="Stop"),
        },
    ]
    sending, delivered, received = HOOK.parse(_callback(events), NOW)
    ident = "14762070468292kw2fuqty55yp2b2"
    assert sending == DeliveryReport("bandwidth", ident, DeliveryState.ACCEPTED, at=NOW)
    assert delivered == DeliveryReport("bandwidth", ident, DeliveryState.DELIVERED, at=NOW)
    assert received == InboundSms(
        "bandwidth", "inbound-1", "+12125550147", "+15550100", "Stop", NOW
    )


@pytest.mark.parametrize(
    ("code", "state", "kind"),
    [
        (4720, DeliveryState.UNDELIVERED, FailureKind.NUMBER),  # landline / invalid destination
        (4303, DeliveryState.FAILED, FailureKind.NUMBER),
        (4775, DeliveryState.UNDELIVERED, FailureKind.OPTED_OUT),
        (4482, DeliveryState.FAILED, FailureKind.OPTED_OUT),
        (4773, DeliveryState.UNDELIVERED, FailureKind.AUTH),  # 10DLC campaign inactive
        (4795, DeliveryState.UNDELIVERED, FailureKind.AUTH),  # toll-free not verified
        (5600, DeliveryState.UNDELIVERED, FailureKind.TRANSIENT),
        (5100, DeliveryState.FAILED, FailureKind.TRANSIENT),
        (4470, DeliveryState.FAILED, FailureKind.OTHER),  # spam
        (9902, DeliveryState.UNDELIVERED, FailureKind.OTHER),
    ],
)
def test_failed_events_map_the_error_code(
    code: int, state: DeliveryState, kind: FailureKind
) -> None:
    event = {
        "type": "message-failed",
        "time": "2023-11-14T22:13:20Z",
        "description": "rejected",
        "to": "+12125550147",
        "errorCode": code,
        "message": _message(),
    }
    (report,) = HOOK.parse(_callback([event]), NOW)
    assert isinstance(report, DeliveryReport)
    assert (report.state, report.failure, report.error_code) == (state, kind, str(code))
    assert report.error_detail == "rejected"
    assert failure_kind(code) is kind


def test_unknown_event_types_are_acknowledged_and_skipped() -> None:
    events = [{"type": "message-read", "time": "x", "message": _message()}]
    assert HOOK.parse(_callback(events), NOW) == []


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        _auth("bw-hooks", "wrong"),
        _auth("other", "hook-pass"),
        "Bearer abc",
        _auth("bw-hooks", "hook-pass") + "x",
    ],
)
def test_wrong_or_missing_basic_auth_is_refused(authorization: str) -> None:
    events = [{"type": "message-delivered", "message": _message()}]
    with pytest.raises(WebhookAuthError):
        HOOK.parse(_callback(events, authorization), NOW)


def test_missing_authorization_header_is_refused() -> None:
    body = json.dumps([{"type": "message-delivered", "message": _message()}]).encode()
    with pytest.raises(WebhookAuthError):
        HOOK.parse(WebhookRequest("POST", "u", {}, body), NOW)


@pytest.mark.parametrize(
    "events",
    [
        "just a string",
        [1],
        [{"type": "message-delivered"}],
        [{"type": "message-delivered", "message": {"id": ""}}],
        [{"type": "message-received", "message": {"id": "x", "to": []}}],
    ],
)
def test_malformed_callbacks_are_payload_errors(events: Any) -> None:
    with pytest.raises(WebhookPayloadError):
        HOOK.parse(_callback(events), NOW)


def test_non_json_is_a_payload_error() -> None:
    request = WebhookRequest("POST", "u", {"authorization": _auth("bw-hooks", "hook-pass")}, b"{")
    with pytest.raises(WebhookPayloadError):
        HOOK.parse(request, NOW)
