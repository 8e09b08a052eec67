"""Small HTTP helpers the vendor adapters share."""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait per a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    value = headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def basic_auth_value(user: str, password: str) -> str:
    """An ``Authorization: Basic`` header value (aiohttp's BasicAuth is deprecated)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
