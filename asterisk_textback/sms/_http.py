"""The one HTTP path of the SMS adapters: one request helper and one status classifier.

Every vendor call goes through :meth:`Client.call`, which owns the timeout and turns network
trouble into our errors, and every answer through :func:`accepted_id` or :func:`refusal`,
which apply the same rules to every vendor. An adapter states only what differs, in a
:class:`Dialect`: the pydantic model of its "accepted" answer, its code table (a function
from a refusal to a :class:`Verdict`) and its table of the statuses the shared rules leave
open (402, 404, …). The rules, in order:

1. 408, 429 and 5xx are transient, with the ``Retry-After`` the server sent (both forms);
2. a vendor error code that the adapter's code table knows decides next;
3. 401 and 403 are an auth error (credentials, account, role);
4. any other status means what the vendor's table says, else a plain :class:`ProviderError`.

A send is not idempotent: a connect failure (nothing left us) is transient, but a timeout
or a cut connection is "outcome unknown" so the outbox never texts twice. A read
(``safe=True``) changes nothing, so any network trouble is simply transient.
"""

from __future__ import annotations

import asyncio
import base64
import json as jsonlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import aiohttp
from pydantic import AliasPath, BaseModel, ConfigDict, Field, ValidationError

from asterisk_textback.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNumberError,
    ProviderOptedOutError,
    ProviderOutcomeUnknownError,
    ProviderTransientError,
    WebhookPayloadError,
)
from asterisk_textback.sms.base import FailureKind

#: Statuses every vendor means as "try again later" (besides 5xx).
TRANSIENT_STATUSES = frozenset({408, 429})
#: Statuses every vendor means as "your credentials or account are wrong".
AUTH_STATUSES = frozenset({401, 403})

#: What each kind of failure raises at the send boundary.
RAISES: Mapping[FailureKind, type[ProviderError]] = {
    FailureKind.TRANSIENT: ProviderTransientError,
    FailureKind.NUMBER: ProviderNumberError,
    FailureKind.OPTED_OUT: ProviderOptedOutError,
    FailureKind.AUTH: ProviderAuthError,
    FailureKind.OTHER: ProviderError,
}

M = TypeVar("M", bound=BaseModel)


class Model(BaseModel):
    """A vendor answer: frozen, and keys the vendor adds later are ignored, not refused."""

    model_config = ConfigDict(frozen=True, extra="ignore")


def parse_json(model: type[M], raw: str | bytes) -> M | None:
    """``raw`` as ``model``, or None when it is not JSON of that shape."""
    try:
        return model.model_validate_json(raw)
    except ValidationError:
        return None


def parse_body(model: type[M], raw: str | bytes | Mapping[str, Any], who: str) -> M:
    """A callback body (or a part of one) as ``model``; else :class:`WebhookPayloadError`."""
    try:
        if isinstance(raw, Mapping):
            return model.model_validate(raw)
        return model.model_validate_json(raw)
    except ValidationError as exc:
        kinds = sorted({e["type"] for e in exc.errors()})
        raise WebhookPayloadError(f"{who}: not the documented shape ({', '.join(kinds)})") from None


class Accepted(Model):
    """A vendor's answer to an accepted send: its id for the text, which must not be empty.

    A vendor that puts the id elsewhere than ``id`` redeclares the field with a
    ``validation_alias`` (a key, or an ``AliasPath`` such as ``("data", "id")``).
    """

    id: str = Field(min_length=1)

    @classmethod
    def where(cls) -> str:
        """Where the id is, as the "outcome unknown" message names it."""
        alias = cls.model_fields["id"].validation_alias
        if isinstance(alias, AliasPath):
            return ".".join(map(str, alias.path))
        return alias if isinstance(alias, str) else "id"


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer, read whole: status, headers and the body as text."""

    status: int
    headers: Mapping[str, str]
    text: str

    @property
    def ok(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status < 300

    def parsed(self, model: type[M]) -> M | None:
        """The body as ``model``, or None when it is not JSON of that shape."""
        return parse_json(model, self.text) if self.text else None


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a vendor's error body says: its code, its words, and what the code means."""

    code: str | None = None
    words: str = ""
    kind: FailureKind | None = None


def no_verdict(reply: Reply) -> Verdict:
    """A code table for endpoints whose errors carry no code worth reading."""
    return Verdict()


@dataclass(frozen=True, slots=True)
class Dialect:
    """What one vendor's endpoint adds to the shared rules."""

    name: str
    #: Statuses the shared rules leave open (402 in every table, on purpose: vendors differ).
    statuses: Mapping[int, type[ProviderError]]
    #: The vendor's code table: reads a refusal's body.
    refusal: Callable[[Reply], Verdict] = no_verdict
    #: The model of an accepted send (None for endpoints that send nothing).
    accepted: type[Accepted] | None = None
    #: A hint appended to the message for a status (what to check).
    hints: Mapping[int, str] = field(default_factory=dict)
    #: What an unlisted status raises.
    fallback: type[ProviderError] = ProviderError


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait per ``Retry-After`` (RFC 9110 §10.2.3: delta-seconds or HTTP-date).

    A garbage, non-finite or missing value is None (the caller's own backoff applies); a
    date in the past, or a negative delay, is 0.
    """
    value = headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": an HTTP-date is always GMT, never local time
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def basic_auth_value(user: str, password: str) -> str:
    """An ``Authorization: Basic`` header value (aiohttp's BasicAuth is deprecated)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def compact_json(payload: Mapping[str, Any]) -> bytes:
    """A JSON body serialised once and compactly, so a retry repeats it byte for byte."""
    return jsonlib.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _error(cls: type[ProviderError], detail: str, headers: Mapping[str, str]) -> ProviderError:
    if issubclass(cls, ProviderTransientError):
        return cls(detail, retry_after(headers))
    return cls(detail)


def classify(status: int, verdict: Verdict, dialect: Dialect) -> type[ProviderError]:
    """The error a refused call raises, by the shared rules (see the module docstring)."""
    if status in TRANSIENT_STATUSES or status >= 500:
        return ProviderTransientError
    if verdict.kind is not None:
        return RAISES[verdict.kind]
    if status in AUTH_STATUSES:
        return ProviderAuthError
    return dialect.statuses.get(status, dialect.fallback)


def refusal(reply: Reply, dialect: Dialect) -> ProviderError:
    """The mapped error of a non-2xx answer, its message naming status, code and words."""
    verdict = dialect.refusal(reply)
    words = verdict.words or reply.text[:200]
    detail = f"{dialect.name}: HTTP {reply.status} [{verdict.code or '-'}]: {words}"
    hint = dialect.hints.get(reply.status)
    if hint:
        detail += f" ({hint})"
    return _error(classify(reply.status, verdict, dialect), detail, reply.headers)


def raise_for(reply: Reply, dialect: Dialect, fix: str | None = None) -> Reply:
    """``reply`` if it is a 2xx; else raise its mapped error (an auth error names ``fix``)."""
    if reply.ok:
        return reply
    error = refusal(reply, dialect)
    if fix and type(error) is ProviderAuthError:
        raise ProviderAuthError(f"{error}; fix: {fix}") from None
    raise error


def accepted_id(reply: Reply, dialect: Dialect) -> str:
    """The vendor's id of an accepted send, or the mapped error of a refused one."""
    raise_for(reply, dialect)
    model = dialect.accepted
    found = None if model is None else reply.parsed(model)
    if found is None:
        # Accepted (2xx) but unreadable: it may well be on its way, so never resend.
        what = "a message id" if model is None else model.where()
        raise ProviderOutcomeUnknownError(f"{dialect.name}: HTTP {reply.status} without {what}")
    return found.id


@dataclass(frozen=True, slots=True)
class Client:
    """One vendor's way out: the shared session, its dialect, its timeout, its headers."""

    session: aiohttp.ClientSession
    dialect: Dialect
    timeout: float
    #: Sent with every call (auth, ``Accept``); a call's own headers are added on top.
    headers: Mapping[str, str] = field(default_factory=dict)

    async def call(
        self,
        method: str,
        url: str,
        *,
        safe: bool,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Reply:
        """Make one call within the timeout; network trouble is mapped, a status is not."""
        try:
            async with asyncio.timeout(self.timeout):
                async with self.session.request(
                    method,
                    url,
                    headers={**self.headers, **(headers or {})},
                    data=data,
                    json=json,
                    params=params,
                ) as resp:
                    raw = await resp.read()
                    return Reply(resp.status, resp.headers, raw.decode("utf-8", "replace"))
        except aiohttp.ClientConnectorError as exc:
            # Never connected: nothing can have been sent, a retry is safe.
            raise ProviderTransientError(f"{self.name}: cannot connect to {url}: {exc!r}") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            if safe:  # a read changes nothing: asking again is harmless
                raise ProviderTransientError(f"{self.name}: {method} {url}: {exc!r}") from exc
            raise ProviderOutcomeUnknownError(f"{self.name}: {method} {url}: {exc!r}") from exc

    @property
    def name(self) -> str:
        """The vendor's name, as every message of this client starts."""
        return self.dialect.name

    async def send(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        json: Any = None,
    ) -> str:
        """POST one text; the vendor's id for it, or the mapped error."""
        reply = await self.call("POST", url, safe=False, headers=headers, data=data, json=json)
        return accepted_id(reply, self.dialect)

    async def read(
        self,
        url: str,
        *,
        fix: str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Reply:
        """GET a resource (safe to repeat); a refusal raises, an auth error naming ``fix``."""
        reply = await self.call("GET", url, safe=True, headers=headers, params=params)
        return raise_for(reply, self.dialect, fix)
