"""Logging in and out: the form, the attempt limiter, the device cookie and safe ``next``."""

from __future__ import annotations

import asyncio
import math
from urllib.parse import unquote

from aiohttp import web

from asterisk_textback.web.base_path import base_path
from asterisk_textback.web.clientaddr import client_address
from asterisk_textback.web.dashboard.app import (
    COOKIE,
    DEPS,
    LIMITER,
    STORE,
    current_session,
    harden,
    local,
    render,
)
from asterisk_textback.web.dashboard.auth import tokens_equal, verify_password
from asterisk_textback.web.dashboard.cookies import cookie_name, cookie_path
from asterisk_textback.web.dashboard.csrf import (
    LOGIN_COOKIE,
    check_login_token,
    check_session_token,
    new_token,
    read_form,
    set_login_cookie,
)
from asterisk_textback.web.dashboard.limiter import (
    DEVICE_COOKIE,
    DEVICE_LIFETIME,
    Reservation,
    device_token,
    valid_device,
)

__all__ = ["add_login_routes", "login", "login_form", "logout", "next_target"]


#: Longest ``next`` kept; a longer one is not a link we made.
_MAX_NEXT = 2048


def _plain_path(text: str) -> bool:
    # Printable ASCII only: no whitespace or control character a browser might strip (the
    # tab in "/\t/host" turns it into "//host"), and no backslash (read as "/").
    if not text.startswith("/") or text.startswith("//"):
        return False
    return all("!" <= ch <= "~" and ch != "\\" for ch in text)


def _within(text: str, base: str) -> bool:
    """``text`` lies under ``base`` (any path when mounted at the root) with no dot segment."""
    if not base:
        return True
    path = text.split("?", 1)[0].split("#", 1)[0]
    if not (path + "/").startswith(base + "/"):
        return False
    # A browser resolves "/t/a/../b/" to "/t/b/": another tenant's pages.
    return not any(part in {".", ".."} for part in path.split("/"))


def next_target(value: str | None, base: str = "") -> str:
    """``value`` when it is a plain local path under ``base``, raw and percent-decoded (every
    layer checked); ``base + "/"`` otherwise."""
    home = base + "/"
    if not value or len(value) > _MAX_NEXT:
        return home
    text = value
    for _ in range(4):  # "%252F" decodes to "%2F", then to "/": check every layer
        if not _plain_path(text) or not _within(text, base):
            return home
        try:
            decoded = unquote(text, errors="strict")
        except UnicodeDecodeError:
            return home
        if decoded == text:
            return value
        text = decoded
    return home  # still encoded after four layers: nobody's link looks like that


def _next(request: web.Request, value: str | None) -> str:
    return next_target(value, base_path(request.app))


def _login_page(
    request: web.Request, *, status: int = 200, error: str | None = None
) -> web.Response:
    token = new_token()
    target = _next(request, request.query.get("next"))
    response = render(
        request, "login.html", None, status=status, csrf=token, next=target, error=error
    )
    set_login_cookie(request.app, response, token, secure=request.app[DEPS].settings.cookie_secure)
    return response


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


async def login_form(request: web.Request) -> web.StreamResponse:
    """GET /login: the form (or straight on when already logged in)."""
    if current_session(request) is not None:
        return _redirect(_next(request, request.query.get("next")))
    return harden(_login_page(request))


async def _credentials_ok(request: web.Request, username: str, password: str) -> bool:
    settings = request.app[DEPS].settings
    if settings.password_hash is None or not password:
        return False
    # Always pay for the hash, so a wrong username takes as long as a wrong password.
    password_ok = await asyncio.to_thread(verify_password, password, settings.password_hash)
    return tokens_equal(username, settings.username) and password_ok


def _attempt_keys(
    request: web.Request, username: str
) -> tuple[dict[str, int], dict[str, int], str]:
    """The limiter's keys and limits for this attempt, free failures per key, the client's key."""
    deps = request.app[DEPS]
    settings = deps.settings
    if settings.password_hash is not None:
        cookie = request.cookies.get(cookie_name(request.app, DEVICE_COOKIE))
        device = valid_device(cookie, settings.password_hash, settings.username, deps.clock())
        if device is not None:
            # A browser that logged in before: only its own failures count against it.
            return {f"device:{device}": settings.login_attempts}, {}, f"device:{device}"
    client = f"addr:{client_address(request, deps.trusted_proxies)}"
    account = "acct:" + (settings.username if tokens_equal(username, settings.username) else "?")
    limits = {client: settings.login_attempts, account: settings.login_account_attempts}
    # The account's delays start after more failures than one client may make: a single
    # attacker never slows the admin down; only many addresses together do.
    free = {account: max(settings.login_attempts, settings.login_account_attempts // 2)}
    return limits, free, client


def _too_many(request: web.Request, wait: float) -> web.StreamResponse:
    response = _login_page(request, status=429, error="Too many failed logins; wait.")
    response.headers["Retry-After"] = str(math.ceil(wait))
    return harden(response)


async def login(request: web.Request) -> web.StreamResponse:
    """POST /login: CSRF, count the attempt, then the password; a session cookie on success."""
    deps, limiter = request.app[DEPS], request.app[LIMITER]
    form = await read_form(request)
    check_login_token(request, form)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    limits, free, client = _attempt_keys(request, username)
    # Counted before the hash, with no await in between: concurrent attempts see each other.
    reservation = limiter.reserve(limits, deps.clock(), free=free)
    if not isinstance(reservation, Reservation):
        return _too_many(request, reservation)
    if not await _credentials_ok(request, username, password):
        return harden(_login_page(request, status=401, error="Wrong username or password."))
    limiter.release(reservation, forget=client)
    session = request.app[STORE].create(username, deps.clock())
    settings = deps.settings
    response = _redirect(_next(request, str(form.get("next", ""))))
    app = request.app
    response.set_cookie(
        cookie_name(app, COOKIE),
        session.session_id,
        path=cookie_path(app),
        httponly=True,
        samesite="Strict",
        secure=settings.cookie_secure,
        max_age=int(settings.session_lifetime.total_seconds()),
    )
    if settings.password_hash is not None:
        response.set_cookie(
            cookie_name(app, DEVICE_COOKIE),
            device_token(settings.password_hash, settings.username, deps.clock()),
            path=cookie_path(app, "/login"),
            httponly=True,
            samesite="Strict",
            secure=settings.cookie_secure,
            max_age=DEVICE_LIFETIME,
        )
    response.del_cookie(cookie_name(app, LOGIN_COOKIE), path=cookie_path(app, "/login"))
    return harden(response)


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /logout: end the session (CSRF-checked) and clear the cookie."""
    session = current_session(request)
    response = _redirect(local(request, "/login"))
    if session is not None:
        check_session_token(request, session, await read_form(request))
        request.app[STORE].delete(session.session_id)
    response.del_cookie(cookie_name(request.app, COOKIE), path=cookie_path(request.app))
    return harden(response)


def add_login_routes(app: web.Application) -> None:
    """Register ``GET``/``POST /login`` and ``POST /logout`` on ``app``."""
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
