"""The tenants' apps behind one listener: paths as the app sees them, and an app replaced by
a reload finishing the requests it had before it is stopped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from yarl import URL

from asterisk_textback.app.tenant_mount import TenantMounts, root_app
from asterisk_textback.app.web_listener import WebListener
from asterisk_textback.web.base_path import BASE_PATH, base_path
from tests.app.hostsupport import until


class _Apps:
    """Tenant apps whose slow route waits for :attr:`release`; their cleanups recorded."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.cleaned: list[str] = []

    def build(self, name: str) -> web.Application:
        app = web.Application()
        app[BASE_PATH] = "/t/acme"

        async def slow(request: web.Request) -> web.Response:
            self.entered.set()
            await self.release.wait()
            return web.Response(text=name)

        async def who(request: web.Request) -> web.Response:
            mount = base_path(request.app)
            return web.Response(text=f"{name} {mount} {request.raw_path}")

        async def lifecycle(app: web.Application) -> AsyncIterator[None]:
            yield
            self.cleaned.append(name)

        app.router.add_get("/slow", slow)
        app.router.add_get("/who", who)
        app.cleanup_ctx.append(lifecycle)
        return app


async def test_a_replaced_app_finishes_its_requests_before_it_stops() -> None:
    listener = WebListener()
    mounts = TenantMounts(listener, single=False)
    await listener.start(root_app(mounts, lambda: (True, {})), "127.0.0.1", 0)
    apps = _Apps()
    base = listener.url.rstrip("/")
    try:
        await mounts.mount("acme", apps.build("one"), "", 0)
        async with aiohttp.ClientSession() as http:

            async def get(path: str) -> tuple[int, str]:
                # As written: the test is what the tenant's app sees of the path sent.
                async with http.get(URL(base + path, encoded=True)) as resp:
                    return resp.status, await resp.text()

            slow = asyncio.create_task(get("/t/acme/slow"))
            await apps.entered.wait()
            # A reload replaces the app while "one" is still answering.
            await mounts.mount("acme", apps.build("two"), "", 0)
            assert await get("/t/acme/who?x=%2F") == (200, "two /t/acme /who?x=%2F")
            assert apps.cleaned == []
            apps.release.set()
            assert await slow == (200, "one")
            await until(lambda: apps.cleaned == ["one"], "the old app to stop")
            assert (await get("/t/acme"))[0] == 404  # the app has no route at its root
            assert (await get("/t/other/who"))[0] == 404
            assert (await get("/who"))[0] == 404  # no default tenant mounted
            await mounts.unmount("acme")
            assert apps.cleaned == ["one", "two"]
            assert (await get("/t/acme/who"))[0] == 404
    finally:
        await mounts.close()
        await listener.stop()


async def test_many_requests_while_the_app_is_replaced_all_get_an_answer() -> None:
    listener = WebListener()
    mounts = TenantMounts(listener, single=False)
    await listener.start(root_app(mounts, lambda: (True, {})), "127.0.0.1", 0)
    apps = _Apps()
    apps.release.set()
    base = listener.url.rstrip("/")
    try:
        await mounts.mount("acme", apps.build("v0"), "", 0)
        async with aiohttp.ClientSession() as http:

            async def hammer() -> list[int]:
                statuses = []
                for _ in range(40):
                    async with http.get(base + "/t/acme/slow") as resp:
                        statuses.append(resp.status)
                return statuses

            async def reloads() -> None:
                for version in range(1, 6):
                    await mounts.mount("acme", apps.build(f"v{version}"), "", 0)
                    await asyncio.sleep(0.005)

            results = await asyncio.gather(hammer(), hammer(), hammer(), reloads())
        statuses = [s for part in results[:3] for s in part]
        assert statuses == [200] * 120
        await until(lambda: len(apps.cleaned) == 5, "the replaced apps to stop")
        assert apps.cleaned == [f"v{v}" for v in range(5)]
    finally:
        await mounts.close()
        await listener.stop()
