"""Twilio adapter: sends against a local fake of the REST API, callbacks signed from scratch."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import socket
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlencode

import aiohttp
import pytest

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
from asterisk_textback.sms.vendors.lookup_twilio import LineType, TwilioLookup, TwilioLookupSettings
from asterisk_textback.sms.vendors.twilio import (
    TwilioProvider,
    TwilioSettings,
    TwilioWebhook,
    retry_after,
    signature,
)
from tests.sms.fake_twilio import FakeTwilio, Reply, error_body, fake_twilio

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "test-auth-token"
SERVICE = "MG" + "fedcba9876543210" * 2
HOOK = "https://pbx.example.com/webhooks/twilio"


def sms(to: str = "+12125551000", sender: str = "+15005550006") -> OutboundSms:
    """One outbox text."""
    return OutboundSms(1, "outbox:1", to, sender, "Sorry we missed your call!")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    """A running fake Twilio API accepting SID:TOKEN."""
    async with fake_twilio(SID, TOKEN) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """The shared HTTP session."""
    async with aiohttp.ClientSession() as session:
        yield session


def provider(http: aiohttp.ClientSession, base: str, **extra: object) -> TwilioProvider:
    """A Twilio adapter pointed at ``base``."""
    settings = TwilioSettings.model_validate(
        {"account_sid": SID, "api_base_url": base, "timeout_seconds": 2.0, **extra}
    )
    return TwilioProvider(settings, http, TOKEN)


# --- sending ---------------------------------------------------------------------------------


async def test_send_posts_the_documented_form_and_returns_the_sid(
    fake: FakeTwilio, http: aiohttp.ClientSession
) -> None:
    twilio = provider(http, fake.url, status_callback_url=f"{HOOK}/status", validity_period=600)
    result = await twilio.send(sms())
    assert result.provider == "twilio"
    assert result.provider_message_id.startswith("SM")
    assert fake.paths == [f"/2010-04-01/Accounts/{SID}/Messages.json"]
    assert fake.forms == [
        {
            "To": "+12125551000",
            "Body": "Sorry we missed your call!",
            "From": "+15005550006",
            "StatusCallback": f"{HOOK}/status",
            "ValidityPeriod": "600",
        }
    ]


async def test_messaging_service_with_and_without_the_dids_sender(
    fake: FakeTwilio, http: aiohttp.ClientSession
) -> None:
    await provider(http, fake.url, messaging_service_sid=SERVICE).send(sms())
    pooled = provider(http, fake.url, messaging_service_sid=SERVICE, use_from_number=False)
    await pooled.send(sms())
    assert fake.forms[0]["MessagingServiceSid"] == SERVICE
    assert fake.forms[0]["From"] == "+15005550006"
    assert fake.forms[1]["MessagingServiceSid"] == SERVICE
    assert "From" not in fake.forms[1]


async def test_no_sender_at_all_is_a_configuration_error_before_any_request(
    fake: FakeTwilio, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(ProviderAuthError, match="no sender"):
        await provider(http, fake.url).send(sms(sender=""))
    assert fake.forms == []


@pytest.mark.parametrize(
    ("to", "sender", "error"),
    [
        ("+15005550001", "+15005550006", ProviderNumberError),  # 21211 invalid To
        ("+15005550002", "+15005550006", ProviderNumberError),  # 21612 not reachable by SMS
        ("+15005550009", "+15005550006", ProviderNumberError),  # 21614 not a mobile
        ("+15005550004", "+15005550006", ProviderOptedOutError),  # 21610 unsubscribed
        ("+12125551000", "+15005550001", ProviderAuthError),  # 21212 invalid From
        ("+12125551000", "+15005550007", ProviderAuthError),  # 21606 From not SMS-capable
        ("+12125551000", "+15005550008", ProviderTransientError),  # 21611 queue full
    ],
)
async def test_magic_numbers_map_to_our_errors(
    fake: FakeTwilio,
    http: aiohttp.ClientSession,
    to: str,
    sender: str,
    error: type[ProviderError],
) -> None:
    with pytest.raises(error):
        await provider(http, fake.url).send(sms(to, sender))


async def test_geo_permission_is_neither_the_number_nor_a_pause(
    fake: FakeTwilio, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(ProviderError, match="Geo Permissions") as caught:
        await provider(http, fake.url).send(sms("+15005550003"))
    assert type(caught.value) is ProviderError


@pytest.mark.parametrize(
    ("code", "words"),
    [(30034, "10DLC"), (30032, "Toll-Free Verification"), (21608, "upgrade")],
)
async def test_registration_errors_pause_and_say_what_to_register(
    fake: FakeTwilio, http: aiohttp.ClientSession, code: int, words: str
) -> None:
    fake.script = [Reply(400, error_body(code, "rejected", 400))]
    with pytest.raises(ProviderAuthError, match=words):
        await provider(http, fake.url).send(sms())


async def test_wrong_token_is_an_auth_error(fake: FakeTwilio, http: aiohttp.ClientSession) -> None:
    settings = TwilioSettings.model_validate({"account_sid": SID, "api_base_url": fake.url})
    with pytest.raises(ProviderAuthError, match="20003"):
        await TwilioProvider(settings, http, "wrong").send(sms())


async def test_wrong_base_url_is_an_auth_error(
    fake: FakeTwilio, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(ProviderAuthError, match="api_base_url"):
        await provider(http, f"{fake.url}/nowhere").send(sms())


async def test_429_honours_retry_after(fake: FakeTwilio, http: aiohttp.ClientSession) -> None:
    body = error_body(20429, "Too Many Requests", 429)
    fake.script = [Reply(429, body, {"Retry-After": "3"})]
    with pytest.raises(ProviderTransientError) as caught:
        await provider(http, fake.url).send(sms())
    assert caught.value.retry_after == 3.0


async def test_5xx_and_garbage_are_transient(fake: FakeTwilio, http: aiohttp.ClientSession) -> None:
    fake.script = [Reply(503, text="<html>upstream down</html>")]
    with pytest.raises(ProviderTransientError) as caught:
        await provider(http, fake.url).send(sms())
    assert caught.value.retry_after is None


async def test_malformed_error_json_is_a_plain_provider_error(
    fake: FakeTwilio, http: aiohttp.ClientSession
) -> None:
    fake.script = [Reply(400, text="{not json")]
    with pytest.raises(ProviderError) as caught:
        await provider(http, fake.url).send(sms())
    assert type(caught.value) is ProviderError


async def test_accepted_without_a_sid_is_outcome_unknown(
    fake: FakeTwilio, http: aiohttp.ClientSession
) -> None:
    fake.script = [Reply(201, text="{not json")]
    with pytest.raises(ProviderOutcomeUnknownError):
        await provider(http, fake.url).send(sms())


async def test_timeout_is_outcome_unknown(fake: FakeTwilio, http: aiohttp.ClientSession) -> None:
    fake.script = [Reply(201, {"sid": "SMlate"}, delay=1.0)]
    with pytest.raises(ProviderOutcomeUnknownError):
        await provider(http, fake.url, timeout_seconds=0.2).send(sms())
    assert len(fake.forms) == 1  # it did arrive: exactly why we must not resend


async def test_connection_refused_is_transient(http: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ProviderTransientError):
        await provider(http, f"http://127.0.0.1:{port}").send(sms())


async def test_connection_cut_mid_request_is_outcome_unknown(http: aiohttp.ClientSession) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        with pytest.raises(ProviderOutcomeUnknownError):
            await provider(http, f"http://127.0.0.1:{port}").send(sms())


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after({"Retry-After": "7"}) == 7.0
    when = "Wed, 21 Oct 2015 07:28:30 GMT"
    assert retry_after({"Retry-After": when}, now=1445412500.0) == 10.0
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after({}) is None


# --- webhooks --------------------------------------------------------------------------------


def sign(key: str, url: str, fields: dict[str, str]) -> str:
    """Twilio's documented algorithm, written independently of the adapter."""
    data = url
    for name in sorted(fields):
        data += name + fields[name]
    return base64.b64encode(hmac.new(key.encode(), data.encode(), hashlib.sha1).digest()).decode()


def callback(
    fields: dict[str, str], url: str = f"{HOOK}/status", sig: str | None = None
) -> WebhookRequest:
    """A form POST as Twilio sends it (fields in arrival order, not sorted)."""
    headers = {"content-type": "application/x-www-form-urlencoded"}
    headers["x-twilio-signature"] = sig if sig is not None else sign(TOKEN, url, fields)
    return WebhookRequest("POST", url, headers, urlencode(fields).encode())


DOCS_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOCS_PARAMS = {
    "To": "+18005551212",
    "CallSid": "CA1234567890ABCDE",
    "From": "+12349013030",
    "Digits": "1234",
    "Caller": "+12349013030",
}
DOCS_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="  # twilio.com/docs/usage/security, token 12345


def test_twilios_published_example_signature() -> None:
    assert signature("12345", DOCS_URL, DOCS_PARAMS.items()) == DOCS_SIGNATURE
    request = callback(DOCS_PARAMS, DOCS_URL, DOCS_SIGNATURE)
    assert dict(TwilioWebhook("12345").verify(request)) == DOCS_PARAMS


def test_parameters_are_signed_sorted_by_name() -> None:
    unsorted = DOCS_URL + "".join(k + v for k, v in DOCS_PARAMS.items())
    naive = hmac.new(b"12345", unsorted.encode(), hashlib.sha1).digest()
    with pytest.raises(WebhookAuthError):
        TwilioWebhook("12345").verify(
            callback(DOCS_PARAMS, DOCS_URL, base64.b64encode(naive).decode())
        )


STATUS = {"MessageSid": "SM123", "SmsSid": "SM123", "AccountSid": SID, "MessageStatus": "delivered"}


@pytest.mark.parametrize(
    "request_",
    [
        callback(STATUS, sig=""),  # no signature
        callback(STATUS, sig=sign("another-token", f"{HOOK}/status", STATUS)),
        callback(STATUS, sig=sign(TOKEN, f"{HOOK}/other", STATUS)),  # signed for another URL
        callback({**STATUS, "MessageStatus": "failed"}, sig=sign(TOKEN, f"{HOOK}/status", STATUS)),
        callback(STATUS, sig=sign(TOKEN, f"{HOOK}/status", STATUS)[:-2]),
    ],
    ids=["missing", "wrong-key", "wrong-url", "tampered-body", "truncated"],
)
def test_forged_callbacks_are_refused(request_: WebhookRequest) -> None:
    with pytest.raises(WebhookAuthError):
        TwilioWebhook(TOKEN).parse(request_, now=0.0)


def test_default_port_spelled_or_not_verifies() -> None:
    signed_with_port = sign(TOKEN, "https://pbx.example.com:443/webhooks/twilio/status", STATUS)
    events = TwilioWebhook(TOKEN).parse(callback(STATUS, sig=signed_with_port), now=0.0)
    assert events == [DeliveryReport("twilio", "SM123", DeliveryState.DELIVERED)]


@pytest.mark.parametrize(
    ("status", "code", "state", "failure"),
    [
        ("queued", None, DeliveryState.ACCEPTED, None),
        ("sent", None, DeliveryState.SENT, None),
        ("undelivered", "30003", DeliveryState.UNDELIVERED, FailureKind.NUMBER),
        ("undelivered", "30005", DeliveryState.UNDELIVERED, FailureKind.NUMBER),
        ("undelivered", "30006", DeliveryState.UNDELIVERED, FailureKind.NUMBER),
        ("undelivered", "30007", DeliveryState.UNDELIVERED, FailureKind.OTHER),
        ("failed", "21610", DeliveryState.FAILED, FailureKind.OPTED_OUT),
        ("failed", "30034", DeliveryState.FAILED, FailureKind.AUTH),
        ("failed", "30001", DeliveryState.FAILED, FailureKind.TRANSIENT),
        ("failed", "99999", DeliveryState.FAILED, FailureKind.OTHER),
        ("failed", None, DeliveryState.FAILED, FailureKind.OTHER),
    ],
)
def test_status_callbacks(
    status: str, code: str | None, state: DeliveryState, failure: FailureKind | None
) -> None:
    fields = {**STATUS, "MessageStatus": status, "SmsStatus": status}
    if code:
        fields["ErrorCode"] = code
    (report,) = TwilioWebhook(TOKEN).parse(callback(fields), now=0.0)
    assert isinstance(report, DeliveryReport)
    assert (report.provider_message_id, report.state, report.failure) == ("SM123", state, failure)
    assert report.error_code == code


def test_a_status_twilio_adds_later_is_ignored() -> None:
    assert TwilioWebhook(TOKEN).parse(callback({**STATUS, "MessageStatus": "teleported"}), 0) == []


def test_inbound_message() -> None:
    fields = {
        "ToCountry": "US",
        "SmsMessageSid": "SM9",
        "NumMedia": "0",
        "SmsSid": "SM9",
        "SmsStatus": "received",
        "Body": "Stop texting me 🙏",
        "To": "+15005550006",
        "MessageSid": "SM9",
        "AccountSid": SID,
        "From": "+12125551000",
        "ApiVersion": "2010-04-01",
    }
    events = TwilioWebhook(TOKEN).parse(callback(fields, f"{HOOK}/inbound"), now=0.0)
    assert events == [InboundSms("twilio", "SM9", "+12125551000", "+15005550006", fields["Body"])]


def test_get_callbacks_are_signed_over_the_url_with_its_query() -> None:
    url = f"{HOOK}/status?MessageSid=SM5&MessageStatus=sent"
    request = WebhookRequest(
        "GET",
        url,
        {"x-twilio-signature": sign(TOKEN, url, {})},
        b"",
        {"MessageSid": "SM5", "MessageStatus": "sent"},
    )
    assert TwilioWebhook(TOKEN).parse(request, 0) == [
        DeliveryReport("twilio", "SM5", DeliveryState.SENT)
    ]


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe=1", b"MessageSid", b"MessageStatus=sent", b"SmsSid=SM1&From=%2B1&Body=hi"],
    ids=["not-utf8", "not-a-form", "no-sid", "inbound-without-to"],
)
def test_signed_but_malformed_is_a_payload_error(body: bytes) -> None:
    url = f"{HOOK}/status"
    try:
        fields = dict(parse_qsl(body.decode()))
    except UnicodeDecodeError:
        fields = {}
    request = WebhookRequest("POST", url, {"x-twilio-signature": sign(TOKEN, url, fields)}, body)
    with pytest.raises(WebhookPayloadError):
        TwilioWebhook(TOKEN).parse(request, now=0.0)


# --- lookup ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "capable"),
    [("mobile", True), ("landline", False), ("nonFixedVoip", True), ("tollFree", True)],
)
async def test_lookup_line_type(
    fake: FakeTwilio, http: aiohttp.ClientSession, kind: str, capable: bool
) -> None:
    fake.lookups["+12125551000"] = {
        "line_type_intelligence": {"type": kind, "carrier_name": "Carrier", "error_code": None}
    }
    lookup = TwilioLookup(TwilioLookupSettings(api_base_url=fake.url), http, SID, TOKEN)  # type: ignore[arg-type]
    result = await lookup.line_type("+12125551000")
    assert result == LineType("+12125551000", True, kind, "Carrier", capable)
    assert fake.lookup_queries == [{"Fields": "line_type_intelligence"}]


async def test_lookup_invalid_number_and_errors(
    fake: FakeTwilio, http: aiohttp.ClientSession
) -> None:
    settings = TwilioLookupSettings(api_base_url=fake.url)  # type: ignore[arg-type]
    lookup = TwilioLookup(settings, http, SID, TOKEN)
    assert (await lookup.line_type("+1999")).sms_capable is False
    fake.script = [Reply(429, error_body(20429, "Too Many Requests", 429), {"Retry-After": "2"})]
    with pytest.raises(ProviderTransientError):
        await lookup.line_type("+12125551000")
    with pytest.raises(ProviderAuthError):
        await TwilioLookup(settings, http, SID, "wrong").line_type("+12125551000")
