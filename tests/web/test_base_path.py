"""A tenant's dashboard under ``/t/acme``: every URL it emits stays under that path.

The dashboard is served the way the host serves a tenant (``tests.web.tenant_host``: the
prefix is stripped before routing), then crawled as a logged-in user: every link, form
action, script, stylesheet and fetched URL of every page, every redirect and every cookie
path must start with ``/t/acme/``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from urllib.parse import quote, urljoin, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from yarl import URL

from asterisk_textback.web.base_path import BASE_PATH
from asterisk_textback.web.dashboard.login import next_target
from asterisk_textback.web.dashboard.mount import add_dashboard
from asterisk_textback.web.dashboard.settings import DashboardSettings
from tests.web.conftest import PASSWORD, Client, csrf_of, make_deps
from tests.web.seed import Seeded
from tests.web.tenant_host import host_app

BASE = "/t/acme"
#: Attributes holding a URL the browser asks for (data-src: the thread's refresh fetch).
URL_ATTRS = {"href", "action", "src", "data-src"}


class _Urls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in URL_ATTRS and value is not None:
                self.urls.append((f"{tag} {name}", value))


def urls_of(html: str) -> list[tuple[str, str]]:
    """(``tag attr``, URL) for every URL attribute in ``html``."""
    parser = _Urls()
    parser.feed(html)
    return parser.urls


def tenant_app(
    factory: async_sessionmaker[AsyncSession], settings: DashboardSettings
) -> web.Application:
    """A dashboard app that knows it lives under BASE."""
    app = web.Application(client_max_size=64 * 1024)
    app[BASE_PATH] = BASE
    add_dashboard(app, make_deps(factory, settings))
    return app


@pytest.fixture
async def hosted(
    seeded: tuple[async_sessionmaker[AsyncSession], Seeded], dash_settings: DashboardSettings
) -> AsyncIterator[Client]:
    """A client of the host serving the seeded dashboard under BASE, not logged in."""
    host = host_app({BASE: tenant_app(seeded[0], dash_settings)})
    async with TestClient(TestServer(host, host="127.0.0.1")) as client:
        yield client


async def _login(client: Client, next_: str = BASE + "/") -> web.StreamResponse:
    form = await client.get(BASE + "/login")
    assert form.status == 200
    return await client.post(
        BASE + "/login",
        data={
            "csrf": csrf_of(await form.text()),
            "username": "admin",
            "password": PASSWORD,
            "next": next_,
        },
        allow_redirects=False,
    )


async def test_the_login_sets_cookies_under_the_base_path_with_the_tenant_in_their_name(
    hosted: Client,
) -> None:
    form = await hosted.get(BASE + "/login")
    login_cookie = form.cookies["tb_csrf-acme"]
    assert login_cookie["path"] == BASE + "/login"
    assert 'action="/t/acme/login"' in await form.text()
    response = await _login(hosted)
    assert response.status == 303
    assert response.headers["Location"] == BASE + "/"
    session = response.cookies["tb_session-acme"]
    assert session["path"] == BASE + "/"
    assert response.cookies["tb_device-acme"]["path"] == BASE + "/login"
    assert "tb_session" not in response.cookies  # the default tenant's name is not used


async def test_a_page_without_login_redirects_to_the_login_under_the_base(hosted: Client) -> None:
    response = await hosted.get(BASE + "/calls?outcome=no_answer", allow_redirects=False)
    assert response.status == 303
    location = URL(response.headers["Location"])
    assert location.path == BASE + "/login"
    assert location.query["next"] == BASE + "/calls?outcome=no_answer"
    # The round trip: logging in from that form lands on the page asked for.
    login_page = await hosted.get(response.headers["Location"])
    assert 'name="next" value="/t/acme/calls?outcome=no_answer"' in await login_page.text()


@pytest.mark.parametrize(
    "given",
    [
        "/t/other/",  # another tenant
        "/",  # the default tenant
        "/t/acme/../other/",  # leaves the base once the browser resolves it
        "/t/acme/%2e%2e/other/",
        "/t/acme/%252e%252e/other/",
        "/t/acmex/",  # a sibling whose id starts the same
        "//evil.example/",
        "https://evil.example/t/acme/",
        "/t/acme\\..\\x",
    ],
)
async def test_login_next_never_leaves_the_base(hosted: Client, given: str) -> None:
    response = await _login(hosted, next_=given)
    assert response.status == 303
    assert response.headers["Location"] == BASE + "/"


def test_next_target_keeps_paths_under_the_base_and_any_local_path_at_the_root() -> None:
    assert next_target("/t/acme/calls?x=1", BASE) == "/t/acme/calls?x=1"
    assert next_target("/t/acme", BASE) == "/t/acme"
    assert next_target("/t/acme/..", BASE) == BASE + "/"
    assert next_target("/t/other/calls", BASE) == BASE + "/"
    assert next_target("/t/other/calls") == "/t/other/calls"  # at the root: any local path
    assert next_target(None, BASE) == BASE + "/"


def _inside(url: str) -> bool:
    if url.startswith(("?", "#", "data:")):  # same page: stays where the page is
        return True
    return url.startswith(BASE + "/")


async def test_every_url_of_every_page_starts_with_the_base(
    hosted: Client, seeded: tuple[async_sessionmaker[AsyncSession], Seeded]
) -> None:
    assert (await _login(hosted)).status == 303
    ids = seeded[1]
    todo = [BASE + "/", BASE + f"/calls/{ids.alice_call}", BASE + "/api/v1/openapi.json"]
    seen: set[str] = set()
    outside: list[str] = []
    pages = 0
    while todo and pages < 80:
        url = todo.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = await hosted.get(url, allow_redirects=False)
        assert response.status == 200, f"{url}: {response.status}"
        if response.content_type != "text/html":
            continue
        pages += 1
        for where, link in urls_of(await response.text()):
            if not _inside(link):
                outside.append(f"{url}: {where}={link}")
                continue
            if link.startswith("data:"):
                continue
            target = urljoin(url, link).split("#", 1)[0]
            path = urlsplit(target).path
            is_form = where.startswith("form")
            if not is_form and "/static/" not in path and not path.endswith(".csv"):
                todo.append(target)
            elif path.endswith((".css", ".js", ".csv")):
                fetched = await hosted.get(target)
                assert fetched.status == 200, f"{url}: {where}={link}: {fetched.status}"
    assert outside == []
    # The crawl reached every kind of page, not just the first one.
    for page in ("/calls", "/conversations", "/experiments", "/calculator", "/health"):
        assert BASE + page in seen
    assert any(re.fullmatch(BASE + r"/conversations/%2B\d+", u) for u in seen), sorted(seen)
    assert pages >= 10


async def test_posts_redirect_inside_the_base(
    hosted: Client, seeded: tuple[async_sessionmaker[AsyncSession], Seeded]
) -> None:
    assert (await _login(hosted)).status == 303
    call = seeded[1].alice_call
    page = await hosted.get(BASE + f"/calls/{call}")
    token = csrf_of(await page.text())
    booked = await hosted.post(
        BASE + f"/calls/{call}/booking", data={"csrf": token, "value": "120"}, allow_redirects=False
    )
    assert booked.status == 303
    assert booked.headers["Location"] == BASE + f"/calls/{call}?booked=1#booking"
    e164 = quote("+12125550101")
    handled = await hosted.post(
        BASE + f"/conversations/{e164}/handled", data={"csrf": token}, allow_redirects=False
    )
    assert handled.status == 303
    assert handled.headers["Location"].startswith(BASE + "/conversations/")
    out = await hosted.post(BASE + "/logout", data={"csrf": token}, allow_redirects=False)
    assert out.status == 303
    assert out.headers["Location"] == BASE + "/login"
    assert out.cookies["tb_session-acme"]["path"] == BASE + "/"
    again = await hosted.get(BASE + "/", allow_redirects=False)
    assert again.status == 303


async def test_the_openapi_document_names_the_base_as_its_server(hosted: Client) -> None:
    spec = await (await hosted.get(BASE + "/api/v1/openapi.json")).json()
    assert spec["servers"] == [{"url": BASE}]


async def test_a_root_session_cookie_does_not_log_in_a_tenant(
    hosted: Client,
    seeded: tuple[async_sessionmaker[AsyncSession], Seeded],
    dash_settings: DashboardSettings,
) -> None:
    """The default tenant's cookie (path "/") reaches /t/acme/ but is not acme's login."""
    assert (await _login(hosted)).status == 303
    acme = hosted.session.cookie_jar.filter_cookies(hosted.make_url(BASE + "/"))["tb_session-acme"]
    hosted.session.cookie_jar.clear()
    hosted.session.cookie_jar.update_cookies({"tb_session": acme.value})
    response = await hosted.get(BASE + "/", allow_redirects=False)
    assert response.status == 303
    api = await hosted.get(BASE + "/api/v1/calls")
    assert api.status == 401


async def test_at_the_root_everything_is_as_before(client: Client) -> None:
    form = await client.get("/login")
    assert form.cookies["tb_csrf"]["path"] == "/login"
    text = await form.text()
    assert 'action="/login"' in text
    assert 'href="/static/dashboard.css"' in text
    response = await client.post(
        "/login",
        data={"csrf": csrf_of(text), "username": "admin", "password": PASSWORD, "next": "/calls"},
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/calls"
    assert response.cookies["tb_session"]["path"] == "/"
    spec = await (await client.get("/api/v1/openapi.json")).json()
    assert spec["servers"] == [{"url": "/"}]
