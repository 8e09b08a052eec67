"""Login attempts, counted *before* the password is checked, per client and per account.

An attempt is reserved synchronously (no ``await`` between the check and the count), so 60
requests arriving in the same millisecond see each other: the first few are checked, the rest
are refused without paying for a hash. A good password hands the reservation back.

Each key (a client address, a browser's device cookie, the account) has a limit per window
and growing delays: after ``free`` failures, the next attempt waits 1 s, then 2 s, 4 s, …
(at most ``max_delay``). A browser that has logged in before carries a signed device cookie
and is counted by that cookie instead of by address and account, so nobody else's failures
(on the same address behind a proxy, or on the account from a botnet) lock it out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["DEVICE_COOKIE", "LoginLimiter", "Reservation", "device_token", "valid_device"]

DEVICE_COOKIE: Final = "tb_device"
#: How long a device cookie stays good (seconds).
DEVICE_LIFETIME: Final = 180 * 86_400


@dataclass(frozen=True, slots=True)
class Reservation:
    """An attempt counted on ``keys`` at ``at``, pending the password check."""

    keys: tuple[str, ...]
    at: float


class LoginLimiter:
    """At most ``limit`` failed attempts per key per ``window`` seconds, with growing delays."""

    def __init__(
        self, window: float, *, free: int = 2, max_delay: float = 60.0, max_keys: int = 4096
    ) -> None:
        """An empty limiter."""
        self._window = window
        self._free = free
        self._max_delay = max_delay
        self._max = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        return failures

    def _delay(self, count: int, free: int) -> float:
        if count <= free:
            return 0.0
        return float(min(2 ** (count - free - 1), self._max_delay))

    def retry_after(
        self, key: str, limit: int, now: float, free: int | None = None
    ) -> float | None:
        """Seconds until ``key`` may try again, or None when it may try now.

        Delays start after ``free`` failures (default: the limiter's ``free``).
        """
        failures = self._recent(key, now)
        if not failures:
            return None
        if len(failures) >= limit:
            return max(failures[0] + self._window - now, 1.0)
        free = self._free if free is None else free
        wait = failures[-1] + self._delay(len(failures), free) - now
        return wait if wait > 0 else None

    def reserve(
        self, limits: Mapping[str, int], now: float, *, free: Mapping[str, int] | None = None
    ) -> Reservation | float:
        """Count an attempt on every key, or the seconds to wait when any key refuses it.

        ``free`` overrides, per key, how many failures pass before the delays start.
        """
        frees = free or {}
        waits = [
            wait
            for key, limit in limits.items()
            if (wait := self.retry_after(key, limit, now, frees.get(key)))
        ]
        if waits:
            return max(waits)
        for key, limit in limits.items():
            failures = self._recent(key, now)
            failures.append(now)
            while len(failures) > limit:
                failures.popleft()
            self._failures[key] = failures
            self._failures.move_to_end(key)
        while len(self._failures) > self._max:
            self._failures.popitem(last=False)
        return Reservation(tuple(limits), now)

    def release(self, reservation: Reservation, *, forget: str | None = None) -> None:
        """The attempt succeeded: uncount it, and forget every failure of key ``forget``."""
        for key in reservation.keys:
            failures = self._failures.get(key)
            if failures is not None and reservation.at in failures:
                failures.remove(reservation.at)
        if forget is not None:
            self._failures.pop(forget, None)


def _device_key(password_hash: str) -> bytes:
    # Derived from the stored hash: a new password invalidates every device cookie.
    return hashlib.sha256(b"textback-device-cookie\0" + password_hash.encode()).digest()


def _mac(password_hash: str, username: str, issued: int, nonce: str) -> str:
    message = f"{username}\0{issued}\0{nonce}".encode()
    return hmac.new(_device_key(password_hash), message, hashlib.sha256).hexdigest()


def device_token(password_hash: str, username: str, now: float) -> str:
    """A device cookie value for a browser that just logged in as ``username``."""
    issued, nonce = int(now), secrets.token_urlsafe(12)
    return f"{issued}.{nonce}.{_mac(password_hash, username, issued, nonce)}"


def valid_device(token: str | None, password_hash: str, username: str, now: float) -> str | None:
    """The device id (its nonce) of a genuine, unexpired cookie for ``username``, else None."""
    if not token or len(token) > 200:
        return None
    issued_text, _, rest = token.partition(".")
    nonce, _, mac = rest.partition(".")
    if not issued_text.isascii() or not issued_text.isdigit() or not nonce or not mac:
        return None
    issued = int(issued_text)
    if not now - DEVICE_LIFETIME <= issued <= now + 60:
        return None
    expected = _mac(password_hash, username, issued, nonce)
    if not mac.isascii() or not hmac.compare_digest(mac.encode(), expected.encode()):
        return None
    return nonce
