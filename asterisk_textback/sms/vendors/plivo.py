"""Plivo adapter: Message API (send), V3-signed status callbacks and inbound texts.

Shapes and codes from https://www.plivo.com/docs/messaging/api/message (send, 202 +
``message_uuid``), .../message-status-callbacks, .../troubleshooting/error-codes; the V3
signature follows plivo-python's ``plivo/utils/signature_v3.py`` (``validate_v3_signature``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal, NoReturn
from urllib.parse import parse_qs, quote, urlparse, urlunparse

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

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
from asterisk_textback.sms._http import retry_after
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


class PlivoSettings(BaseModel):
    """The ``[provider.plivo]`` section."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The account's Auth ID (an identifier in every API path, not a secret).
    auth_id: str = Field(min_length=1)
    #: Name of the environment variable holding the Auth Token (basic auth, webhook key).
    auth_token_env: str = "PLIVO_AUTH_TOKEN"
    #: Used only for texts without a sender number (Plivo takes ``src`` or a Powerpack).
    powerpack_uuid: str | None = None
    #: Status callback URL (``url``) and the method Plivo calls it with (``method``).
    status_url: HttpUrl | None = None
    status_method: Literal["POST", "GET"] = "POST"
    api_base_url: HttpUrl = HttpUrl("https://api.plivo.com")
    timeout_seconds: float = Field(default=10.0, gt=0)


def _error_text(text: str) -> str:
    try:
        error = json.loads(text).get("error") if text else None
    except (ValueError, AttributeError):
        error = None
    if error is None:
        return text[:200]
    return error if isinstance(error, str) else json.dumps(error)[:200]


def _raise_for(status: int, headers: Mapping[str, str], text: str) -> NoReturn:
    error = _error_text(text)
    detail = f"plivo: HTTP {status}: {error}"
    if status in (408, 429) or status >= 500:
        raise ProviderTransientError(detail, retry_after(headers))
    if status in (401, 403, 404):
        raise ProviderAuthError(detail)  # wrong Auth ID/token or base URL: stop and tell
    if _OPTED_OUT.search(error):
        raise ProviderOptedOutError(detail)
    if _NUMBER.search(error):
        raise ProviderNumberError(detail)
    if _ACCOUNT.search(error):
        raise ProviderAuthError(detail)
    raise ProviderError(detail)


def _plivo_number(e164: str) -> str:
    # Plivo's reference gives numbers with the country code and no '+'.
    return e164[1:] if e164.startswith("+") else e164


class PlivoProvider:
    """Sends texts with ``POST /v1/Account/{auth_id}/Message/``."""

    name = "plivo"

    def __init__(
        self, settings: PlivoSettings, session: aiohttp.ClientSession, auth_token: str
    ) -> None:
        self._settings = settings
        self._session = session
        # Built by hand: aiohttp.BasicAuth is deprecated in 3.14, encode_basic_auth is new there.
        pair = base64.b64encode(f"{settings.auth_id}:{auth_token}".encode()).decode()
        self._headers = {
            "Authorization": f"Basic {pair}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        base = str(settings.api_base_url).rstrip("/")
        self._url = f"{base}/v1/Account/{quote(settings.auth_id, safe='')}/Message/"

    def _payload(self, sms: OutboundSms) -> dict[str, str]:
        s = self._settings
        payload = {"dst": _plivo_number(sms.to), "text": sms.body, "type": "sms"}
        # Plivo refuses both at once; the DID's own number keeps replies on the line called.
        if sms.sender:
            payload["src"] = _plivo_number(sms.sender)
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
        try:
            async with asyncio.timeout(self._settings.timeout_seconds):
                async with self._session.post(self._url, data=body, headers=self._headers) as resp:
                    status, resp_headers = resp.status, resp.headers
                    text = (await resp.read()).decode("utf-8", "replace")
        except aiohttp.ClientConnectorError as exc:
            # Never connected: nothing can have been sent, a retry is safe.
            raise ProviderTransientError(f"plivo {self._url}: {exc!r}") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ProviderOutcomeUnknownError(f"plivo {self._url}: {exc!r}") from exc
        if not 200 <= status < 300:
            _raise_for(status, resp_headers, text)
        try:
            uuids = json.loads(text).get("message_uuid")
        except (ValueError, AttributeError):
            uuids = None
        if not isinstance(uuids, list) or not uuids or not isinstance(uuids[0], str):
            # Accepted (2xx) but unreadable: it may well be on its way, so never resend.
            raise ProviderOutcomeUnknownError("plivo: 2xx without message_uuid")
        return SendResult(self.name, uuids[0])

    async def verify(self) -> str:
        """GET the Account resource (``/v1/Account/{auth_id}/``): proves the Auth ID/token."""
        url = self._url.removesuffix("Message/")
        try:
            async with asyncio.timeout(self._settings.timeout_seconds):
                async with self._session.get(url, headers=self._headers) as resp:
                    status, resp_headers = resp.status, resp.headers
                    text = (await resp.read()).decode("utf-8", "replace")
        except (TimeoutError, aiohttp.ClientError) as exc:
            # A read changes nothing: any network trouble is simply worth another try.
            raise ProviderTransientError(f"plivo {url}: {exc!r}") from exc
        if not 200 <= status < 300:
            try:
                _raise_for(status, resp_headers, text)
            except ProviderAuthError as exc:
                fix = (
                    f"check provider.plivo.auth_id and the token in {self._settings.auth_token_env}"
                )
                raise ProviderAuthError(f"{exc}; fix: {fix}") from None
        try:
            account = json.loads(text)
        except ValueError:
            account = None
        if not isinstance(account, dict):
            raise ProviderError(f"plivo: HTTP {status} without an account")
        name = account.get("name") or account.get("auth_id") or self._settings.auth_id
        kind = account.get("account_type") or "account"
        return f"{kind} account {name!r}, credit {account.get('cash_credits', '?')}"

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


def _e164(number: str) -> str:
    return "+" + number if number.isdigit() else number


def _at(fields: Mapping[str, str]) -> float | None:
    for key in ("DeliveryReportTime", "SentTime", "QueuedTime", "MessageTime"):
        try:
            stamp = datetime.fromisoformat(fields.get(key, ""))
        except ValueError:
            continue
        # Plivo stamps are UTC without an offset.
        return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
    return None


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
                    from_number=_e164(fields["From"]),
                    to_number=_e164(fields["To"]),
                    body=fields["Text"],
                    at=_at(fields),
                )
            ]
        raise WebhookPayloadError("plivo webhook: neither a status callback nor a message")
