"""Who the console admits: its own session cookie (path "/") or its Bearer token.

Each tenant's dashboard consults the same :class:`ConsoleAuth`, so the super-admin signed in
here enters any tenant's pages; a tenant's own cookie and token are never looked at here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from aiohttp import web

from asterisk_textback.web.console.settings import ConsoleSettings
from asterisk_textback.web.dashboard.auth import Session, SessionStore, tokens_equal

__all__ = ["COOKIE", "ConsoleAuth"]

#: The console's session cookie; path "/" so that every tenant's dashboard receives it.
COOKIE: Final = "tb_console"
#: Console logins kept in memory at most (one integrator, a few browsers).
_MAX_SESSIONS: Final = 64


class ConsoleAuth:
    """The console's sessions and token, and the question every dashboard asks of them."""

    def __init__(
        self, settings: ConsoleSettings, token: str | None, clock: Callable[[], float]
    ) -> None:
        """No session yet; ``token`` is the API's Bearer token (None: login only)."""
        self.settings = settings
        self.clock = clock
        self._token = token if settings.enabled else None
        self.store = SessionStore(_MAX_SESSIONS, settings.session_lifetime.total_seconds())

    def session(self, request: web.Request) -> Session | None:
        """The integrator's live console session of this request (marked ``integrator``)."""
        if not self.settings.enabled:
            return None
        found = self.store.get(request.cookies.get(COOKIE), self.clock())
        if found is None:
            return None
        return Session(
            found.session_id, found.username, found.csrf_token, found.expires_at, integrator=True
        )

    def bearer(self, request: web.Request) -> str | None:
        """The console user's name when the request carries the console's Bearer token."""
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if self._token is None or scheme.lower() != "bearer" or not given.strip():
            return None
        return self.settings.username if tokens_equal(given.strip(), self._token) else None

    def admits(self, request: web.Request) -> str | None:
        """The console user's name for a console session or Bearer token; None otherwise."""
        session = self.session(request)
        return session.username if session is not None else self.bearer(request)
