"""Bookings: tracking tokens, the attribution rule, and storing a booking once.

Attribution rule: a booking goes to the missed call whose text-back the caller received
within ``window`` before the booking — first by the booking link's tracking token (it names
the exact text, so no window applies), else by phone number: the latest text-back to the
booking's E.164 number that was delivered (or, without a delivery report, sent and not
failed) no later than the booking and no earlier than ``window`` before it (last touch).

Tokens, carried in the link as ``?tb=<token>`` (see ``tracking_url``); the HMAC keeps a
guessed or edited token from attributing revenue to the wrong call:

- call token (what texts carry): ``<call end, unix seconds, base 36>-<8 base-32 characters
  of HMAC-SHA256(secret, "tb:<pbx>:<linkedid>")>``, e.g. ``t3a9xq-k3xq7a2b``. It is known
  before any row exists (the text is rendered before the call and message rows are
  inserted); it is resolved by the indexed ``calls.ended_at`` second, then the HMAC.
- message token (older): ``<message id in base 36>-<6 base-32 characters>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from asterisk_textback.bookings.status import BookingStatus

__all__ = [
    "TOKEN_PARAMS",
    "Attribution",
    "NewBooking",
    "call_signature_matches",
    "call_token",
    "link_tool",
    "make_token",
    "parse_call_token",
    "parse_token",
    "tracked_link",
    "tracking_url",
]

#: The query parameter that carries the token, per booking tool.
TOKEN_PARAMS: Final = {"generic": "tb", "calcom": "metadata[tb]", "calendly": "utm_content"}
_TOKEN = re.compile(r"^([0-9a-z]{1,13})-([a-z2-7]{6})$")
_CALL_TOKEN = re.compile(r"^([0-9a-z]{1,8})-([a-z2-7]{8})$")


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _signature(message_id: int, secret: str) -> str:
    mac = hmac.new(secret.encode(), f"tb:{message_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode()[:6].lower()


def make_token(message_id: int, secret: str) -> str:
    """The tracking token for a text-back message."""
    if message_id < 0:
        raise ValueError("message ids are not negative")
    return f"{_base36(message_id)}-{_signature(message_id, secret)}"


def parse_token(token: str, secret: str) -> int | None:
    """The message id a token names; None when it is malformed or its signature is wrong."""
    match = _TOKEN.match(token.strip().lower())
    if match is None:
        return None
    message_id = int(match[1], 36)
    if not hmac.compare_digest(match[2], _signature(message_id, secret)):
        return None
    return message_id


def tracking_url(url: str, token: str, tool: str = "generic") -> str:
    """``url`` with the token added as the query parameter ``tool`` passes on to webhooks."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), (TOKEN_PARAMS[tool], token)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="[]")))


def _call_signature(pbx: str, linkedid: str, secret: str) -> str:
    mac = hmac.new(secret.encode(), f"tb:{pbx}:{linkedid}".encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode()[:8].lower()


def call_signature_matches(signature: str, pbx: str, linkedid: str, secret: str) -> bool:
    """Whether a call token's signature names this call (constant-time comparison)."""
    return hmac.compare_digest(signature, _call_signature(pbx, linkedid, secret))


def call_token(pbx: str, linkedid: str, ended_at: float, secret: str) -> str:
    """The tracking token of the text about one call (derivable before any row exists)."""
    return f"{_base36(max(0, int(ended_at)))}-{_call_signature(pbx, linkedid, secret)}"


def parse_call_token(token: str) -> tuple[int, str] | None:
    """(call end in unix seconds, signature) of a call token; None when it is not one."""
    match = _CALL_TOKEN.match(token.strip().lower())
    return None if match is None else (int(match[1], 36), match[2])


def link_tool(url: str) -> str:
    """Which booking tool a link points at (``TOKEN_PARAMS`` key), judged by its host."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "cal.com" or host.endswith((".cal.com", "cal.eu")):
        return "calcom"
    if host == "calendly.com" or host.endswith(".calendly.com"):
        return "calendly"
    return "generic"


def tracked_link(url: str, *, pbx: str, linkedid: str, ended_at: float, secret: str) -> str:
    """``url`` carrying the call's token in the parameter its booking tool passes on."""
    token = call_token(pbx, linkedid, ended_at, secret)
    return tracking_url(url, token, link_tool(url))


@dataclass(frozen=True, slots=True)
class NewBooking:
    """A booking as a webhook or the manual action reports it (parsed, not yet stored)."""

    source: str
    booked_at: datetime
    status: BookingStatus = BookingStatus.BOOKED
    external_id: str | None = None
    value_minor: int | None = None
    currency: str | None = None
    starts_at: datetime | None = None
    e164: str | None = None
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Attribution:
    """Which call (and text) a booking is credited to, and by which rule."""

    call_id: int
    message_id: int
    by: str
