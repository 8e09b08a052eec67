"""Bounded work: long periods refused at once, bad values a 400 naming the parameter, and
``/healthz`` quick while the longest allowed KPI reports run (they run on the report worker's
thread, with its own loop and engine, not on the loop that answers ``/healthz``).
"""

# ruff: noqa: F811 - fixtures imported from tests/web by name are these tests' parameters
from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.web.dashboard.mount import add_dashboard
from asterisk_textback.web.dashboard.settings import DashboardSettings
from asterisk_textback.web.health import add_health_route
from tests.dbfixtures import sqlite_migrated  # noqa: F401 - fixtures are found by name
from tests.web.conftest import (  # noqa: F401
    API_TOKEN,
    dash_db,
    login,
    make_deps,
    password_hash,
    seeded,
)
from tests.web.seed import Seeded

Client = TestClient[web.Request, web.Application]
BEARER = {"Authorization": f"Bearer {API_TOKEN}"}
#: Three years ending at the seed's NOW (2026-11-...): the longest the default allows.
THREE_YEARS = "2023-12-01..2026-12-01"


@pytest.fixture
async def service(
    seeded: tuple[async_sessionmaker[AsyncSession], Seeded], password_hash: str
) -> AsyncIterator[Client]:
    """``/healthz`` and the dashboard on one app, as ``run`` mounts them (default limits)."""
    app = web.Application()
    add_health_route(app, lambda: (True, {"ami": {"state": "ready"}}))
    settings = DashboardSettings(password_hash=password_hash, cookie_secure=False)
    add_dashboard(app, make_deps(seeded[0], settings))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/kpis?period=1971-01-01..2100-01-01",
        "/api/v1/experiments?period=2000-01-01..2026-01-01",
        "/api/v1/kpis?period=9999d",
        "/?period=1971-01-01..2100-01-01",
        "/experiments?period=2000-01-01..2026-01-01",
        "/calculator?period=1971-01-01..2100-01-01",
    ],
)
async def test_a_period_beyond_the_maximum_is_refused_at_once(service: Client, path: str) -> None:
    """400 naming ``period`` (and the setting) within a second, not 40 s of work."""
    assert await login(service) == 303
    started = time.perf_counter()
    async with asyncio.timeout(5):
        response = await service.get(path, headers=BEARER)
        text = await response.text()
    assert response.status == 400, text
    assert "period" in text
    assert "max_period_days" in text
    assert time.perf_counter() - started < 1.0


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("/api/v1/calls?to=9999-12-31", "to"),
        ("/api/v1/calls?from=0001-01-01", "from"),
        ("/api/v1/calls?from=2026-1-1", "from"),
        (f"/api/v1/calls?cursor={_cursor('2026-01-01T00:00:00+00:00|' + str(2**63))}", "cursor"),
        (f"/api/v1/messages?cursor={_cursor('2026-01-01T00:00:00+00:00|' + '9' * 40)}", "cursor"),
        (f"/api/v1/calls?cursor={_cursor('0001-01-01T00:00:00+23:59|1')}", "cursor"),
        ("/api/v1/calls?limit=²", "limit"),
        ("/api/v1/calls?limit=501", "limit"),
        ("/api/v1/kpis?period=9999-12-31", "period"),
        ("/api/v1/kpis?period=0001-01", "period"),
        ("/api/v1/kpis?period=1900-01-01..2100-01-01", "period"),
        ("/api/v1/kpis?period=0d", "period"),
        ("/api/v1/kpis?period=" + "1" * 100, "period"),
        ("/api/v1/kpis?did=" + "1" * 100, "did"),
    ],
)
async def test_bad_values_are_a_400_naming_the_parameter(
    service: Client, query: str, parameter: str
) -> None:
    """Never a 500: a JSON 400 whose detail starts with the parameter's name."""
    response = await service.get(query, headers=BEARER)
    body = await response.json()
    assert response.status == 400, body
    assert body["detail"].startswith(f"{parameter}:"), body


async def test_healthz_stays_quick_while_long_reports_run(service: Client) -> None:
    """Four three-year reports at once (API and pages): ``/healthz`` answers under 100 ms."""
    assert await login(service) == 303
    # Start the report processes first: the claim is about reports running, not starting.
    warm = await asyncio.gather(*(service.get("/?period=today") for _ in range(3)))
    assert [r.status for r in warm] == [200] * 3
    paths = [f"/api/v1/kpis?period={THREE_YEARS}", f"/?period={THREE_YEARS}"] * 2
    reports = asyncio.gather(*(service.get(path, headers=BEARER) for path in paths))
    waits: list[float] = []
    while not reports.done():
        started = time.perf_counter()
        health = await service.get("/healthz")
        await health.read()
        waits.append(time.perf_counter() - started)
        assert health.status == 200
        await asyncio.sleep(0.005)
    assert [r.status for r in await reports] == [200] * 4
    assert len(waits) >= 5, "the reports finished before /healthz was asked: not a test"
    # All but the single slowest probe under 100 ms (one may meet the OS scheduler on a
    # shared two-core box), and that one under a second: a report on this loop costs seconds.
    slowest = sorted(waits)
    assert slowest[-2] < 0.100, slowest[-5:]
    assert slowest[-1] < 1.0, slowest[-5:]


async def test_a_burst_of_reports_is_refused_not_queued(service: Client) -> None:
    """30 three-year API reports at once: some 429 with Retry-After at once, none a 5xx."""
    responses = await asyncio.gather(
        *(service.get(f"/api/v1/kpis?period={THREE_YEARS}", headers=BEARER) for _ in range(30))
    )
    statuses = [r.status for r in responses]
    assert set(statuses) <= {200, 429}, statuses
    assert 1 <= statuses.count(200) <= 12, statuses
    busy = [r for r in responses if r.status == 429]
    assert busy, statuses
    assert all(r.headers.get("Retry-After") == "10" for r in busy)
