"""``[provider.twilio]`` and Twilio Lookup's options (pure: no adapter code is loaded)."""

from __future__ import annotations

from pydantic import Field, HttpUrl

from asterisk_textback.sms.settings._frozen import Frozen


class TwilioSettings(Frozen):
    """``[provider.twilio]``: the account, the sender and the callback Twilio reports to."""

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    #: Name of the environment variable holding the auth token (never the token itself).
    auth_token_env: str = "TWILIO_AUTH_TOKEN"
    #: Send through this Messaging Service (``MG…``): its sender pool, 10DLC campaign, …
    messaging_service_sid: str | None = Field(default=None, pattern=r"^MG[0-9a-fA-F]{32}$")
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


class TwilioLookupSettings(Frozen):
    """``[provider.twilio.lookup]``: where to ask and how long to wait."""

    api_base_url: HttpUrl = HttpUrl("https://lookups.twilio.com")
    timeout_seconds: float = Field(default=5.0, gt=0)
