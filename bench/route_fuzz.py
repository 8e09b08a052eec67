"""Every route of ``run``'s web app fuzzed with hostile values (``bench/webhook_fuzz.py``'s
second phase): path parameters, query values, credential headers and bodies from
``tests/security/surface.py``, half the requests from a logged-in browser.

A 5xx, a response body carrying a traceback, or a dropped connection is a server error.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.security.surface import Shot, full_app, log_in, shots


@dataclass
class RouteTally:
    """Requests per route and what went wrong."""

    requests: int = 0
    server_errors: int = 0
    unsendable: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    routes: int = 0
    failures: list[str] = field(default_factory=list)


async def _fire(http: aiohttp.ClientSession, base: str, shot: Shot, tally: RouteTally) -> None:
    try:
        async with http.request(
            shot.method,
            base + shot.path,
            headers=shot.headers,
            data=shot.body,
            allow_redirects=False,
        ) as response:
            status = response.status
            text = (await response.read()).decode("utf-8", "replace")
    except ValueError:
        tally.unsendable += 1  # a header the client refuses to send (a control character)
        return
    except (aiohttp.ClientError, OSError):
        status, text = 0, ""  # a 413 may close the connection before the body is sent
    tally.requests += 1
    tally.statuses[status] += 1
    if status >= 500 or "Traceback" in text:
        tally.server_errors += 1
        tally.failures.append(f"{status} {shot.method} {shot.path[:160]}")


async def run_routes(per_route: int = 200, seed: int = 1, concurrency: int = 8) -> RouteTally:
    """Serve every route on a loopback port and send ``per_route`` hostile requests to each."""
    tally = RouteTally()
    with tempfile.TemporaryDirectory(prefix="textback-routes-") as tmp:
        async with full_app(Path(tmp)) as surface:
            runner = web.AppRunner(surface.app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            base = f"http://127.0.0.1:{port}"
            tally.routes = len(surface.routes)
            gate = asyncio.Semaphore(concurrency)
            try:
                jar = aiohttp.CookieJar(unsafe=True)
                async with (
                    aiohttp.ClientSession() as anonymous,
                    aiohttp.ClientSession(cookie_jar=jar) as browser,
                ):
                    await log_in(browser, base)

                    async def one(n: int, shot: Shot) -> None:
                        async with gate:
                            await _fire(browser if n % 2 else anonymous, base, shot, tally)

                    planned = shots(surface.routes, random.Random(seed), per_route)
                    await asyncio.gather(*(one(n, s) for n, s in enumerate(planned)))
            finally:
                await runner.cleanup()
    return tally


def report(tally: RouteTally) -> list[str]:
    """Lines for the summary."""
    statuses = ", ".join(f"{s or 'drop'}: {n}" for s, n in sorted(tally.statuses.items()))
    lines = [f"routes: {tally.routes} fuzzed, {tally.requests} requests; statuses {statuses}"]
    lines += [f"  SERVER ERROR {failure}" for failure in tally.failures[:20]]
    lines.append(f"route_fuzz requests={tally.requests} server_errors={tally.server_errors}")
    return lines
