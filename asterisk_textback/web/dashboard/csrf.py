"""CSRF: a double-submit cookie on the login form, the session's synchronizer token elsewhere.

Every POST form carries a hidden ``csrf`` field. Before login there is no session to tie a
token to, so the login form pairs the field with a random ``tb_csrf`` cookie (SameSite=Strict:
another site can neither read nor send it). After login the field must equal the token stored
with the server-side session. A present ``Origin`` header must also name this host.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Final

from aiohttp import web
from yarl import URL

from asterisk_textback.web.dashboard.auth import Session, tokens_equal
from asterisk_textback.web.dashboard.cookies import cookie_name, cookie_path

__all__ = [
    "FIELD",
    "LOGIN_COOKIE",
    "check_login_token",
    "check_session_token",
    "new_token",
    "read_form",
    "set_login_cookie",
]

FIELD: Final = "csrf"
LOGIN_COOKIE: Final = "tb_csrf"


async def read_form(request: web.Request) -> Mapping[str, object]:
    """The posted form; 400 when its body is not form data (bad UTF-8, a stray boundary)."""
    try:
        return await request.post()
    except ValueError:  # UnicodeDecodeError included
        raise web.HTTPBadRequest(text="form: not valid form data") from None


def new_token() -> str:
    """A fresh random token for a login form."""
    return secrets.token_urlsafe(32)


def _login_cookie(app: web.Application) -> tuple[str, str]:
    """The login cookie's name and path in ``app`` (a tenant's: its own name, under its path)."""
    return cookie_name(app, LOGIN_COOKIE), cookie_path(app, "/login")


def set_login_cookie(
    app: web.Application, response: web.StreamResponse, token: str, *, secure: bool
) -> None:
    """Set ``token`` as the login form's double-submit cookie."""
    name, path = _login_cookie(app)
    response.set_cookie(name, token, path=path, httponly=True, samesite="Strict", secure=secure)


def _check_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    if origin is None:
        return
    # Host only: behind a TLS proxy the browser's port differs from the one we see.
    if URL(origin).host != request.url.host:
        raise web.HTTPForbidden(text="cross-origin form post refused")


def _field(form: Mapping[str, object]) -> str:
    value = form.get(FIELD)
    return value if isinstance(value, str) else ""


def check_login_token(request: web.Request, form: Mapping[str, object]) -> None:
    """403 unless the login form's token matches its cookie."""
    _check_origin(request)
    cookie = request.cookies.get(_login_cookie(request.app)[0], "")
    given = _field(form)
    if not cookie or not given or not tokens_equal(given, cookie):
        raise web.HTTPForbidden(text="missing or forged CSRF token")


def check_session_token(request: web.Request, session: Session, form: Mapping[str, object]) -> None:
    """403 unless the form's token is the one stored with ``session``."""
    _check_origin(request)
    given = _field(form)
    if not given or not tokens_equal(given, session.csrf_token):
        raise web.HTTPForbidden(text="missing or forged CSRF token")
