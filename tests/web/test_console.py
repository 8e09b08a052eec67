"""The integrator console over two real running tenants: its table, its API, its logins.

Figures are checked against what each tenant's database was seeded with (``ALPHA``/``BETA``
in ``tests.web.console_tenants``); the failure paths: a wrong password, a forged form, no or
a wrong token, a tenant's own cookie or token, and the console switched off.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.config import settings_from_mapping
from asterisk_textback.errors import ConfigError
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.tenancy.model import RefusedTenant
from asterisk_textback.web.console.figures import tenant_rows
from asterisk_textback.web.console.settings import ConsoleSettings
from asterisk_textback.web.dashboard.auth import hash_password
from asterisk_textback.web.dashboard.settings import DashboardSettings
from tests.web.conftest import PASSWORD, Client, csrf_of
from tests.web.console_tenants import (
    ALPHA,
    BETA,
    CONSOLE_PASSWORD,
    CONSOLE_TOKEN,
    Tenants,
    two_tenants,
)
from tests.web.seed import NOW

REFUSED = RefusedTenant(
    "gamma",
    Path("tenants.d/gamma.toml"),
    "tenants.d/gamma.toml line 3: [provider] name: unknown provider 'nope'",
)


@pytest.fixture(scope="session")
def console_hash() -> str:
    """A cheap hash of CONSOLE_PASSWORD (real format, test-sized cost)."""
    return hash_password(CONSOLE_PASSWORD, n=2**10)


@pytest.fixture
async def tenants(
    tmp_path: Path, sqlite_migrated: Path, dash_settings: DashboardSettings, console_hash: str
) -> AsyncIterator[Tenants]:
    """Alpha and Beta running behind one host with the console enabled."""
    console = ConsoleSettings(enabled=True, password_hash=console_hash, cookie_secure=False)
    async with two_tenants(tmp_path, sqlite_migrated, dash_settings, console, [REFUSED]) as found:
        yield found


async def console_login(
    client: Client, password: str = CONSOLE_PASSWORD, user: str = "integrator"
) -> int:
    """Log in to the console; the POST's status (303 on success)."""
    form = await client.get("/console/login")
    assert form.status == 200
    response = await client.post(
        "/console/login",
        data={"csrf": csrf_of(await form.text()), "username": user, "password": password},
        allow_redirects=False,
    )
    return response.status


async def tenant_login(client: Client, tenant: str) -> None:
    """Log in as the tenant's own dashboard user."""
    form = await client.get(f"/t/{tenant}/login")
    response = await client.post(
        f"/t/{tenant}/login",
        data={"csrf": csrf_of(await form.text()), "username": "admin", "password": PASSWORD},
        allow_redirects=False,
    )
    assert response.status == 303


def _row(html: str, tenant: str) -> str:
    match = re.search(rf'<tr data-tenant="{tenant}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {tenant}"
    return match[1]


def _cell(row: str, name: str) -> str:
    match = re.search(rf'<td class="{name}[^"]*">([^<]*)</td>', row)
    assert match, f"no {name} cell"
    return match[1].strip()


async def test_the_table_shows_each_tenants_own_figures_and_health(tenants: Tenants) -> None:
    client = tenants.client
    assert await console_login(client) == 303
    page = await client.get("/console/")
    assert page.status == 200
    html = await page.text()
    for tenant, expected, name in (
        ("alpha", ALPHA, "Alpha Plumbing"),
        ("beta", BETA, "Beta Dental"),
    ):
        row = _row(html, tenant)
        assert name in row
        for key in ("missed", "texted", "replied", "booked"):
            assert _cell(row, key) == str(expected[key]), (tenant, key)
        assert _cell(row, "revenue") == f"{expected['revenue']:,.2f} USD"
        assert "default: ready since" in row
        assert "sending" in row
        assert f'href="/t/{tenant}/"' in row
    assert "Refused tenant files" in html
    assert "gamma" in html
    assert "unknown provider" in html
    assert "Signed in as integrator integrator" in html


async def test_the_api_with_the_console_token(tenants: Tenants) -> None:
    response = await tenants.client.get(
        "/console/api/tenants", headers={"Authorization": f"Bearer {CONSOLE_TOKEN}"}
    )
    assert response.status == 200
    body = await response.json()
    rows = {row["id"]: row for row in body["tenants"]}
    assert list(rows) == ["alpha", "beta"]
    for tenant, expected in (("alpha", ALPHA), ("beta", BETA)):
        kpis = rows[tenant]["kpis"]
        assert kpis["missed_calls"] == expected["missed"]
        assert kpis["texted"] == expected["texted"]
        assert kpis["replied"] == expected["replied"]
        assert kpis["booked"] == expected["booked"]
        assert kpis["revenue"] == pytest.approx(expected["revenue"])
        assert rows[tenant]["dashboard"] == f"/t/{tenant}/"
        assert rows[tenant]["ami"][0]["state"] == "ready"
        link = rows[tenant]["ami"][0]
        # The last event's time is shown once the link has had one.
        assert (link["last_event"] is not None) == (link["events"] > 0)
        assert rows[tenant]["sending_paused"] is None
    assert body["refused"] == [{"id": "gamma", "file": str(REFUSED.path), "reason": REFUSED.reason}]


async def test_a_pbx_going_away_shows_on_its_tenant_only(tenants: Tenants) -> None:
    await tenants.pbxes["beta"].stop()
    headers = {"Authorization": f"Bearer {CONSOLE_TOKEN}"}
    for _ in range(100):
        body = await (await tenants.client.get("/console/api/tenants", headers=headers)).json()
        states = {row["id"]: row["ami"][0]["state"] for row in body["tenants"]}
        if states["beta"] != "ready":
            break
        await asyncio.sleep(0.05)
    assert states == {"alpha": "ready", "beta": states["beta"]}
    assert states["beta"] != "ready"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer wrong-token",
        "Bearer alpha-api-token-0123456789",  # a tenant's own API token
        f"Basic {CONSOLE_TOKEN}",
        "Bearer ",
    ],
)
async def test_the_api_refuses_without_the_console_token(
    tenants: Tenants, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = await tenants.client.get("/console/api/tenants", headers=headers)
    assert response.status == 401
    assert (await response.json())["error"] == "unauthorized"


async def test_a_wrong_password_or_user_is_refused(tenants: Tenants) -> None:
    client = tenants.client
    assert await console_login(client, password="wrong password") == 401
    assert await console_login(client, user="admin") == 401
    # The tenants' admin password is not the integrator's.
    assert await console_login(client, password=PASSWORD, user="admin") == 401
    page = await client.get("/console/", allow_redirects=False)
    assert page.status == 303
    assert page.headers["Location"] == "/console/login"


async def test_a_forged_login_form_is_refused(tenants: Tenants) -> None:
    response = await tenants.client.post(
        "/console/login",
        data={"csrf": "forged", "username": "integrator", "password": CONSOLE_PASSWORD},
        allow_redirects=False,
    )
    assert response.status == 403


async def test_a_tenant_users_cookie_does_not_open_the_console_or_another_tenant(
    tenants: Tenants,
) -> None:
    client = tenants.client
    await tenant_login(client, "alpha")
    assert (await client.get("/t/alpha/", allow_redirects=False)).status == 200
    console = await client.get("/console/", allow_redirects=False)
    assert console.status == 303
    assert console.headers["Location"] == "/console/login"
    assert (await client.get("/console/api/tenants")).status == 401
    # Beta's pages and API refuse Alpha's login, even with its cookie renamed for Beta.
    assert (await client.get("/t/beta/", allow_redirects=False)).status == 303
    assert (await client.get("/t/beta/api/v1/calls")).status == 401
    alpha = client.session.cookie_jar.filter_cookies(client.make_url("/t/alpha/"))
    client.session.cookie_jar.update_cookies({"tb_session-beta": alpha["tb_session-alpha"].value})
    assert (await client.get("/t/beta/", allow_redirects=False)).status == 303
    # And Alpha's API token is not Beta's.
    api = await client.get(
        "/t/beta/api/v1/calls", headers={"Authorization": "Bearer alpha-api-token-0123456789"}
    )
    assert api.status == 401


async def test_the_integrator_enters_every_tenant_and_leaves_with_one_logout(
    tenants: Tenants,
) -> None:
    client = tenants.client
    assert await console_login(client) == 303
    for tenant in ("alpha", "beta"):
        page = await client.get(f"/t/{tenant}/?period=30d", allow_redirects=False)
        assert page.status == 200, tenant
        html = await page.text()
        assert "Signed in as integrator integrator" in html
        api = await client.get(f"/t/{tenant}/api/v1/kpis?period=30d")
        assert api.status == 200
    beta = await (await client.get("/t/beta/api/v1/kpis?period=30d")).json()
    missed = next(k for k in beta["kpis"] if k["key"] == "missed_calls")
    assert missed["value"] == BETA["missed"]
    # The integrator's forms on a tenant's pages carry the console session's CSRF token.
    call_page = await client.get("/t/beta/calls")
    call_id = re.search(r'href="/t/beta/calls/(\d+)"', await call_page.text())
    assert call_id
    page = await client.get(f"/t/beta/calls/{call_id[1]}")
    token = csrf_of(await page.text())
    booked = await client.post(
        f"/t/beta/calls/{call_id[1]}/booking",
        data={"csrf": token, "value": "10"},
        allow_redirects=False,
    )
    assert booked.status == 303
    assert booked.headers["Location"].startswith(f"/t/beta/calls/{call_id[1]}")
    forged = await client.post(
        f"/t/beta/calls/{call_id[1]}/booking",
        data={"csrf": "forged", "value": "10"},
        allow_redirects=False,
    )
    assert forged.status == 403
    out = await client.post("/console/logout", data={"csrf": token}, allow_redirects=False)
    assert out.status == 303
    assert out.headers["Location"] == "/console/login"
    assert (await client.get("/t/beta/", allow_redirects=False)).status == 303
    assert (await client.get("/t/beta/api/v1/calls")).status == 401


async def test_the_console_token_reads_a_tenants_api(tenants: Tenants) -> None:
    headers = {"Authorization": f"Bearer {CONSOLE_TOKEN}"}
    response = await tenants.client.get("/t/alpha/api/v1/kpis?period=30d", headers=headers)
    assert response.status == 200
    body = await response.json()
    missed = next(k for k in body["kpis"] if k["key"] == "missed_calls")
    assert missed["value"] == ALPHA["missed"]


async def test_a_disabled_console_is_a_404_and_admits_nobody(
    tmp_path: Path, sqlite_migrated: Path, dash_settings: DashboardSettings, console_hash: str
) -> None:
    console = ConsoleSettings(enabled=False, password_hash=console_hash, cookie_secure=False)
    async with two_tenants(tmp_path, sqlite_migrated, dash_settings, console) as tenants:
        client = tenants.client
        assert (await client.get("/console/")).status == 404
        assert (await client.get("/console/login")).status == 404
        headers = {"Authorization": f"Bearer {CONSOLE_TOKEN}"}
        assert (await client.get("/console/api/tenants", headers=headers)).status == 404
        # Its token opens no tenant either.
        assert (await client.get("/t/alpha/api/v1/calls", headers=headers)).status == 401


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"password_hash": "plain-text-password"}, "web.console.password_hash: password_hash"),
        ({"session_minutes": 1}, "web.console.session_minutes"),
        ({"username": ""}, "web.console.username"),
        ({"tokn_env": "X"}, "unknown key 'web.console.tokn_env'"),
    ],
)
def test_a_bad_console_setting_is_named(section: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping({"web": {"console": section}})
    assert named in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_console_is_off_by_default() -> None:
    console = settings_from_mapping({}).web.console
    assert console.enabled is False
    assert console.username == "integrator"
    assert console.api_token({"TEXTBACK_CONSOLE_TOKEN": "t0k"}) == "t0k"
    assert console.api_token({"TEXTBACK_CONSOLE_TOKEN": ""}) is None


async def test_tenants_are_read_concurrently_but_never_more_than_the_bound(
    tenants: Tenants, tmp_path: Path
) -> None:
    """Twelve tenants, bound 3: at most three sessions open at once, and more than one."""
    open_now = {"n": 0, "peak": 0}

    class Counting(AsyncSession):
        async def __aenter__(self) -> Counting:
            open_now["n"] += 1
            open_now["peak"] = max(open_now["peak"], open_now["n"])
            await asyncio.sleep(0.01)  # hold the slot so that overlaps can happen
            return self

        async def __aexit__(self, *exc: object) -> None:
            open_now["n"] -= 1
            await self.close()

    alpha = tenants.directory.running[0]
    engine = alpha.sessions.kw["bind"]
    counting = async_sessionmaker(engine, class_=Counting, expire_on_commit=False)
    views = [replace(alpha, id=f"t{n}", sessions=counting) for n in range(12)]
    rows = await tenant_rows(views, NOW.timestamp, bound=3)
    assert [row.id for row in rows] == [f"t{n}" for n in range(12)]
    assert all(row.figures is not None and row.figures.missed == ALPHA["missed"] for row in rows)
    assert open_now["n"] == 0
    assert 1 < open_now["peak"] <= 3


async def test_a_tenant_whose_database_cannot_be_read_keeps_its_row(
    tenants: Tenants, tmp_path: Path
) -> None:
    """An unmigrated file: that row says so; the others keep their figures."""
    broken = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        alpha, beta = tenants.directory.running
        views = [alpha, replace(beta, sessions=create_session_factory(broken))]
        rows = await tenant_rows(views, NOW.timestamp)
    finally:
        await broken.dispose()
    assert rows[0].figures is not None
    assert rows[0].figures.booked == ALPHA["booked"]
    assert rows[1].figures is None
    assert rows[1].error is not None
    assert rows[1].error.startswith("figures unreadable: database ")
    assert "has no tables" in rows[1].error
    assert rows[1].as_dict()["kpis"] is None


async def test_repeated_wrong_passwords_are_slowed_down(tenants: Tenants) -> None:
    """The console's logins go through the dashboard's attempt limiter: 429 with Retry-After."""
    client = tenants.client
    statuses = [await console_login(client, password=f"guess {n}") for n in range(6)]
    assert statuses[0] == 401
    assert 429 in statuses
    # While the delay lasts even the right password waits (no oracle for a guesser).
    assert await console_login(client) == 429
    form = await client.get("/console/login")
    response = await client.post(
        "/console/login",
        data={"csrf": csrf_of(await form.text()), "username": "integrator", "password": "x"},
        allow_redirects=False,
    )
    assert response.status == 429
    assert int(response.headers["Retry-After"]) >= 1
