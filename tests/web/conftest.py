"""Fixtures for the dashboard tests: a seeded database, settings, a test client, logging in."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.kpi.settings import KpiSettings
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.web.dashboard.app import DashboardDeps
from asterisk_textback.web.dashboard.auth import hash_password
from asterisk_textback.web.dashboard.mount import dashboard_app
from asterisk_textback.web.dashboard.settings import DashboardSettings
from tests.dbfixtures import (  # noqa: F401 - fixtures are found by name
    backend,
    db_url,
    engine,
    pg_migrated,
    pg_server,
    session,
    session_factory,
    sqlite_migrated,
)
from tests.web.seed import NOW, Seeded, seed

PASSWORD = "correct horse battery"
API_TOKEN = "test-api-token-0123456789"
Client = TestClient[web.Request, web.Application]
#: The business's zone in the tests about what people read (``business.timezone``).
NY = ZoneInfo("America/New_York")
LABELS = {("opening", "control"): ("sorry", "reply"), ("opening", "b"): ("on_a_job", "book")}


@pytest.fixture(scope="session")
def password_hash() -> str:
    """A cheap (n=1024) hash of PASSWORD: the format is real, the cost test-sized."""
    return hash_password(PASSWORD, n=2**10)


@pytest.fixture
def dash_settings(password_hash: str) -> DashboardSettings:
    """Settings for plain-HTTP tests (Secure cookies are checked on their own)."""
    return DashboardSettings(password_hash=password_hash, cookie_secure=False, login_attempts=3)


@pytest.fixture
def dash_db(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A fresh copy of the migrated SQLite template."""
    path = tmp_path / "dash.db"
    shutil.copyfile(request.getfixturevalue("sqlite_migrated"), path)
    return path


@pytest.fixture
async def seeded(dash_db: Path) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], Seeded]]:
    """A SQLite database seeded through the store functions, and the seeded ids."""
    path = dash_db
    sqlite = create_engine(f"sqlite+aiosqlite:///{path}")
    factory = create_session_factory(sqlite)
    try:
        yield factory, await seed(factory)
    finally:
        await sqlite.dispose()


def make_deps(
    factory: async_sessionmaker[AsyncSession], settings: DashboardSettings
) -> DashboardDeps:
    """Dashboard dependencies with a fixed clock and a health callable."""
    return DashboardDeps(
        settings=settings,
        sessions=factory,
        kpi=KpiSettings(average_order_value=200.0, min_sample_per_variant=30),
        health=lambda: (False, {"ami": {"state": "connecting"}, "sending_paused": "auth error"}),
        api_token=API_TOKEN,
        labels=LABELS,
        clock=NOW.timestamp,
    )


@pytest.fixture
async def client(
    seeded: tuple[async_sessionmaker[AsyncSession], Seeded], dash_settings: DashboardSettings
) -> AsyncIterator[Client]:
    """A test client on the seeded dashboard, not logged in."""
    app = dashboard_app(make_deps(seeded[0], dash_settings))
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    """The hidden CSRF token in a page."""
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match[1]


async def login(client: Client, password: str = PASSWORD, next_: str = "/") -> int:
    """Log in through the form; the status of the POST (303 on success)."""
    form = await client.get("/login")
    token = csrf_of(await form.text())
    response = await client.post(
        "/login",
        data={"csrf": token, "username": "admin", "password": password, "next": next_},
        allow_redirects=False,
    )
    return response.status


@pytest.fixture
async def logged_in(client: Client) -> Client:
    """The client after a good login."""
    assert await login(client) == 303
    return client


async def business_client(
    tmp_path: Path,
    template: Path,
    settings: DashboardSettings,
    *,
    reports: bool = True,
    kpi: KpiSettings | None = None,
) -> AsyncIterator[tuple[Client, Seeded]]:
    """Logged in to a seeded dashboard of a New York business (``reports``: delivery reports)."""
    path = tmp_path / "business.db"
    shutil.copyfile(template, path)
    db_engine = create_engine(f"sqlite+aiosqlite:///{path}")
    factory = create_session_factory(db_engine)
    seeded = await seed(factory, reports=reports)
    deps = replace(make_deps(factory, settings), zone=NY)
    if kpi is not None:
        deps = replace(deps, kpi=kpi)
    try:
        async with TestClient(TestServer(dashboard_app(deps), host="127.0.0.1")) as client:
            assert await login(client) == 303
            yield client, seeded
    finally:
        await db_engine.dispose()
