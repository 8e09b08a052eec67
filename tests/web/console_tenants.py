"""Two real tenants for the console tests: their own SQLite files, seeded, and running.

Each tenant is a real ``serve()`` (its own AMI simulator, tracker, recorder and dispatcher)
over its own database file migrated with ``store.schema.upgrade``; the console reads them
through a :class:`TenantDirectory` like the host's. Their dashboards and the console are
served by one host app (``tests.web.tenant_host``) under ``/t/alpha`` and ``/t/beta``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.app.parts import RunningService
from asterisk_textback.app.service import serve
from asterisk_textback.calls.model import Outcome
from asterisk_textback.config import settings_from_mapping
from asterisk_textback.store.bookings import mark_booked
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.outbox import claim_due
from asterisk_textback.store.results import mark_sent
from asterisk_textback.store.schema import upgrade
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.tenancy.directory import TenantView
from asterisk_textback.tenancy.model import RefusedTenant
from asterisk_textback.textback.loading import PreparedConfig, prepare
from asterisk_textback.web.base_path import BASE_PATH
from asterisk_textback.web.console.auth import ConsoleAuth
from asterisk_textback.web.console.mount import add_console
from asterisk_textback.web.console.settings import ConsoleSettings
from asterisk_textback.web.dashboard.mount import add_dashboard
from asterisk_textback.web.dashboard.settings import DashboardSettings
from tests.web.conftest import Client, make_deps
from tests.web.seed import NOW, T0, add_call, seed
from tests.web.tenant_host import host_app

CONSOLE_PASSWORD = "integrator horse staple"
CONSOLE_TOKEN = "console-token-0123456789abcdef"
#: What each tenant's figures over the last 30 days must read (see the seeding below).
ALPHA = {"missed": 4, "texted": 2, "replied": 1, "booked": 1, "revenue": 150.0}
BETA = {"missed": 3, "texted": 3, "replied": 0, "booked": 2, "revenue": 345.5}


@dataclass
class Directory:
    """The host's view of its tenants, as the console reads it."""

    running: list[TenantView]
    refusals: list[RefusedTenant]

    def views(self) -> Sequence[TenantView]:
        """Every running tenant."""
        return list(self.running)

    def refused(self) -> Sequence[RefusedTenant]:
        """The refused tenant files."""
        return list(self.refusals)


async def seed_beta(factory: async_sessionmaker[AsyncSession]) -> None:
    """Three missed calls texted (all sent), one answered, two booked for 300.00 + 45.50 USD."""
    async with unit_of_work(factory) as db:
        first = await add_call(db, 1, Outcome.MISSED_VOICEMAIL, "+13125550111", "Dee")
        second = await add_call(db, 2, Outcome.MISSED_NO_VOICEMAIL, "+13125550112", "Eve")
        await add_call(db, 3, Outcome.MISSED_NO_VOICEMAIL, "+13125550113", "Fay")
        await add_call(db, 4, Outcome.ANSWERED, "+13125550114", "Gus", suppress="answered")
        # Older than 30 days before NOW: outside the console's period.
        await add_call(
            db, 5, Outcome.MISSED_VOICEMAIL, "+13125550115", "Old", at=T0 - timedelta(days=40)
        )
    claimed = await claim_due(factory, "seed", T0 + timedelta(seconds=1), 10)
    async with unit_of_work(factory) as db:
        for message in claimed:
            await mark_sent(
                db,
                message.id,
                now=T0 + timedelta(seconds=2),
                provider="fake",
                provider_message_id=f"pm-b{message.id}",
            )
        at = T0 + timedelta(hours=1)
        await mark_booked(db, first, value_minor=30000, currency="USD", now=at)
        await mark_booked(db, second, value_minor=4550, currency="USD", now=at)


@dataclass
class Tenants:
    """The two running tenants, the directory, the console's auth and the host's client."""

    client: Client
    directory: Directory
    auth: ConsoleAuth
    parts: dict[str, RunningService]
    pbxes: dict[str, AmiServer]


@contextlib.asynccontextmanager
async def _running(
    tenant: str, name: str, url: str
) -> AsyncIterator[tuple[RunningService, AmiServer, PreparedConfig]]:
    async with AmiServer({"textback": "pw"}) as pbx:
        settings = settings_from_mapping(
            {
                "pbx": {"port": pbx.port, "secret": "pw"},
                "database": {"url": url},
                "web": {"enabled": False},
                "tenant": {"name": name},
            }
        )
        loaded = prepare(settings)
        stop = asyncio.Event()
        ready: asyncio.Future[RunningService] = asyncio.get_running_loop().create_future()

        async def on_ready(parts: RunningService) -> None:
            await parts.connection.wait_ready()
            ready.set_result(parts)

        task = asyncio.create_task(serve(loaded, stop, environ={}, on_ready=on_ready))
        try:
            parts = await asyncio.wait_for(asyncio.shield(ready), 30)
            yield parts, pbx, loaded
        finally:
            stop.set()
            await task


@contextlib.asynccontextmanager
async def two_tenants(
    tmp_path: Path,
    template: Path,
    dash: DashboardSettings,
    console: ConsoleSettings,
    refused: list[RefusedTenant] | None = None,
) -> AsyncIterator[Tenants]:
    """Alpha (the dashboard tests' seed) and Beta (``seed_beta``), running, behind one host."""
    urls = {}
    for tenant in ("alpha", "beta"):
        path = tmp_path / f"{tenant}.db"
        shutil.copyfile(template, path)
        urls[tenant] = f"sqlite+aiosqlite:///{path}"
        await upgrade(urls[tenant])  # already at head: a no-op that must stay one
    engines = {t: create_engine(u) for t, u in urls.items()}
    factories = {t: create_session_factory(e) for t, e in engines.items()}
    await seed(factories["alpha"])
    await seed_beta(factories["beta"])
    names = {"alpha": "Alpha Plumbing", "beta": "Beta Dental"}
    try:
        async with (
            _running("alpha", names["alpha"], urls["alpha"]) as alpha,
            _running("beta", names["beta"], urls["beta"]) as beta,
        ):
            running = {"alpha": alpha, "beta": beta}
            views = [
                TenantView(
                    id=t,
                    name=names[t],
                    base_path=f"/t/{t}",
                    loaded=running[t][2],
                    sessions=factories[t],
                    parts=running[t][0],
                )
                for t in ("alpha", "beta")
            ]
            directory = Directory(views, list(refused or []))
            root = web.Application()
            environ = {"TEXTBACK_CONSOLE_TOKEN": CONSOLE_TOKEN}
            auth = add_console(root, directory, console, environ, NOW.timestamp)
            apps = {}
            for t in ("alpha", "beta"):
                app = web.Application(client_max_size=64 * 1024)
                app[BASE_PATH] = f"/t/{t}"
                deps = replace(make_deps(factories[t], dash), console=auth)
                deps = replace(deps, api_token=f"{t}-api-token-0123456789")
                add_dashboard(app, deps)
                apps[f"/t/{t}"] = app
            host = host_app(apps, root)
            async with TestClient(TestServer(host, host="127.0.0.1")) as client:
                yield Tenants(
                    client,
                    directory,
                    auth,
                    {t: running[t][0] for t in running},
                    {t: running[t][1] for t in running},
                )
    finally:
        for engine in engines.values():
            await engine.dispose()
