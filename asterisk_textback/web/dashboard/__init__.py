"""The web dashboard and JSON API: login, KPI pages with SVG charts, ``/api/v1``.

``add_dashboard(app, deps)`` mounts everything on the one aiohttp app ``run`` serves (next
to ``/healthz`` and ``/webhooks``); ``dashboard_app(deps)`` builds a stand-alone one.
"""

from __future__ import annotations

from aiohttp import web

from asterisk_textback.web.dashboard.api import add_api_routes
from asterisk_textback.web.dashboard.app import HERE, DashboardDeps, install
from asterisk_textback.web.dashboard.auth import hash_password, verify_password
from asterisk_textback.web.dashboard.routes import add_page_routes
from asterisk_textback.web.dashboard.settings import DashboardSettings

__all__ = [
    "DashboardDeps",
    "DashboardSettings",
    "add_dashboard",
    "dashboard_app",
    "hash_password",
    "verify_password",
]


def add_dashboard(app: web.Application, deps: DashboardDeps) -> None:
    """Mount the pages, ``/api/v1`` and ``/static/`` on ``app`` (before it starts)."""
    install(app, deps)
    add_page_routes(app)
    add_api_routes(app)
    app.router.add_static("/static/", HERE / "static", name="dashboard_static")


def dashboard_app(deps: DashboardDeps) -> web.Application:
    """A new application serving only the dashboard."""
    app = web.Application(client_max_size=64 * 1024)
    add_dashboard(app, deps)
    return app
