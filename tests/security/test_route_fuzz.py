"""Every route, fuzzed with hostile values: never a 5xx, never a traceback in a response.

The service's whole web surface (webhooks, bookings, ``/healthz``, ``/metrics``, the dashboard
and ``/api/v1``) is served by a real aiohttp server; each route gets hostile path parameters,
query values, credential headers and bodies, half the time from a logged-in browser (so the
page handlers run past their guard) and always with a credential that gets through one of the
API guards in a quarter of the shots.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.security.surface import Shot, full_app, log_in, shots

PER_ROUTE = 40


async def _fire(http: aiohttp.ClientSession, base: str, shot: Shot) -> tuple[int, str]:
    try:
        async with http.request(
            shot.method,
            base + shot.path,
            headers=shot.headers,
            data=shot.body,
            allow_redirects=False,
        ) as response:
            return response.status, (await response.read()).decode("utf-8", "replace")
    except ValueError:
        return 0, ""  # a header the client itself refuses to send (a control character)


async def test_every_route_survives_hostile_values(tmp_path: Path) -> None:
    """No 5xx and no traceback over PER_ROUTE hostile requests per route; every route hit."""
    async with full_app(tmp_path) as surface:
        runner = web.AppRunner(surface.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        failures: list[str] = []
        hit: Counter[str] = Counter()
        try:
            jar = aiohttp.CookieJar(unsafe=True)  # cookies from an IP address
            async with (
                aiohttp.ClientSession() as anonymous,
                aiohttp.ClientSession(cookie_jar=jar) as browser,
            ):
                await log_in(browser, base)
                gate = asyncio.Semaphore(8)

                async def one(n: int, shot: Shot) -> None:
                    async with gate:
                        http = browser if n % 2 else anonymous
                        status, text = await _fire(http, base, shot)
                    hit[shot.route] += 1
                    if status >= 500 or "Traceback" in text:
                        failures.append(f"{status} {shot.method} {shot.path[:200]} {text[:200]}")

                planned = list(shots(surface.routes, random.Random(13), PER_ROUTE))
                await asyncio.gather(*(one(n, shot) for n, shot in enumerate(planned)))
        finally:
            await runner.cleanup()
    assert failures == []
    assert {pattern for method, pattern in surface.routes if method != "HEAD"} == set(hit)
