"""Login under attack: attempts counted before the hash, per client behind a proxy, per account.

Real aiohttp server, real scrypt, real clock; 60 wrong passwords fired at once with
``asyncio.gather``. A password that was checked answers 401; a refused attempt 429 without
paying for the hash, so counting 401s counts the hashes.
"""

# ruff: noqa: F811 - fixtures imported from tests/web by name are these tests' parameters
from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.web.clientaddr import forwarded_client
from asterisk_textback.web.dashboard.limiter import DEVICE_COOKIE
from asterisk_textback.web.dashboard.mount import dashboard_app
from asterisk_textback.web.dashboard.settings import DashboardSettings
from asterisk_textback.web.networks import parse_networks
from tests.dbfixtures import sqlite_migrated  # noqa: F401 - fixtures are found by name
from tests.web.conftest import (  # noqa: F401
    PASSWORD,
    csrf_of,
    dash_db,
    make_deps,
    password_hash,
    seeded,
)
from tests.web.seed import Seeded

Client = TestClient[web.Request, web.Application]
ATTACKER, ADMIN = "203.0.113.66", "198.51.100.7"


@pytest.fixture
async def proxied(
    seeded: tuple[async_sessionmaker[AsyncSession], Seeded],
    password_hash: str,
) -> AsyncIterator[Client]:
    """The dashboard behind a trusted proxy on 127.0.0.1, the documented limits, a real clock."""
    settings = DashboardSettings(
        password_hash=password_hash,
        cookie_secure=False,
        login_attempts=5,
        login_window_seconds=300,
        login_account_attempts=20,
    )
    deps = replace(
        make_deps(seeded[0], settings),
        clock=time.time,
        trusted_proxies=parse_networks(["127.0.0.1/32", "::1"]),
    )
    async with TestClient(TestServer(dashboard_app(deps), host="127.0.0.1")) as client:
        yield client


async def _attempt(client: Client, token: str, password: str, forwarded: str) -> int:
    response = await client.post(
        "/login",
        data={"csrf": token, "username": "admin", "password": password},
        headers={"X-Forwarded-For": forwarded},
        allow_redirects=False,
    )
    await response.read()
    return response.status


async def _token(client: Client) -> str:
    return csrf_of(await (await client.get("/login")).text())


async def test_sixty_concurrent_wrong_passwords_check_at_most_five(proxied: Client) -> None:
    """60 at once from one client: <= 5 hashes (401), the rest 429; the admin still gets in."""
    token = await _token(proxied)
    statuses = Counter(
        await asyncio.gather(*(_attempt(proxied, token, f"wrong-{n}", ATTACKER) for n in range(60)))
    )
    assert statuses[401] <= 5, statuses
    assert statuses[401] >= 1
    assert statuses[429] == 60 - statuses[401], statuses
    # Another client behind the same proxy (so the same socket peer) is not locked out.
    assert await _attempt(proxied, await _token(proxied), PASSWORD, ADMIN) == 303


async def test_a_spoofed_left_hop_does_not_pick_the_key(proxied: Client) -> None:
    """The attacker prepends fake hops: the rightmost untrusted one (theirs) still counts."""
    token = await _token(proxied)
    spoofed = [f"10.9.{n}.1, {ATTACKER}" for n in range(30)]
    statuses = Counter(
        await asyncio.gather(*(_attempt(proxied, token, "nope", hop) for hop in spoofed))
    )
    assert statuses[401] <= 5, statuses
    assert await _attempt(proxied, await _token(proxied), PASSWORD, ADMIN) == 303


async def test_a_botnet_on_the_account_does_not_lock_out_a_known_browser(
    proxied: Client,
) -> None:
    """40 addresses x 1 wrong each: the account limit stops fresh clients, not a known one."""
    token = await _token(proxied)
    assert await _attempt(proxied, await _token(proxied), PASSWORD, ADMIN) == 303
    device = proxied.session.cookie_jar.filter_cookies(proxied.make_url("/login"))[DEVICE_COOKIE]
    proxied.session.cookie_jar.clear()
    token = await _token(proxied)
    botnet = [f"192.0.2.{n}" for n in range(1, 41)]
    statuses = Counter(
        await asyncio.gather(*(_attempt(proxied, token, "guess", ip) for ip in botnet))
    )
    assert statuses[401] <= 20, statuses
    assert await _attempt(proxied, await _token(proxied), PASSWORD, "198.51.100.99") == 429
    proxied.session.cookie_jar.update_cookies({DEVICE_COOKIE: device.value})
    assert await _attempt(proxied, await _token(proxied), PASSWORD, "198.51.100.99") == 303


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        ("127.0.0.1", ["203.0.113.5"], "203.0.113.5"),
        ("127.0.0.1", ["1.1.1.1, 203.0.113.5"], "203.0.113.5"),
        ("127.0.0.1", ["203.0.113.5, 127.0.0.1"], "203.0.113.5"),
        ("127.0.0.1", ["203.0.113.5", "10.0.0.9"], "10.0.0.9"),
        ("127.0.0.1", ["garbage"], "127.0.0.1"),
        ("127.0.0.1", [], "127.0.0.1"),
        ("203.0.113.9", ["1.2.3.4"], "203.0.113.9"),  # not via our proxy: header ignored
        ("127.0.0.1", ["[2001:db8::1]:443"], "2001:db8::1"),
    ],
)
def test_forwarded_client(peer: str, header: list[str], client: str) -> None:
    """The rightmost hop that is not a trusted proxy; garbage stops the walk."""
    trusted = parse_networks(["127.0.0.0/8", "::1"])
    assert forwarded_client(peer, header, trusted) == client
