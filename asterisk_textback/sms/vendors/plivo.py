"""Plivo adapter: Message API (send), V3-signed status callbacks and inbound texts.

Shapes and codes from https://www.plivo.com/docs/messaging/api/message (send, 202 +
``message_uuid``), .../message-status-callbacks, .../troubleshooting/error-codes; the V3
signature follows plivo-python's ``plivo/utils/signature_v3.py`` (``validate_v3_signature``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, quote, urlparse, urlunparse

import aiohttp
from pydantic import AliasPath, Field

from asterisk_textback.errors import (
    ProviderAuthError,
    ProviderError,
    WebhookAuthError,
    WebhookPayloadError,
)
from asterisk_textback.sms._http import (
    AUTH_STATUSES,
    Accepted,
    Client,
    Dialect,
    Model,
    Reply,
    Verdict,
    basic_auth_value,
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
from asterisk_textback.sms.settings.plivo import PlivoSettings as PlivoSettings
from asterisk_textback.sms.wire import epoch, with_plus, without_plus

SIGNATURE_HEADER = "x-plivo-signature-v3"
NONCE_HEADER = "x-plivo-signature-v3-nonce"

_F = FailureKind
#: Plivo's message ``ErrorCode`` (status callbacks and MDRs) -> meaning.
CODES: Mapping[str, FailureKind] = {
    "10": _F.OTHER,  # Invalid message
    "20": _F.TRANSIENT,  # Network error
    "30": _F.OTHER,  # Spam detected
    "40": _F.AUTH,  # Invalid source number (format, not SMS-enabled, not on the account)
    "50": _F.NUMBER,  # Invalid destination number (not SMS-enabled or a PSTN landline)
    "60": _F.OTHER,  # Loop detected
    "70": _F.NUMBER,  # Destination permanently unavailable
    "80": _F.TRANSIENT,  # Destination temporarily unavailable
    "90": _F.OTHER,  # No route available
    "100": _F.NUMBER,  # Prohibited by carrier: the destination network does not take SMS
    "110": _F.OTHER,  # Message too long
    "200": _F.OPTED_OUT,  # Source number blocked by STOP from destination number
    "201": _F.OTHER,  # US toll-free to Canadian destination blocked
    "300": _F.TRANSIENT,  # Failed to dispatch message
    "420": _F.TRANSIENT,  # Message expired
    "450": _F.AUTH,  # Destination country disabled on the account
    "900": _F.AUTH,  # Insufficient credit
    "910": _F.AUTH,  # Account disabled
    "1000": _F.OTHER,  # Unknown error
}

_STATES: Mapping[str, DeliveryState] = {
    "queued": DeliveryState.ACCEPTED,
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "undelivered": DeliveryState.UNDELIVERED,
    "failed": DeliveryState.FAILED,
    "rejected": DeliveryState.FAILED,
}
_FAILED = frozenset({DeliveryState.FAILED, DeliveryState.UNDELIVERED})

# Plivo's send errors are free text in ``{"api_id": …, "error": …}``; only explicit wording
# is held against the contact (a bare 400 may be our request, not the caller's number).
_OPTED_OUT = re.compile(r"opt(ed)?[ -]?out|\bstop\b|unsubscribed", re.I)
_ACCOUNT = re.compile(
    r"insufficient|credit|suspend|disabled|not (authori[sz]ed|allowed|permitted)|\bsrc\b|"
    r"source|powerpack|10dlc|campaign|regist|verif",
    re.I,
)
_NUMBER = re.compile(
    r"invalid[^.]*\b(dst|destination)\b|\b(dst|destination)\b[^.]*invalid|landline|"
    r"not (sms|text)[- ]?(capable|enabled)",
    re.I,
)
_WORDS = ((_F.OPTED_OUT, _OPTED_OUT), (_F.NUMBER, _NUMBER), (_F.AUTH, _ACCOUNT))


class _Refusal(Model):
    """Plivo's error body: ``{"api_id": …, "error": …}`` (free text, sometimes an object)."""

    error: Any = None


def verdict(reply: Reply) -> Verdict:
    """Plivo's words, and what they say, on a refusal that is not about our credentials."""
    found = reply.parsed(_Refusal)
    error = None if found is None else found.error
    if error is None:
        words = reply.text[:200]
    else:
        words = error if isinstance(error, str) else json.dumps(error)[:200]
    if reply.status in AUTH_STATUSES or reply.status == 404:
        return Verdict(None, words)  # wrong Auth ID/token or base URL, whatever it says
    for kind, pattern in _WORDS:
        if pattern.search(words):
            return Verdict(None, words, kind)
    return Verdict(None, words)


class _Queued(Accepted):
    """``202 {"message": "message(s) queued", "message_uuid": [the one uuid]}``."""

    id: str = Field(min_length=1, validation_alias=AliasPath("message_uuid", 0))


class _Account(Model):
    """``GET /v1/Account/{auth_id}/``, as ``verify`` reads it."""

    name: str | None = None
    auth_id: str | None = None
    account_type: str | None = None
    cash_credits: Any = "?"


DIALECT = Dialect(
    "plivo",
    # Plivo documents no 402 on the Message API; out-of-credit arrives in words (above).
    statuses={402: ProviderError, 404: ProviderAuthError},
    refusal=verdict,
    accepted=_Queued,
)


class PlivoProvider:
    """Sends texts with ``POST /v1/Account/{auth_id}/Message/``."""

    name = "plivo"

    def __init__(
        self, settings: PlivoSettings, session: aiohttp.ClientSession, auth_token: str
    ) -> None:
        self._settings = settings
        headers = {
            "Authorization": basic_auth_value(settings.auth_id, auth_token),
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self._http = Client(session, DIALECT, settings.timeout_seconds, headers)
        base = str(settings.api_base_url).rstrip("/")
        self._url = f"{base}/v1/Account/{quote(settings.auth_id, safe='')}/Message/"

    def _payload(self, sms: OutboundSms) -> dict[str, str]:
        s = self._settings
        # Plivo's reference gives numbers with the country code and no '+'.
        payload = {"dst": without_plus(sms.to), "text": sms.body, "type": "sms"}
        # Plivo refuses both at once; the DID's own number keeps replies on the line called.
        if sms.sender:
            payload["src"] = without_plus(sms.sender)
        elif s.powerpack_uuid:
            payload["powerpack_uuid"] = s.powerpack_uuid
        else:
            raise ProviderAuthError("plivo: no sender number and no powerpack_uuid")
        if s.status_url is not None:
            payload["url"] = str(s.status_url)
            payload["method"] = s.status_method
        return payload

    async def send(self, sms: OutboundSms) -> SendResult:
        """Hand one text to Plivo; map its answer onto our provider errors."""
        body = json.dumps(self._payload(sms), ensure_ascii=False).encode()
        return SendResult(self.name, await self._http.send(self._url, data=body))

    async def verify(self) -> str:
        """GET the Account resource (``/v1/Account/{auth_id}/``): proves the Auth ID/token."""
        fix = f"check provider.plivo.auth_id and the token in {self._settings.auth_token_env}"
        reply = await self._http.read(self._url.removesuffix("Message/"), fix=fix)
        account = reply.parsed(_Account)
        if account is None:
            raise ProviderError(f"plivo: HTTP {reply.status} without an account")
        name = account.name or account.auth_id or self._settings.auth_id
        kind = account.account_type or "account"
        return f"{kind} account {name!r}, credit {account.cash_credits}"

    async def close(self) -> None:
        """The shared session is closed by its owner."""


def _sorted_query(params: Mapping[str, list[str]]) -> str:
    return "&".join(f"{k}={v}" for k in sorted(params) for v in sorted(params[k]))


def _sorted_params(params: Mapping[str, list[str]]) -> str:
    return "".join(f"{k}{v}" for k in sorted(params) for v in sorted(params[k]))


def v3_signature(
    method: str, url: str, params: Mapping[str, list[str]], nonce: str, auth_token: str
) -> str:
    """Plivo's V3 signature of one callback (``params``: the POST form, empty for GET).

    base64(HMAC-SHA256(token, url-without-query + "?" + sorted ``k=v`` query joined by
    "&" + ("." when both a query and POST params exist) + sorted ``kv`` POST params
    + "." + nonce)); the "?" is added for a POST with params even without a query.
    """
    parts = urlparse(url)
    base = urlunparse((parts.scheme, parts.netloc, parts.path, "", "", ""))
    query = _sorted_query(parse_qs(parts.query, keep_blank_values=True))
    posted = method.upper() != "GET" and bool(params)
    if query or posted:
        base += "?" + query
    if query and posted:
        base += "."
    if posted:
        base += _sorted_params(params)
    digest = hmac.new(auth_token.encode(), f"{base}.{nonce}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _at(fields: Mapping[str, str]) -> float | None:
    # Plivo stamps are UTC without an offset; the first readable one of these is used.
    keys = ("DeliveryReportTime", "SentTime", "QueuedTime", "MessageTime")
    return next((at for key in keys if (at := epoch(fields.get(key))) is not None), None)


class PlivoWebhook:
    """Verifies (V3 signature) and parses Plivo status callbacks and inbound texts."""

    name = "plivo"

    def __init__(self, auth_token: str) -> None:
        self._token = auth_token

    def verify(self, request: WebhookRequest) -> dict[str, list[str]]:
        """The signed parameters; :class:`WebhookAuthError` unless Plivo signed them."""
        signatures = request.header(SIGNATURE_HEADER)
        nonce = request.header(NONCE_HEADER)
        if not signatures or not nonce:
            raise WebhookAuthError("plivo webhook: V3 signature headers missing")
        method = request.method.upper()
        if method == "GET":
            params: dict[str, list[str]] = {}
        else:
            try:
                form = request.body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise WebhookPayloadError("plivo webhook: body is not UTF-8") from exc
            params = parse_qs(form, keep_blank_values=True)
        expected = v3_signature(method, request.url, params, nonce, self._token).encode()
        # Plivo sends one signature per active Auth Token, comma-separated.
        if not any(
            hmac.compare_digest(expected, given.strip().encode("utf-8", "replace"))
            for given in signatures.split(",")
        ):
            raise WebhookAuthError("plivo webhook: bad signature")
        return params if method != "GET" else parse_qs(urlparse(request.url).query)

    def parse(self, request: WebhookRequest, now: float) -> list[WebhookEvent]:
        """The delivery report or inbound text in one verified callback."""
        fields = {k: v[0] for k, v in self.verify(request).items() if v}
        uuid = fields.get("MessageUUID", "")
        if not uuid:
            raise WebhookPayloadError("plivo webhook: MessageUUID missing")
        if "Status" in fields:
            state = _STATES.get(fields["Status"].strip().lower())
            if state is None:
                return []  # a status we do not track
            code = fields.get("ErrorCode", "").strip() or None
            failure = CODES.get(code or "", _F.OTHER) if state in _FAILED else None
            return [DeliveryReport(self.name, uuid, state, code, None, failure, _at(fields))]
        if "From" in fields and "To" in fields and "Text" in fields:
            return [
                InboundSms(
                    provider=self.name,
                    provider_message_id=uuid,
                    from_number=with_plus(fields["From"]),
                    to_number=with_plus(fields["To"]),
                    body=fields["Text"],
                    at=_at(fields),
                )
            ]
        raise WebhookPayloadError("plivo webhook: neither a status callback nor a message")


def build(settings: ProviderSettings, res: Resources) -> PlivoProvider:
    """The Plivo adapter of ``[provider.plivo]``."""
    s = section(settings.plivo, "plivo")
    token = res.secret("provider.plivo.auth_token_env", s.auth_token_env)
    return PlivoProvider(s, res.http, token)


def build_webhook(settings: ProviderSettings, res: Resources) -> PlivoWebhook:
    """Plivo's callback verifier (V3 signatures, keyed with the Auth Token)."""
    s = section(settings.plivo, "plivo")
    return PlivoWebhook(res.secret("provider.plivo.auth_token_env", s.auth_token_env))
