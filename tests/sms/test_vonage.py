"""The Vonage adapter against a local Messages API, and its signed-JWT webhooks."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

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
from asterisk_textback.sms.vendors.vonage import VonageProvider, VonageSettings, VonageWebhook
from tests.sms.fake_vonage import FakeVonage, Reply, fake_vonage

APP_ID = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
SECRET = "a-signature-secret-of-32-characters!"
SMS = OutboundSms(1, "missed:1700000000:+12125550147", "+12125550147", "+15550100", "Sorry!")


def _problem(code: str, title: str, detail: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "type": f"https://developer.vonage.com/api-errors/messages#{code}",
        "title": title,
        "detail": detail or title,
        "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf",
        **extra,
    }


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def pem(rsa_key: rsa.RSAPrivateKey) -> str:
    return rsa_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def fake(rsa_key: rsa.RSAPrivateKey) -> AsyncIterator[FakeVonage]:
    async with fake_vonage(application_id=APP_ID, public_key=rsa_key.public_key()) as server:
        yield server


def _settings(base_url: str, **overrides: Any) -> VonageSettings:
    values: dict[str, Any] = {
        "application_id": APP_ID,
        "private_key_env": "VONAGE_PRIVATE_KEY",
        "api_base_url": base_url,
        "timeout_seconds": 2.0,
        **overrides,
    }
    return VonageSettings.model_validate(values)


@pytest.fixture
def provider(fake: FakeVonage, http: aiohttp.ClientSession, pem: str) -> VonageProvider:
    return VonageProvider(_settings(fake.base_url), http, private_key=pem)


async def test_sends_the_documented_body_with_a_jwt(
    fake: FakeVonage, provider: VonageProvider
) -> None:
    result = await provider.send(SMS)
    assert result.provider == "vonage"
    assert result.provider_message_id == "aaaaaaaa-bbbb-4ccc-8ddd-000000000001"
    assert fake.requests == [
        {
            "message_type": "text",
            "channel": "sms",
            "to": "12125550147",
            "from": "15550100",
            "text": "Sorry!",
            "client_ref": SMS.idempotency_key,
        }
    ]
    (claims,) = fake.claims
    assert claims["application_id"] == APP_ID
    assert 0 < claims["exp"] - claims["iat"] <= 300


async def test_each_request_gets_a_fresh_jti(fake: FakeVonage, provider: VonageProvider) -> None:
    await provider.send(SMS)
    await provider.send(SMS)
    assert fake.claims[0]["jti"] != fake.claims[1]["jti"]


async def test_long_outbox_keys_become_a_stable_client_ref(provider: VonageProvider) -> None:
    long = OutboundSms(2, "k" * 150, "+12125550147", "+15550100", "hi")
    ref = provider.payload(long)["client_ref"]
    assert len(ref) <= 100
    assert ref == provider.payload(long)["client_ref"]


async def test_basic_auth(http: aiohttp.ClientSession) -> None:
    async with fake_vonage(basic=("abcd1234", "s3cret")) as fake:
        settings = _settings(
            fake.base_url,
            auth="basic",
            api_key="abcd1234",
            api_secret_env="VONAGE_API_SECRET",
            application_id=None,
            private_key_env=None,
        )
        result = await VonageProvider(settings, http, api_secret="s3cret").send(SMS)
        assert result.provider_message_id.startswith("aaaaaaaa")
        wrong = VonageProvider(settings, http, api_secret="nope")
        with pytest.raises(ProviderAuthError, match="401"):
            await wrong.send(SMS)


async def test_wrong_private_key_is_an_auth_error(
    fake: FakeVonage, http: aiohttp.ClientSession
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    with pytest.raises(ProviderAuthError, match="unauthorized"):
        await VonageProvider(_settings(fake.base_url), http, private_key=pem).send(SMS)


async def test_throttled_is_transient_with_retry_after(
    fake: FakeVonage, provider: VonageProvider
) -> None:
    fake.script = [Reply(429, _problem("1000", "Throttled"), {"Retry-After": "2.5"})]
    with pytest.raises(ProviderTransientError) as info:
        await provider.send(SMS)
    assert info.value.retry_after == 2.5


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_transient(
    fake: FakeVonage, provider: VonageProvider, status: int
) -> None:
    fake.script = [Reply(status, _problem("1030", "Internal error"))]
    with pytest.raises(ProviderTransientError) as info:
        await provider.send(SMS)
    assert info.value.retry_after is None


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (422, _problem("1040", "Invalid message"), ProviderNumberError),
        (422, _problem("1050", "Number barred"), ProviderNumberError),
        (
            422,
            _problem(
                "1150",
                "Invalid params",
                invalid_parameters=[{"name": "to", "reason": "invalid value"}],
            ),
            ProviderNumberError,
        ),
        (422, _problem("1120", "Illegal Sender Address - rejected"), ProviderAuthError),
        (
            402,
            {
                "type": "https://developer.nexmo.com/api-errors/#low-balance",
                "title": "Low balance",
                "detail": "This request could not be performed due to your account balance "
                "being low.",
            },
            ProviderAuthError,
        ),
        (403, _problem("1060", "Partner account barred"), ProviderAuthError),
        (422, _problem("1160", "Non White-listed Destination"), ProviderAuthError),
        (
            422,
            _problem("1020", "Invalid params", "The recipient has opted out of messages"),
            ProviderOptedOutError,
        ),
    ],
)
async def test_vendor_errors_map_once(
    fake: FakeVonage,
    provider: VonageProvider,
    status: int,
    body: dict[str, Any],
    error: type[ProviderError],
) -> None:
    fake.script = [Reply(status, body)]
    with pytest.raises(error) as info:
        await provider.send(SMS)
    assert type(info.value) is error
    assert str(status) in str(info.value)


async def test_invalid_params_not_about_the_number_is_generic(
    fake: FakeVonage, provider: VonageProvider
) -> None:
    body = _problem(
        "1150", "Invalid params", invalid_parameters=[{"name": "text", "reason": "too long"}]
    )
    fake.script = [Reply(422, body)]
    with pytest.raises(ProviderError) as info:
        await provider.send(SMS)
    assert type(info.value) is ProviderError


async def test_timeout_is_unknown_never_resent(
    fake: FakeVonage, http: aiohttp.ClientSession, pem: str
) -> None:
    fake.script = [Reply(delay=1.0)]
    slow = VonageProvider(_settings(fake.base_url, timeout_seconds=0.2), http, private_key=pem)
    with pytest.raises(ProviderOutcomeUnknownError):
        await slow.send(SMS)


async def test_accepted_without_uuid_is_unknown(fake: FakeVonage, provider: VonageProvider) -> None:
    fake.script = [Reply(202, {"unexpected": True})]
    with pytest.raises(ProviderOutcomeUnknownError):
        await provider.send(SMS)


async def test_connection_refused_is_transient(http: aiohttp.ClientSession, pem: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = VonageProvider(_settings(f"http://127.0.0.1:{port}"), http, private_key=pem)
    with pytest.raises(ProviderTransientError):
        await provider.send(SMS)


async def test_bad_credentials_are_config_errors(http: aiohttp.ClientSession) -> None:
    settings = _settings("http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="private_key_env"):
        VonageProvider(settings, http, private_key="not a pem")
    with pytest.raises(ConfigError, match="private_key_env"):
        VonageProvider(settings, http)
    with pytest.raises(ValueError, match="api_secret_env"):
        VonageSettings.model_validate({"auth": "basic", "api_key": "k"})


# --- webhooks -------------------------------------------------------------------------------

NOW = 1_700_000_000.0


def _signed(
    payload: dict[str, Any],
    *,
    secret: str = SECRET,
    iat: float = NOW,
    extra: dict[str, Any] | None = None,
    body: bytes | None = None,
) -> WebhookRequest:
    raw = json.dumps(payload).encode()
    claims = {
        "iat": int(iat),
        "jti": "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5",
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(raw).hexdigest(),
        "api_key": "abcd1234",
        "application_id": APP_ID,
        **(extra or {}),
    }
    token = jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, "HS256")
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    return WebhookRequest("POST", "https://pbx.example/hooks/vonage", headers, body or raw)


def _hook(**overrides: Any) -> VonageWebhook:
    return VonageWebhook(
        _settings("https://api.nexmo.com", api_key="abcd1234", **overrides), SECRET
    )


STATUS = {
    "message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab",
    "to": "12125550147",
    "from": "15550100",
    "timestamp": "2023-11-14T22:13:20.000Z",
    "status": "delivered",
    "channel": "sms",
    "client_ref": SMS.idempotency_key,
}


def test_delivered_status_is_parsed() -> None:
    (event,) = _hook().parse(_signed(STATUS), NOW)
    assert event == DeliveryReport(
        "vonage", STATUS["message_uuid"], DeliveryState.DELIVERED, at=1_700_000_000.0
    )


@pytest.mark.parametrize(
    ("status", "state"),
    [("submitted", DeliveryState.SENT), ("undeliverable", DeliveryState.UNDELIVERED)],
)
def test_other_statuses(status: str, state: DeliveryState) -> None:
    (event,) = _hook().parse(_signed({**STATUS, "status": status}), NOW)
    assert isinstance(event, DeliveryReport)
    assert event.state is state


@pytest.mark.parametrize(
    ("code", "title", "kind"),
    [
        ("1050", "Number barred", FailureKind.NUMBER),
        ("1120", "Illegal Sender Address - rejected", FailureKind.AUTH),
        ("1000", "Throttled", FailureKind.TRANSIENT),
        ("1020", "The end user has opted out", FailureKind.OPTED_OUT),
        ("1330", "Unknown", FailureKind.OTHER),
    ],
)
def test_rejected_status_maps_the_error(code: str, title: str, kind: FailureKind) -> None:
    payload = {**STATUS, "status": "rejected", "error": _problem(code, title)}
    (event,) = _hook().parse(_signed(payload), NOW)
    assert isinstance(event, DeliveryReport)
    assert event.state is DeliveryState.FAILED
    assert event.error_code == code
    assert event.failure is kind


def test_inbound_sms_gets_e164_numbers() -> None:
    payload = {
        "channel": "sms",
        "message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ac",
        "to": "15550100",
        "from": "12125550147",
        "timestamp": "2023-11-14T22:13:20Z",
        "text": "STOP",
        "message_type": "text",
    }
    (event,) = _hook().parse(_signed(payload), NOW)
    assert event == InboundSms(
        "vonage", payload["message_uuid"], "+12125550147", "+15550100", "STOP", NOW
    )


def test_other_channels_are_ignored() -> None:
    assert _hook().parse(_signed({**STATUS, "channel": "whatsapp"}), NOW) == []


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(
            _signed(STATUS, secret="wrong-secret-wrong-secret-wrong!!"), id="wrong-secret"
        ),
        pytest.param(_signed(STATUS, iat=NOW - 3600), id="stale"),
        pytest.param(_signed(STATUS, iat=NOW + 3600), id="future"),
        pytest.param(_signed(STATUS, extra={"exp": int(NOW) - 120}), id="expired"),
        pytest.param(
            _signed(STATUS, body=json.dumps({**STATUS, "status": "rejected"}).encode()),
            id="tampered-body",
        ),
        pytest.param(_signed(STATUS, extra={"payload_hash": None}), id="no-payload-hash"),
        pytest.param(_signed(STATUS, extra={"api_key": "other"}), id="other-account"),
        pytest.param(_signed(STATUS, extra={"iat": None}), id="no-iat"),
        pytest.param(
            WebhookRequest("POST", "https://pbx.example/h", {}, json.dumps(STATUS).encode()),
            id="unsigned",
        ),
    ],
)
def test_forged_or_stale_webhooks_are_refused(request_: WebhookRequest) -> None:
    with pytest.raises(WebhookAuthError):
        _hook().parse(request_, NOW)


def test_unsigned_alg_none_is_refused() -> None:
    raw = json.dumps(STATUS).encode()
    claims = {"iat": int(NOW), "payload_hash": hashlib.sha256(raw).hexdigest()}
    token = jwt.encode(claims, "", algorithm="none")
    request = WebhookRequest("POST", "u", {"authorization": f"Bearer {token}"}, raw)
    with pytest.raises(WebhookAuthError):
        _hook().parse(request, NOW)


def test_payload_hash_can_be_optional() -> None:
    request = _signed(STATUS, extra={"payload_hash": None})
    (event,) = _hook(require_payload_hash=False).parse(request, NOW)
    assert isinstance(event, DeliveryReport)


@pytest.mark.parametrize(
    "body", [b"not json", b"[1, 2]", b'{"status": "delivered"}', b'{"from": 1}', b"\xff\xfe"]
)
def test_malformed_bodies_are_payload_errors(body: bytes) -> None:
    claims = {"iat": int(NOW), "payload_hash": hashlib.sha256(body).hexdigest()}
    token = jwt.encode(claims, SECRET, "HS256")
    request = WebhookRequest("POST", "u", {"authorization": f"Bearer {token}"}, body)
    with pytest.raises(WebhookPayloadError):
        _hook().parse(request, NOW)


def test_empty_signature_secret_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        VonageWebhook(_settings("https://api.nexmo.com"), "")


async def test_real_clock_tokens_verify(provider: VonageProvider) -> None:
    # Sanity check of the default clock path with a token signed just now.
    request = _signed(STATUS, iat=time.time())
    assert _hook().parse(request, time.time())
    await asyncio.sleep(0)
