"""The ``[bookings]`` section: which booking tools may call in, with which secrets, limits.

Pure pydantic, so that ``config.py`` combines it without importing the webhook routes.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BookingWebhookSettings"]


class BookingWebhookSettings(BaseModel):
    """``[bookings]``: which booking tools may call in, with which secrets, and limits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Environment variables holding each route's HMAC key (unset: the route answers 404).
    generic_secret_env: str | None = None
    calcom_secret_env: str | None = None
    calendly_secret_env: str | None = None
    #: Environment variable holding the bearer token of ``POST /api/v1/bookings``.
    api_token_env: str | None = None
    #: Environment variable holding the key that signs tracking tokens in booking links
    #: (the same value must reach ``compose(tracking_secret=...)``).
    tracking_secret_env: str | None = None
    calendly_tolerance_seconds: float = Field(default=180.0, gt=0)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=4 * 1024 * 1024)
