"""Twilio Lookup v2 line type intelligence: is this caller's number able to receive texts?

``GET https://lookups.twilio.com/v2/PhoneNumbers/{E164}?Fields=line_type_intelligence`` with
the account's basic auth (https://www.twilio.com/docs/lookup/v2-api/line-type-intelligence).
Lookups are paid per request; the caller caches results with an expiry.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from pydantic import Field, HttpUrl

from asterisk_textback.errors import ProviderAuthError, ProviderError, ProviderTransientError
from asterisk_textback.sms._http import retry_after
from asterisk_textback.sms.vendors.twilio import Frozen, basic_auth

#: Line types that cannot receive an SMS; anything else (mobile, VoIP, toll-free, unknown)
#: is tried, and a carrier rejection then marks the contact.
NOT_SMS_CAPABLE = frozenset({"landline", "pager", "premium", "sharedCost", "uan", "voicemail"})


class TwilioLookupSettings(Frozen):
    """``[provider.twilio.lookup]``: where to ask and how long to wait."""

    api_base_url: HttpUrl = HttpUrl("https://lookups.twilio.com")
    timeout_seconds: float = Field(default=5.0, gt=0)


@dataclass(frozen=True, slots=True)
class LineType:
    """What Lookup says about one number."""

    number: str
    valid: bool
    #: Twilio's ``line_type_intelligence.type`` (mobile, landline, fixedVoip, …) or None.
    line_type: str | None
    carrier: str | None
    sms_capable: bool


def line_type_from(number: str, data: Any) -> LineType:
    """Interpret a Lookup v2 response body."""
    if not isinstance(data, dict):
        raise ProviderError(f"twilio lookup {number}: response is not a JSON object")
    if data.get("valid") is False:
        return LineType(number, False, None, None, False)
    info = data.get("line_type_intelligence")
    kind = info.get("type") if isinstance(info, dict) else None
    carrier = info.get("carrier_name") if isinstance(info, dict) else None
    kind = kind if isinstance(kind, str) and kind else None
    carrier = carrier if isinstance(carrier, str) else None
    return LineType(number, True, kind, carrier, kind not in NOT_SMS_CAPABLE)


class TwilioLookup:
    """Asks Twilio Lookup v2 for a number's line type, over the shared session."""

    def __init__(
        self,
        settings: TwilioLookupSettings,
        session: aiohttp.ClientSession,
        account_sid: str,
        auth_token: str,
    ) -> None:
        self._settings = settings
        self._session = session
        self._headers = basic_auth(account_sid, auth_token)

    async def line_type(self, number: str) -> LineType:
        """The line type of ``number`` (E.164); errors mapped like the send path's."""
        base = str(self._settings.api_base_url).rstrip("/")
        url = f"{base}/v2/PhoneNumbers/{quote(number, safe='')}"
        params = {"Fields": "line_type_intelligence"}
        try:
            async with asyncio.timeout(self._settings.timeout_seconds):
                async with self._session.get(url, params=params, headers=self._headers) as resp:
                    text = await resp.text()
                    status, headers = resp.status, resp.headers
        except (TimeoutError, aiohttp.ClientError) as exc:
            # A read: asking again is harmless, so every network failure is transient.
            raise ProviderTransientError(f"twilio lookup {number}: {exc!r}") from exc
        try:
            data: Any = json.loads(text) if text else None
        except ValueError:
            data = None
        if status == 200:
            return line_type_from(number, data)
        detail = f"twilio lookup {number}: HTTP {status}: {text[:200]}"
        if status == 404:
            return LineType(number, False, None, None, False)
        if status == 429 or status >= 500:
            raise ProviderTransientError(detail, retry_after(headers))
        if status in (401, 403):
            raise ProviderAuthError(f"{detail} (check the account SID, token and Lookup access)")
        raise ProviderError(detail)
