"""``next`` after login: only a plain local path; every other value sends the browser to ``/``.

The table is fired at the real server twice (the login POST and the logged-in GET /login,
both answer 303 with a ``Location``), and the tab case is followed by real headless Chromium,
which strips tabs and newlines from URLs: ``/\\t/other.host/x`` is ``//other.host/x`` to it.
"""

# ruff: noqa: F811 - fixtures imported from tests/web by name are these tests' parameters
from __future__ import annotations

from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from playwright.async_api import async_playwright

from tests.dbfixtures import sqlite_migrated  # noqa: F401 - fixtures are found by name
from tests.web.conftest import (  # noqa: F401
    PASSWORD,
    client,
    csrf_of,
    dash_db,
    dash_settings,
    login,
    password_hash,
    seeded,
)
from tests.web.test_browser import CHROMIUM

Client = TestClient[web.Request, web.Application]

HOSTILE = [
    "//other.host/x",
    "///other.host/x",
    "/\\other.host/x",
    "\\\\other.host/x",
    "/\t/other.host/x",
    "/\n/other.host/x",
    "/\r\n/other.host/x",
    "/ /other.host/x",
    "/\x00/other.host",
    "/\x0b/other.host",
    "/\u3000/other.host",
    "/\u2028/other.host",
    "/%09/other.host/x",
    "/%0A/other.host/x",
    "/%0d%0aSet-Cookie:%20x=1",
    "/%2F/other.host/x",
    "/%2f%2fother.host",
    "/%5Cother.host/x",
    "/%252F/other.host",
    "/%25252F/other.host",
    "/%20/other.host",
    "/%00",
    "/%ff",
    "https://other.host/x",
    "http:/other.host",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "other.host/x",
    " /calls",
    "/calls ",
    "/" + "a" * 5000,
]
SAFE = ["/", "/calls", "/calls?outcome=missed_voicemail&q=%2B1212", "/conversations/+15551234567"]


async def _post_login(client: Client, target: str) -> str:
    form = await client.get("/login")
    response = await client.post(
        "/login",
        data={
            "csrf": csrf_of(await form.text()),
            "username": "admin",
            "password": PASSWORD,
            "next": target,
        },
        allow_redirects=False,
    )
    assert response.status == 303
    return response.headers["Location"]


@pytest.mark.parametrize("target", HOSTILE)
async def test_hostile_next_goes_home(client: Client, target: str) -> None:
    """After the login POST and on GET /login when logged in: Location is exactly ``/``."""
    assert await _post_login(client, target) == "/"
    again = await client.get(f"/login?next={quote(target, safe='')}", allow_redirects=False)
    assert again.status == 303
    assert again.headers["Location"] == "/"


@pytest.mark.parametrize("target", SAFE)
async def test_local_paths_are_kept(client: Client, target: str) -> None:
    """A plain local path (query included) is where the browser goes."""
    assert await _post_login(client, target) == target


async def test_chromium_stays_on_this_origin(client: Client) -> None:
    """Logged in, ``/login?next=/%09/other.host/x`` lands on this site's ``/``."""
    base = str(client.make_url("/")).rstrip("/")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = await (await chromium.new_context()).new_page()
            page.set_default_timeout(15_000)
            await page.goto(base + "/login")
            await page.get_by_label("Username").fill("admin")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Log in").click()
            await page.wait_for_url(base + "/")
            for hostile in ("/%09/other.host/x", "/%5C/other.host/x", "/%0A/other.host/x"):
                await page.goto(f"{base}/login?next={hostile}", wait_until="commit")
                await page.wait_for_load_state()
                assert page.url == base + "/", hostile
        finally:
            await chromium.close()
