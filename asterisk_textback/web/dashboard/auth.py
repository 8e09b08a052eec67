"""Passwords (scrypt) and the bounded in-memory session store (the login limiter: limiter.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

__all__ = [
    "ScryptParams",
    "Session",
    "SessionStore",
    "hash_password",
    "parse_password_hash",
    "tokens_equal",
    "verify_password",
]

_SCHEME: Final = "scrypt"
_KEY_BYTES: Final = 32
_SALT_BYTES: Final = 16


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """The cost parameters and salt/digest decoded from a stored hash."""

    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # scrypt needs 128 * n * r * p bytes; allow twice that so sane parameters never fail.
    maxmem = 2 * 128 * n * r * p + 1024 * 1024
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=_KEY_BYTES
    )


def hash_password(password: str, *, n: int = 2**15, r: int = 8, p: int = 1) -> str:
    """A self-describing ``scrypt$n$r$p$salt$hash`` string for ``password`` (random salt)."""
    if not password:
        raise ValueError("the password must not be empty")
    if n < 2 or n & (n - 1):
        raise ValueError("scrypt n must be a power of two")
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, n, r, p)
    return f"{_SCHEME}${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def parse_password_hash(stored: str) -> ScryptParams:
    """Decode a stored hash; ValueError naming what is wrong with it."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        raise ValueError("password_hash must look like scrypt$n$r$p$salt$hash")
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        raise ValueError("password_hash has a malformed number or base64 field") from None
    if n < 2 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16 or n * r > 2**24:
        raise ValueError("password_hash has out-of-range scrypt parameters")
    if len(salt) < 8 or len(digest) < 16:
        raise ValueError("password_hash salt or digest is too short")
    return ScryptParams(n, r, p, salt, digest)


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (constant-time digest comparison)."""
    params = parse_password_hash(stored)
    digest = _scrypt(password, params.salt, params.n, params.r, params.p)
    return hmac.compare_digest(digest[: len(params.digest)], params.digest)


def tokens_equal(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets (their lengths aside)."""
    # surrogatepass: header bytes that were not UTF-8 arrive as lone surrogates.
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


@dataclass(frozen=True, slots=True)
class Session:
    """One logged-in browser: who, its CSRF token, and until when it is valid."""

    session_id: str
    username: str
    csrf_token: str
    expires_at: float
    #: True for the integrator's console session let into a tenant's dashboard.
    integrator: bool = False


class SessionStore:
    """Sessions by random id, in memory, oldest dropped first beyond ``max_sessions``."""

    def __init__(self, max_sessions: int, lifetime_seconds: float) -> None:
        """An empty store."""
        self._max = max_sessions
        self._lifetime = lifetime_seconds
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        """Sessions held (expired ones included until touched)."""
        return len(self._sessions)

    def create(self, username: str, now: float) -> Session:
        """Start a session for ``username``."""
        session = Session(
            secrets.token_urlsafe(32), username, secrets.token_urlsafe(32), now + self._lifetime
        )
        self._sessions[session.session_id] = session
        while len(self._sessions) > self._max:
            self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str | None, now: float) -> Session | None:
        """The live session with this id, or None (an expired one is dropped)."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if session.expires_at <= now:
            del self._sessions[session_id]
            return None
        return session

    def delete(self, session_id: str | None) -> None:
        """End a session (no-op when unknown)."""
        if session_id:
            self._sessions.pop(session_id, None)
