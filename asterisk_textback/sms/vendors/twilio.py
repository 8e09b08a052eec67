"""Twilio Programmable Messaging: send through the 2010-04-01 Messages API, verify callbacks.

The request/response shapes, error codes and the ``X-Twilio-Signature`` scheme are Twilio's
(https://www.twilio.com/docs/messaging/api/message-resource,
https://www.twilio.com/docs/usage/security#validating-requests). SignalWire's compatibility
API speaks the same dialect and reuses :class:`CompatProvider` and :class:`CompatWebhook`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import aiohttp
from pydantic import Field

from asterisk_textback.errors import (
    ProviderAuthError,
    ProviderError,
    WebhookAuthError,
    WebhookPayloadError,
)
from asterisk_textback.sms._http import (
    Accepted,
    Client,
    Dialect,
    Model,
    Reply,
    Verdict,
    basic_auth_value,
)
from asterisk_textback.sms._http import (
    retry_after as retry_after,
)
from asterisk_textback.sms.base import (
    DeliveryReport,
    DeliveryState,
    FailureKind,
    InboundSms,
    OutboundSms,
    SendResult,
    WebhookEvent,
    WebhookRequest,
)
from asterisk_textback.sms.resources import Resources, section
from asterisk_textback.sms.settings import ProviderSettings
from asterisk_textback.sms.settings.twilio import TwilioSettings as TwilioSettings

SIGNATURE_HEADER = "X-Twilio-Signature"

# Twilio error code -> what it means for the contact, and what to tell the operator.
# https://www.twilio.com/docs/api/errors; the same table serves send-time API errors and
# the ErrorCode of status callbacks.
ERROR_CODES: Mapping[int, tuple[FailureKind, str]] = {
    20003: (FailureKind.AUTH, "authentication failed: check the account SID and auth token"),
    20005: (FailureKind.AUTH, "the account is not active"),
    20429: (FailureKind.TRANSIENT, "too many requests"),
    21211: (FailureKind.NUMBER, "invalid 'To' phone number"),
    21212: (FailureKind.AUTH, "invalid 'From' number: use a number owned by this account"),
    21408: (
        FailureKind.OTHER,
        "SMS to this country is not enabled: turn it on in the Messaging Geo Permissions",
    ),
    21603: (FailureKind.AUTH, "no sender: set a From number or a messaging service SID"),
    21606: (
        FailureKind.AUTH,
        "the 'From' number is not an SMS-capable number of this account: buy or port it, "
        "or add it to the messaging service",
    ),
    21608: (
        FailureKind.AUTH,
        "trial account: texts go only to verified numbers; upgrade the account",
    ),
    21610: (FailureKind.OPTED_OUT, "the recipient replied STOP to this sender"),
    21611: (FailureKind.TRANSIENT, "the sender's queue is full"),
    21612: (FailureKind.NUMBER, "the 'To' number is not reachable by SMS"),
    21614: (FailureKind.NUMBER, "the 'To' number is not a mobile number"),
    21635: (FailureKind.NUMBER, "the 'To' number is a landline"),
    21659: (FailureKind.AUTH, "the 'From' number is not a Twilio number of this account"),
    30001: (FailureKind.TRANSIENT, "queue overflow"),
    30002: (FailureKind.AUTH, "the account is suspended"),
    30003: (FailureKind.NUMBER, "unreachable destination handset"),
    30004: (FailureKind.OTHER, "message blocked"),
    30005: (FailureKind.NUMBER, "unknown destination handset"),
    30006: (FailureKind.NUMBER, "landline or unreachable carrier"),
    30007: (FailureKind.OTHER, "filtered by the carrier as spam or a violation"),
    30008: (FailureKind.OTHER, "unknown error"),
    30009: (FailureKind.TRANSIENT, "missing segment"),
    30017: (FailureKind.TRANSIENT, "carrier network congestion"),
    30022: (FailureKind.TRANSIENT, "US A2P 10DLC throughput limit exceeded"),
    30023: (FailureKind.TRANSIENT, "US A2P 10DLC daily cap reached"),
    30032: (
        FailureKind.AUTH,
        "toll-free sender not verified: submit Toll-Free Verification for this number",
    ),
    30034: (
        FailureKind.AUTH,
        "sender not registered for US A2P 10DLC: register a brand and campaign and add the "
        "number to the campaign's messaging service",
    ),
}

_STATES: Mapping[str, DeliveryState] = {
    **dict.fromkeys(("accepted", "scheduled", "queued", "sending"), DeliveryState.ACCEPTED),
    "sent": DeliveryState.SENT,
    **dict.fromkeys(("delivered", "read", "partially_delivered"), DeliveryState.DELIVERED),
    "undelivered": DeliveryState.UNDELIVERED,
    **dict.fromkeys(("failed", "canceled"), DeliveryState.FAILED),
}
_INBOUND_STATES = frozenset({"received", "receiving"})
_DEFAULT_PORTS = {"https": 443, "http": 80}


def basic_auth(username: str, password: str) -> dict[str, str]:
    """HTTP basic auth headers (aiohttp 3.14 deprecates ``BasicAuth``)."""
    return {"Authorization": basic_auth_value(username, password), "Accept": "application/json"}


class _Created(Accepted):
    """Twilio's answer to a create: the new message's SID."""

    id: str = Field(min_length=1, validation_alias="sid")


class _Problem(Model):
    """Twilio's error body (``code``, ``message``, ``more_info``, ``status``)."""

    code: int | None = None
    message: str | None = None


class _Account(Model):
    """The Account resource, read by ``verify``."""

    status: str
    friendly_name: str | None = None
    sid: str | None = None
    type: str | None = None


def verdict(reply: Reply) -> Verdict:
    """Twilio's code table applied to an error body."""
    problem = reply.parsed(_Problem)
    code = None if problem is None else problem.code
    kind, advice = ERROR_CODES.get(code or 0, (None, ""))
    message = "" if problem is None else problem.message or ""
    return Verdict(None if code is None else str(code), advice or message, kind)


def dialect(name: str) -> Dialect:
    """The Twilio dialect's statuses and code table, as spoken by ``name``."""
    return Dialect(
        name,
        # 402 is not in Twilio's REST status list: a plain error, shown, not retried.
        statuses={404: ProviderAuthError},
        refusal=verdict,
        accepted=_Created,
        hints={
            401: "check the account SID and token",
            403: "check the account SID and token",
            404: "check the account SID and api_base_url",
        },
    )


class CompatProvider:
    """Sends through a Twilio-dialect Messages API (Twilio itself, SignalWire)."""

    name = "twilio-compatible"
    #: What to check when the API refuses the credentials (shown by ``check``).
    credentials_fix = "check the account SID and the auth token"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        messages_url: str,
        username: str,
        password: str,
        timeout_seconds: float,
        status_callback: str | None = None,
        validity_period: int | None = None,
        messaging_service_sid: str | None = None,
        use_from_number: bool = True,
    ) -> None:
        self._url = messages_url
        self._http = Client(
            session, dialect(self.name), timeout_seconds, basic_auth(username, password)
        )
        self._callback = status_callback
        self._validity = validity_period
        self._service = messaging_service_sid
        self._use_from = use_from_number

    def form(self, sms: OutboundSms) -> dict[str, str]:
        """The form fields of the create-message request for ``sms``."""
        fields = {"To": sms.to, "Body": sms.body}
        if self._service:
            fields["MessagingServiceSid"] = self._service
        if sms.sender and (self._use_from or not self._service):
            fields["From"] = sms.sender
        if "From" not in fields and "MessagingServiceSid" not in fields:
            raise ProviderAuthError(
                f"{self.name}: no sender; set provider.default_sender or a messaging service"
            )
        if self._callback:
            fields["StatusCallback"] = self._callback
        if self._validity is not None:
            fields["ValidityPeriod"] = str(self._validity)
        return fields

    async def send(self, sms: OutboundSms) -> SendResult:
        """POST Messages.json; return the message SID or raise the mapped error."""
        # The Messages API takes no idempotency key or client reference, so a retried POST
        # could text twice: only a connect failure (nothing sent) is retried; a timeout or a
        # cut connection is "outcome unknown", and the outbox key stops double sends here.
        sid = await self._http.send(self._url, data=self.form(sms))
        return SendResult(self.name, sid)

    async def verify(self) -> str:
        """GET the Account resource: proves the credentials and that the account is active."""
        url = self._url.removesuffix("/Messages.json") + ".json"
        reply = await self._http.read(url, fix=self.credentials_fix)
        account = reply.parsed(_Account)
        if account is None:
            raise ProviderError(f"{self.name}: HTTP {reply.status} without an account status")
        name, state = account.friendly_name or account.sid, account.status
        if state != "active":
            raise ProviderAuthError(
                f"{self.name}: account {name!r} is {state}: reactivate it in the console"
            )
        kind = f" ({account.type})" if account.type is not None else ""
        return f"account {name!r} {state}{kind}"

    async def close(self) -> None:
        """The shared session is closed by its owner."""


class TwilioProvider(CompatProvider):
    """Twilio Programmable Messaging, authenticated with the account SID and auth token."""

    name = "twilio"
    credentials_fix = "check provider.twilio.account_sid and the token in auth_token_env"

    def __init__(
        self, settings: TwilioSettings, session: aiohttp.ClientSession, auth_token: str
    ) -> None:
        base = str(settings.api_base_url).rstrip("/")
        super().__init__(
            session,
            messages_url=f"{base}/2010-04-01/Accounts/{settings.account_sid}/Messages.json",
            username=settings.account_sid,
            password=auth_token,
            timeout_seconds=settings.timeout_seconds,
            status_callback=(
                None if settings.status_callback_url is None else str(settings.status_callback_url)
            ),
            validity_period=settings.validity_period,
            messaging_service_sid=settings.messaging_service_sid,
            use_from_number=settings.use_from_number,
        )


def signature(key: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Twilio's signature: base64 HMAC-SHA1 of the URL then each sorted name+value."""
    payload = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(key.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def url_variants(url: str) -> list[str]:
    """The URL as given, and with its default port added or removed.

    Twilio's and SignalWire's own validators accept both forms because a proxy in front of
    us may or may not spell out ``:443``/``:80``; only default ports are toggled.
    """
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return [url]
    if default is None or "@" in parts.netloc or port not in (None, default):
        return [url]
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = host if port else f"{host}:{default}"
    return [url, urlunsplit(parts._replace(netloc=netloc))]


def form_params(request: WebhookRequest) -> list[tuple[str, str]]:
    """The signed POST parameters of a callback (none for a GET: its query is in the URL)."""
    if request.method.upper() == "GET" or not request.body:
        return []
    try:
        text = request.body.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookPayloadError(f"not a form-encoded body: {exc}") from None


class CompatWebhook:
    """Verifies and parses Twilio-dialect status callbacks and inbound messages."""

    name = "twilio-compatible"
    #: Lower-cased headers that may carry the signature, in order of preference.
    signature_headers: tuple[str, ...] = (SIGNATURE_HEADER.lower(),)

    def __init__(self, key: str) -> None:
        if not key:
            raise ValueError("the webhook signing key is empty")
        self._key = key

    def expected(self, request: WebhookRequest, params: list[tuple[str, str]]) -> list[str]:
        """Every signature a genuine request could carry (one per URL spelling)."""
        return [signature(self._key, url, params) for url in url_variants(request.url)]

    def verify(self, request: WebhookRequest) -> list[tuple[str, str]]:
        """The request's form parameters, once its signature checks out."""
        given = next((v for h in self.signature_headers if (v := request.header(h))), None)
        if not given:
            raise WebhookAuthError(f"{self.name}: no signature header")
        params = form_params(request)
        expected = self.expected(request, params)
        if not any(hmac.compare_digest(e.encode(), given.encode()) for e in expected):
            raise WebhookAuthError(f"{self.name}: signature does not match")
        return params

    def parse(self, request: WebhookRequest, now: float) -> list[WebhookEvent]:
        """The delivery report or inbound text in one verified callback."""
        params = self.verify(request)
        fields = dict(request.query) if request.method.upper() == "GET" else dict(params)
        return self.events(fields)

    def events(self, fields: Mapping[str, str]) -> list[WebhookEvent]:
        """Turn verified callback fields into events."""
        sid = fields.get("MessageSid") or fields.get("SmsSid")
        if not sid:
            raise WebhookPayloadError(f"{self.name}: no MessageSid")
        status = (fields.get("MessageStatus") or fields.get("SmsStatus") or "").lower()
        if status in _INBOUND_STATES or (not status and "Body" in fields):
            try:
                return [InboundSms(self.name, sid, fields["From"], fields["To"], fields["Body"])]
            except KeyError as exc:
                raise WebhookPayloadError(f"{self.name}: inbound text without {exc}") from None
        if not status:
            raise WebhookPayloadError(f"{self.name}: neither a status nor a message body")
        state = _STATES.get(status)
        if state is None:
            return []  # a status Twilio added after this was written: ignore, do not 400
        code = fields.get("ErrorCode") or None
        failure: FailureKind | None = None
        detail: str | None = None
        if state in (DeliveryState.FAILED, DeliveryState.UNDELIVERED):
            known = ERROR_CODES.get(int(code)) if code and code.isdigit() else None
            failure, detail = known or (FailureKind.OTHER, None)
        return [DeliveryReport(self.name, sid, state, code, detail, failure)]


class TwilioWebhook(CompatWebhook):
    """Twilio callbacks, signed with the account's primary auth token."""

    name = "twilio"


def build(settings: ProviderSettings, res: Resources) -> TwilioProvider:
    """The Twilio adapter of ``[provider.twilio]`` (the registry calls this by name)."""
    s = section(settings.twilio, "twilio")
    return TwilioProvider(
        s, res.http, res.secret("provider.twilio.auth_token_env", s.auth_token_env)
    )


def build_webhook(settings: ProviderSettings, res: Resources) -> TwilioWebhook:
    """Twilio's callback verifier, keyed with the auth token."""
    s = section(settings.twilio, "twilio")
    return TwilioWebhook(res.secret("provider.twilio.auth_token_env", s.auth_token_env))
