"""``/healthz``: is the service connected to the PBX and able to send? (JSON, for monitors)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

HealthFn = Callable[[], tuple[bool, dict[str, Any]]]
HEALTH: web.AppKey[HealthFn] = web.AppKey("health")


async def healthz(request: web.Request) -> web.Response:
    """200 with the details when healthy, 503 with the same details when not."""
    ok, details = request.app[HEALTH]()
    return web.json_response({"ok": ok, **details}, status=200 if ok else 503)


def add_health_route(app: web.Application, health: HealthFn) -> None:
    """Serve ``GET /healthz`` from ``health()`` on ``app``."""
    app[HEALTH] = health
    app.router.add_get("/healthz", healthz)
