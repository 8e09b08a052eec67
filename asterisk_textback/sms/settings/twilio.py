"""``[provider.twilio]`` and Twilio Lookup's options (pure: no adapter code is loaded)."""

from __future__ import annotations

import re
from typing import Final

from pydantic import Field, HttpUrl, field_validator

from asterisk_textback.sms.settings._frozen import Frozen

_HEX32: Final = re.compile(r"[0-9a-fA-F]{32}")


def _sid(value: str | None, prefix: str, where: str) -> str | None:
    """``value`` when it is ``prefix`` + 32 hex digits; else a ValueError in words."""
    if value is not None and not (value.startswith(prefix) and _HEX32.fullmatch(value[2:])):
        raise ValueError(f"must be {prefix!r} followed by 32 hex digits ({where})")
    return value


class TwilioSettings(Frozen):
    """``[provider.twilio]``: the account, the sender and the callback Twilio reports to."""

    #: ``AC`` + 32 hex digits, on the Twilio console's home page (Account Info).
    account_sid: str
    #: Name of the environment variable holding the auth token (never the token itself).
    auth_token_env: str = "TWILIO_AUTH_TOKEN"
    #: Send through this Messaging Service (``MG…``): its sender pool, 10DLC campaign, …
    messaging_service_sid: str | None = None
    #: With a messaging service, still send ``From`` (the DID's sender, which must be in the
    #: service's pool) so replies land on the line called; False lets the service choose.
    use_from_number: bool = True
    #: Public URL of our status webhook; Twilio POSTs queued/sent/delivered/… there.
    status_callback_url: HttpUrl | None = None
    #: Seconds Twilio may queue the text before dropping it (Twilio allows 1..36000).
    validity_period: int | None = Field(default=None, ge=1, le=36000)
    #: Regional endpoint, proxy, or a local fake in tests.
    api_base_url: HttpUrl = HttpUrl("https://api.twilio.com")
    timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("account_sid")
    @classmethod
    def _account_sid(cls, value: str) -> str:
        return _sid(value, "AC", "it is on the Twilio console's home page") or value

    @field_validator("messaging_service_sid")
    @classmethod
    def _service_sid(cls, value: str | None) -> str | None:
        return _sid(value, "MG", "it is under Messaging > Services in the Twilio console")


class TwilioLookupSettings(Frozen):
    """Where the Twilio Lookup adapter asks and how long it waits.

    Not a section of its own: built from ``[provider.lookup]`` (``twilio_api_base_url``).
    """

    api_base_url: HttpUrl = HttpUrl("https://lookups.twilio.com")
    timeout_seconds: float = Field(default=5.0, gt=0)
