"""SignalWire: Twilio's dialect under a Space URL, callbacks signed with the Signing Key."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import aiohttp
import pytest
from pydantic import ValidationError

from asterisk_textback.errors import (
    ProviderAuthError,
    ProviderNumberError,
    ProviderOptedOutError,
    ProviderTransientError,
    WebhookAuthError,
)
from asterisk_textback.sms.base import (
    DeliveryReport,
    DeliveryState,
    FailureKind,
    InboundSms,
    OutboundSms,
    WebhookRequest,
)
from asterisk_textback.sms.vendors.signalwire import (
    SignalWireProvider,
    SignalWireSettings,
    SignalWireWebhook,
)
from tests.sms.fake_twilio import FakeTwilio, Reply, error_body, fake_twilio

PROJECT = "a1b2c3d4-0000-4000-8000-0123456789ab"
API_TOKEN = "PTapitoken"
SIGNING_KEY = "PSKsigningkey"
HOOK = "https://pbx.example.com/webhooks/signalwire/status"


def sms(to: str = "+12125551000") -> OutboundSms:
    """One outbox text."""
    return OutboundSms(7, "outbox:7", to, "+15551230000", "Sorry we missed your call!")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    """A fake LaML API under ``/api/laml`` accepting PROJECT:API_TOKEN."""
    async with fake_twilio(PROJECT, API_TOKEN, prefix="/api/laml") as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """The shared HTTP session."""
    async with aiohttp.ClientSession() as session:
        yield session


def settings(**extra: object) -> SignalWireSettings:
    """SignalWire settings for the ``example`` Space."""
    return SignalWireSettings.model_validate({"space": "example", "project_id": PROJECT, **extra})


def test_space_url_is_built_from_the_space_name() -> None:
    assert settings().base_url() == "https://example.signalwire.com/api/laml"
    assert settings(space="example.signalwire.com").base_url() == (
        "https://example.signalwire.com/api/laml"
    )
    assert settings(api_base_url="http://proxy:8080/api/laml/").base_url() == (
        "http://proxy:8080/api/laml"
    )
    with pytest.raises(ValidationError):
        settings(space="evil.example.com/x")
    with pytest.raises(ValidationError):
        settings(project_id="not-a-uuid")


async def test_send_uses_the_laml_path_and_project_credentials(
    fake: FakeTwilio, http: aiohttp.ClientSession
) -> None:
    provider = SignalWireProvider(
        settings(api_base_url=fake.url, status_callback_url=HOOK, validity_period=300),
        http,
        API_TOKEN,
    )
    result = await provider.send(sms())
    assert result.provider == "signalwire"
    assert fake.paths == [f"/api/laml/2010-04-01/Accounts/{PROJECT}/Messages.json"]
    assert fake.forms == [
        {
            "To": "+12125551000",
            "Body": "Sorry we missed your call!",
            "From": "+15551230000",
            "StatusCallback": HOOK,
            "ValidityPeriod": "300",
        }
    ]


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(400, error_body(21211, "Invalid To", 400)), ProviderNumberError),
        (Reply(400, error_body(21610, "Unsubscribed", 400)), ProviderOptedOutError),
        (Reply(400, error_body(30034, "Unregistered", 400)), ProviderAuthError),
        (
            Reply(429, error_body(20429, "Slow down", 429), {"Retry-After": "1"}),
            ProviderTransientError,
        ),
    ],
)
async def test_errors_map_like_twilio(
    fake: FakeTwilio, http: aiohttp.ClientSession, reply: Reply, error: type[Exception]
) -> None:
    fake.script = [reply]
    with pytest.raises(error):
        await SignalWireProvider(settings(api_base_url=fake.url), http, API_TOKEN).send(sms())


async def test_wrong_api_token_is_an_auth_error(
    fake: FakeTwilio, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(ProviderAuthError):
        await SignalWireProvider(settings(api_base_url=fake.url), http, "wrong").send(sms())


def form_signature(key: str, url: str, fields: dict[str, str]) -> str:
    """The compatibility (form) scheme: base64 HMAC-SHA1 of URL + sorted name/value pairs."""
    data = url + "".join(name + fields[name] for name in sorted(fields))
    return base64.b64encode(hmac.new(key.encode(), data.encode(), hashlib.sha1).digest()).decode()


def body_signature(key: str, url: str, body: bytes) -> str:
    """The raw-body scheme: hex HMAC-SHA1 of URL + body."""
    return hmac.new(key.encode(), url.encode() + body, hashlib.sha1).hexdigest()


STATUS = {
    "MessageSid": "b3877c40-da60-4998-90ad-b792e98472af",
    "AccountSid": PROJECT,
    "MessageStatus": "undelivered",
    "ErrorCode": "30006",
}


def request(fields: dict[str, str], header: str, value: str) -> WebhookRequest:
    """A signed form POST."""
    return WebhookRequest("POST", HOOK, {header: value}, urlencode(fields).encode())


@pytest.mark.parametrize("header", ["x-signalwire-signature", "x-twilio-signature"])
def test_form_signature_with_the_signing_key_in_either_header(header: str) -> None:
    signed = request(STATUS, header, form_signature(SIGNING_KEY, HOOK, STATUS))
    assert SignalWireWebhook(SIGNING_KEY).parse(signed, now=0.0) == [
        DeliveryReport(
            "signalwire",
            STATUS["MessageSid"],
            DeliveryState.UNDELIVERED,
            "30006",
            "landline or unreachable carrier",
            FailureKind.NUMBER,
        )
    ]


def test_raw_body_signature_is_accepted() -> None:
    fields = {
        "MessageSid": "m-1",
        "SmsStatus": "received",
        "From": "+1212",
        "To": "+1555",
        "Body": "STOP",
    }
    body = urlencode(fields).encode()
    signed = WebhookRequest(
        "POST", HOOK, {"x-signalwire-signature": body_signature(SIGNING_KEY, HOOK, body)}, body
    )
    assert SignalWireWebhook(SIGNING_KEY).parse(signed, now=0.0) == [
        InboundSms("signalwire", "m-1", "+1212", "+1555", "STOP")
    ]


@pytest.mark.parametrize(
    "forged",
    [
        request(STATUS, "x-signalwire-signature", form_signature(API_TOKEN, HOOK, STATUS)),
        request(STATUS, "x-signalwire-signature", body_signature(API_TOKEN, HOOK, b"")),
        request(
            {**STATUS, "ErrorCode": "30003"},
            "x-signalwire-signature",
            form_signature(SIGNING_KEY, HOOK, STATUS),
        ),
        request(STATUS, "x-other", form_signature(SIGNING_KEY, HOOK, STATUS)),
    ],
    ids=["api-token-not-signing-key", "raw-scheme-wrong-key", "tampered", "no-header"],
)
def test_forged_signalwire_callbacks_are_refused(forged: WebhookRequest) -> None:
    with pytest.raises(WebhookAuthError):
        SignalWireWebhook(SIGNING_KEY).parse(forged, now=0.0)
