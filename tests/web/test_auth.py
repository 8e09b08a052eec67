"""Login, CSRF, cookies, the API token and the login rate limit."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.web.dashboard.auth import (
    SessionStore,
    hash_password,
    parse_password_hash,
    verify_password,
)
from asterisk_textback.web.dashboard.limiter import LoginLimiter, Reservation
from asterisk_textback.web.dashboard.mount import dashboard_app
from asterisk_textback.web.dashboard.settings import DashboardSettings
from tests.web.conftest import API_TOKEN, PASSWORD, Client, csrf_of, login, make_deps
from tests.web.seed import Seeded


def test_password_hash_is_self_describing_and_salted() -> None:
    """scrypt$n$r$p$salt$hash, a new salt each time, verified only by the right password."""
    first, second = hash_password("pw", n=2**10), hash_password("pw", n=2**10)
    assert first.startswith("scrypt$1024$8$1$")
    assert first != second
    assert verify_password("pw", first)
    assert not verify_password("pW", first)
    assert parse_password_hash(hash_password("x")).n == 2**15  # the default cost


@pytest.mark.parametrize("bad", ["plain", "scrypt$3$8$1$c2FsdHNhbHQ$aGFzaA", "bcrypt$1$2$3$4$5"])
def test_settings_refuse_malformed_hashes(bad: str) -> None:
    """A hash that is not ours fails at config load, naming the key."""
    with pytest.raises(ValidationError, match="password_hash"):
        DashboardSettings(password_hash=bad)


def test_settings_are_frozen_and_strict() -> None:
    """Unknown keys are refused; the token comes from the named variable."""
    with pytest.raises(ValidationError):
        DashboardSettings(pasword_hash="x")  # type: ignore[call-arg]
    settings = DashboardSettings(api_token_env="TB_TOKEN")
    assert settings.api_token({"TB_TOKEN": "abc"}) == "abc"
    assert settings.api_token({}) is None
    assert settings.cookie_secure


def test_session_store_is_bounded_and_expires() -> None:
    """The oldest session goes first; an expired one is gone."""
    store = SessionStore(max_sessions=2, lifetime_seconds=10)
    a, b, c = (store.create("admin", 0.0) for _ in range(3))
    assert len(store) == 2
    assert store.get(a.session_id, 1.0) is None
    assert store.get(c.session_id, 1.0) == c
    assert store.get(b.session_id, 11.0) is None


def test_limiter_window() -> None:
    """Blocked after N attempts, free again once the window has passed; the table is bounded."""
    limiter = LoginLimiter(window=60, max_keys=2)
    assert isinstance(limiter.reserve({"a": 2}, 0.0), Reservation)
    assert limiter.retry_after("a", 2, 1.0) is None
    assert isinstance(limiter.reserve({"a": 2}, 1.0), Reservation)
    assert limiter.retry_after("a", 2, 2.0) == 58.0
    assert limiter.reserve({"a": 2}, 2.0) == 58.0
    assert limiter.retry_after("a", 2, 61.5) is None
    limiter.reserve({"b": 2}, 0.0)
    limiter.reserve({"c": 2}, 0.0)
    assert limiter.retry_after("a", 2, 2.0) is None  # evicted: the table stays small


def test_limiter_delays_grow_and_a_good_login_gives_the_attempt_back() -> None:
    """After two free failures: 1 s, 2 s, 4 s; a released attempt no longer counts."""
    limiter = LoginLimiter(window=300)
    for at in (0.0, 0.0):
        assert isinstance(limiter.reserve({"k": 10}, at), Reservation)
    third = limiter.reserve({"k": 10}, 0.0)
    assert isinstance(third, Reservation)
    assert limiter.reserve({"k": 10}, 0.5) == 0.5  # 1 s after the third failure
    assert isinstance(limiter.reserve({"k": 10}, 1.0), Reservation)
    assert limiter.retry_after("k", 10, 1.0) == 2.0
    limiter.release(third)
    assert limiter.retry_after("k", 10, 1.0) == 1.0  # three failures again: a 1 s delay
    limiter.release(third, forget="k")
    assert limiter.retry_after("k", 10, 1.0) is None


async def test_pages_and_api_need_login(client: Client) -> None:
    """No data without a login or token."""
    page = await client.get("/calls", allow_redirects=False)
    assert page.status == 303
    assert page.headers["Location"].startswith("/login?next=")
    api = await client.get("/api/v1/calls")
    assert api.status == 401
    assert (await api.json())["error"] == "unauthorized"
    wrong = await client.get("/api/v1/calls", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401


async def test_token_api(client: Client) -> None:
    """The Bearer token opens the API (and only the API)."""
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    assert (await client.get("/api/v1/calls", headers=headers)).status == 200
    page = await client.get("/", headers=headers, allow_redirects=False)
    assert page.status == 303


async def test_wrong_password(client: Client) -> None:
    """A wrong password is refused with the form again and no session cookie."""
    assert await login(client, password="wrong") == 401
    assert "tb_session" not in {c.key for c in client.session.cookie_jar}
    assert (await client.get("/", allow_redirects=False)).status == 303


async def test_login_sets_hardened_cookie_and_logout(logged_in: Client) -> None:
    """HttpOnly + SameSite=Strict session cookie; logout needs the CSRF token."""
    page = await logged_in.get("/")
    assert page.status == 200
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    token = csrf_of(await page.text())
    forged = await logged_in.post("/logout", data={"csrf": "forged"}, allow_redirects=False)
    assert forged.status == 403
    out = await logged_in.post("/logout", data={"csrf": token}, allow_redirects=False)
    assert out.status == 303
    assert (await logged_in.get("/", allow_redirects=False)).status == 303


async def test_cookie_flags(
    seeded: tuple[async_sessionmaker[AsyncSession], Seeded], password_hash: str
) -> None:
    """With cookie_secure (the default) the cookie is Secure, HttpOnly and SameSite=Strict."""
    settings = DashboardSettings(password_hash=password_hash)
    app: web.Application = dashboard_app(make_deps(seeded[0], settings))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        form = await client.get("/login")
        token = csrf_of(await form.text())
        response = await client.post(
            "/login",
            data={"csrf": token, "username": "admin", "password": PASSWORD},
            cookies={"tb_csrf": token},
            allow_redirects=False,
        )
        assert response.status == 303
        cookie = response.cookies["tb_session"]
        assert cookie["httponly"]
        assert cookie["secure"]
        assert cookie["samesite"] == "Strict"
        assert int(cookie["max-age"]) == 12 * 3600


async def test_login_csrf_missing_or_forged(client: Client) -> None:
    """The login form's token must match its cookie."""
    await client.get("/login")
    data = {"username": "admin", "password": PASSWORD}
    missing = await client.post("/login", data=data, allow_redirects=False)
    assert missing.status == 403
    forged = await client.post("/login", data={**data, "csrf": "x" * 43}, allow_redirects=False)
    assert forged.status == 403
    other = await client.post(
        "/login",
        data={**data, "csrf": csrf_of(await (await client.get("/login")).text())},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert other.status == 403


async def test_login_rate_limit(client: Client) -> None:
    """Three failures, then even the right password waits (429 with Retry-After)."""
    for _ in range(3):
        assert await login(client, password="wrong") == 401
    form = await client.get("/login")
    response = await client.post(
        "/login",
        data={"csrf": csrf_of(await form.text()), "username": "admin", "password": PASSWORD},
        allow_redirects=False,
    )
    assert response.status == 429
    assert int(response.headers["Retry-After"]) > 0


async def test_next_stays_on_site(client: Client) -> None:
    """``next`` may only be a local path."""
    form = await client.get("/login")
    response = await client.post(
        "/login",
        data={
            "csrf": csrf_of(await form.text()),
            "username": "admin",
            "password": PASSWORD,
            "next": "//evil.example/",
        },
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/"
