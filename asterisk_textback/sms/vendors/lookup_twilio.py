"""Twilio Lookup v2 line type intelligence: is this caller's number able to receive texts?

``GET https://lookups.twilio.com/v2/PhoneNumbers/{E164}?Fields=line_type_intelligence`` with
the account's basic auth (https://www.twilio.com/docs/lookup/v2-api/line-type-intelligence).
Lookups are paid per request; the caller caches results with an expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import aiohttp

from asterisk_textback.errors import ProviderError
from asterisk_textback.sms._http import Client, Dialect, Model, parse_json, refusal
from asterisk_textback.sms.lookup import LineLookup, line_lookup
from asterisk_textback.sms.resources import Resources, section
from asterisk_textback.sms.settings import ProviderSettings
from asterisk_textback.sms.settings.twilio import TwilioLookupSettings
from asterisk_textback.sms.vendors.twilio import basic_auth

__all__ = ["NOT_SMS_CAPABLE", "LineType", "TwilioLookup", "TwilioLookupSettings", "build"]

#: Line types that cannot receive an SMS; anything else (mobile, VoIP, toll-free, unknown)
#: is tried, and a carrier rejection then marks the contact.
NOT_SMS_CAPABLE = frozenset({"landline", "pager", "premium", "sharedCost", "uan", "voicemail"})

_CHECK = "check the account SID, token and Lookup access"
#: Lookup's statuses: 404 is answered before the table (an unknown number, not an error).
_DIALECT = Dialect(
    "twilio lookup",
    statuses={402: ProviderError},
    hints={401: _CHECK, 403: _CHECK},
)


@dataclass(frozen=True, slots=True)
class LineType:
    """What Lookup says about one number."""

    number: str
    valid: bool
    #: Twilio's ``line_type_intelligence.type`` (mobile, landline, fixedVoip, …) or None.
    line_type: str | None
    carrier: str | None
    sms_capable: bool


class _Intelligence(Model):
    type: str | None = None
    carrier_name: str | None = None


class _Lookup(Model):
    """A Lookup v2 answer (only the fields we read)."""

    valid: bool | None = None
    line_type_intelligence: _Intelligence | None = None


def line_type_from(number: str, text: str) -> LineType:
    """Interpret a Lookup v2 response body."""
    found = parse_json(_Lookup, text)
    if found is None:
        raise ProviderError(f"twilio lookup {number}: response is not a Lookup JSON object")
    if found.valid is False:
        return LineType(number, False, None, None, False)
    info = found.line_type_intelligence or _Intelligence()
    kind = info.type or None
    return LineType(number, True, kind, info.carrier_name, kind not in NOT_SMS_CAPABLE)


class TwilioLookup:
    """Asks Twilio Lookup v2 for a number's line type, over the shared session."""

    def __init__(
        self,
        settings: TwilioLookupSettings,
        session: aiohttp.ClientSession,
        account_sid: str,
        auth_token: str,
    ) -> None:
        self._base = str(settings.api_base_url).rstrip("/")
        headers = basic_auth(account_sid, auth_token)
        self._http = Client(session, _DIALECT, settings.timeout_seconds, headers)

    async def line_type(self, number: str) -> LineType:
        """The line type of ``number`` (E.164); errors mapped like the send path's."""
        url = f"{self._base}/v2/PhoneNumbers/{quote(number, safe='')}"
        params = {"Fields": "line_type_intelligence"}
        reply = await self._http.call("GET", url, safe=True, params=params)
        if reply.status == 404:
            return LineType(number, False, None, None, False)
        if reply.status != 200:
            raise refusal(reply, _DIALECT)
        return line_type_from(number, reply.text)


def build(settings: ProviderSettings, res: Resources) -> LineLookup:
    """The lookup of ``[provider.lookup]`` for a Twilio account."""
    tw = section(settings.twilio, "twilio")
    token = res.secret("provider.twilio.auth_token_env", tw.auth_token_env)
    where = TwilioLookupSettings(api_base_url=settings.lookup.twilio_api_base_url)
    return line_lookup(TwilioLookup(where, res.http, tw.account_sid, token).line_type)
