"""Dashboard load for ``bench/pipeline.py --with-dashboard-load``: three-year KPI reports
requested back to back over ``/api/v1/kpis`` while ``/healthz`` is timed every 50 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp

#: The Bearer token the service reads from ``TEXTBACK_API_TOKEN`` (the dashboard's default).
TOKEN_ENV = "TEXTBACK_API_TOKEN"
TOKEN = "bench-dashboard-load-token"


def free_port() -> int:
    """A TCP port nobody listens on right now (for the service's web server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Load:
    """What the load did and how ``/healthz`` fared meanwhile."""

    reports: int = 0
    report_errors: int = 0
    report_seconds: list[float] = field(default_factory=list)
    healthz_ms: list[float] = field(default_factory=list)


def three_years() -> str:
    """A period of 1095 days ending tomorrow (within the default ``max_period_days``)."""
    end = datetime.now(UTC).date() + timedelta(days=1)
    return f"{end - timedelta(days=1095)}..{end}"


async def run_load(port: int, stop: asyncio.Event, load: Load, *, concurrency: int = 2) -> None:
    """Until ``stop``: ``concurrency`` report loops and one ``/healthz`` probe every 50 ms."""
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    period = three_years()
    async with aiohttp.ClientSession() as http:
        async with asyncio.timeout(60):
            while True:  # the web server comes up a moment after the service starts
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(base + "/healthz") as response:
                        await response.read()
                        break
                await asyncio.sleep(0.1)

        async def reports() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                async with http.get(
                    f"{base}/api/v1/kpis?period={period}", headers=headers
                ) as response:
                    await response.read()
                    load.reports += 1
                    load.report_errors += response.status != 200
                load.report_seconds.append(time.perf_counter() - started)

        async def probe() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                async with http.get(base + "/healthz") as response:
                    await response.read()
                load.healthz_ms.append((time.perf_counter() - started) * 1000.0)
                await asyncio.sleep(0.05)

        await asyncio.gather(probe(), *(reports() for _ in range(concurrency)))
