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


def health_app(health: HealthFn) -> web.Application:
    """An application serving ``GET /healthz`` from ``health()``."""
    app = web.Application(client_max_size=1024)
    app[HEALTH] = health
    app.router.add_get("/healthz", healthz)
    return app
