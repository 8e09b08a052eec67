"""Mount the dashboard: pages, ``/api/v1`` and static files on an aiohttp application.

``add_dashboard(app, deps)`` mounts everything on the one app ``run`` serves (next to
``/healthz`` and ``/webhooks``); ``dashboard_app(deps)`` builds a stand-alone one.
"""

from __future__ import annotations

from aiohttp import web

from asterisk_textback.web.dashboard.api import add_api_routes
from asterisk_textback.web.dashboard.app import HERE, DashboardDeps, install
from asterisk_textback.web.dashboard.routes import add_page_routes

__all__ = ["add_dashboard", "dashboard_app"]


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
