"""``[provider.telnyx]`` (pure: the public key is checked without loading cryptography)."""

from __future__ import annotations

import base64
import binascii

from pydantic import Field, HttpUrl, field_validator

from asterisk_textback.sms.settings._frozen import Frozen

#: An Ed25519 public key is 32 raw bytes.
ED25519_KEY_BYTES = 32
_NOT_A_KEY = (
    "must be the account's public key as Telnyx shows it: 44 characters of letters, digits, "
    "'+' and '/' ending in '=' (Mission Control portal > Keys & Credentials > Public Key)"
)


def public_key_bytes(value: str) -> bytes:
    """The raw bytes of a base64 Ed25519 public key, or ValueError."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(_NOT_A_KEY) from exc
    if len(raw) != ED25519_KEY_BYTES:
        raise ValueError(_NOT_A_KEY)
    return raw


class TelnyxSettings(Frozen):
    """The ``[provider.telnyx]`` section."""

    #: Name of the environment variable holding the API v2 key (sent as a Bearer token).
    api_key_env: str = "TELNYX_API_KEY"
    #: Used for number-pool/alphanumeric sending, and alone when a text has no sender.
    messaging_profile_id: str | None = None
    #: Per-message status callback URL (else the messaging profile's webhook is used).
    webhook_url: HttpUrl | None = None
    #: The account's public key (base64, Mission Control > Keys & Credentials).
    public_key: str | None = None
    webhook_tolerance_seconds: float = Field(default=300.0, gt=0)
    api_base_url: HttpUrl = HttpUrl("https://api.telnyx.com")
    timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("public_key")
    @classmethod
    def _valid_key(cls, value: str | None) -> str | None:
        if value is not None:
            public_key_bytes(value)
        return value
