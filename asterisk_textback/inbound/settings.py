"""The ``[consent]`` and ``[forwarding]`` sections: answers to STOP/START/HELP, reply forwards.

Pure pydantic, so that ``config.py`` combines them without importing the inbox or the
forwarding channels (aiohttp, SMTP, the database).
"""

from __future__ import annotations

import string
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ConsentSettings", "EmailSettings", "ForwardingSettings"]


_PLACEHOLDERS = frozenset({"business", "contact"})


class ConsentSettings(BaseModel):
    """The ``[consent]`` section: the texts that answer STOP, START and HELP."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: How customers reach a person (phone number, email, web page); ``{contact}`` in the
    #: texts. Empty: the number the customer texted (it reaches the business).
    contact: str = ""
    #: The answer to HELP/INFO. Carriers require the brand, a help contact, the message
    #: frequency, "Msg & data rates may apply" and how to opt out (CTIA; checked at load).
    help_text: str = (
        "{business}: help at {contact}. Msg frequency varies. Msg & data rates may apply. "
        "Reply STOP to opt out."
    )
    #: Turn off when the provider already confirms opt-outs itself (e.g. Twilio's default
    #: Advanced Opt-Out), so the caller does not get two confirmations.
    confirm_opt_out: bool = True
    opt_out_text: str = (
        "{business}: you are unsubscribed and will get no more texts. Reply START to resubscribe."
    )
    confirm_opt_in: bool = True
    opt_in_text: str = "{business}: you are subscribed again. Reply STOP to opt out, HELP for help."
    #: What a HELP answer or STOP confirmation carriers would refuse does (``check`` names
    #: what is missing): ``enforce`` stops ``run`` at load, ``warn`` only warns (``check``
    #: WARN, a log line at start), ``off`` skips the check (e.g. outside the US).
    carrier_rules: Literal["enforce", "warn", "off"] = "enforce"
    #: Auto-replies (HELP/INFO answers, STOP/START confirmations, replies forwarded to staff
    #: by SMS) queued per minute in total; 0 = no cap. Their own budget: they never count
    #: against the text-back caps of ``[suppression]``.
    auto_reply_rate_per_minute: int = Field(default=20, ge=0)
    #: HELP answers and confirmations per number in any 24 h (HELP is answered once a day).
    auto_reply_daily_cap: int = Field(default=3, ge=1, le=100)

    @field_validator("help_text", "opt_out_text", "opt_in_text")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
        except ValueError as exc:
            raise ValueError(f"not a valid text template: {exc}") from None
        unknown = fields - _PLACEHOLDERS
        if unknown:
            names = ", ".join(sorted(unknown))
            raise ValueError(f"unknown placeholder(s) {names}; use {{business}} and {{contact}}")
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    def render(self, template: str, business: str, *, number: str = "") -> str:
        """Fill ``{business}`` and ``{contact}`` into one of the texts above.

        ``number``: the number the customer texted, ``{contact}`` when ``contact`` is empty.
        """
        text = template.format(business=business, contact=self.contact or number)
        return " ".join(text.split())


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EmailSettings(_Frozen):
    """``[forwarding.email]``: the SMTP server that mails replies to staff."""

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None
    #: Name of the environment variable holding the SMTP password.
    password_env: str | None = None
    from_address: str = Field(min_length=3)
    to: tuple[str, ...] = Field(min_length=1)
    #: Upgrade the connection with STARTTLS (port 587); ``ssl`` is implicit TLS (port 465).
    starttls: bool = True
    ssl: bool = False
    timeout_seconds: float = Field(default=15.0, gt=0)


class ForwardingSettings(_Frozen):
    """``[forwarding]``: where replies go, and how failed forwards are retried."""

    email: EmailSettings | None = None
    #: Staff numbers (E.164) that get each reply as a text from the number it was sent to.
    sms_to: tuple[str, ...] = ()
    webhook_url: str | None = None
    #: Name of the environment variable holding the HMAC key that signs webhook posts.
    hmac_secret_env: str | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)
    retry_min_seconds: float = Field(default=60.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)
    #: Replies older than this are no longer retried (they stay visible in the database).
    max_age_hours: float = Field(default=72.0, gt=0)
    #: Zone the times in texts and emails to staff are shown in; unset: ``business.timezone``.
    timezone: str = "UTC"
    #: SMS forwards queued per minute, 0: no cap; over it a forward is retried later.
    sms_rate_per_minute: int = Field(default=20, ge=0)

    @property
    def enabled(self) -> bool:
        """Whether any channel is configured."""
        return bool(self.email or self.sms_to or self.webhook_url)
