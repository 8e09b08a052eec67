"""The path a tenant's web app is mounted under: "" for the default tenant, "/t/<id>" else.

Every link, form action, redirect, cookie path and script fetch of a tenant's pages starts
with it, so that two tenants' pages on one host never mix.
"""

from __future__ import annotations

from aiohttp import web

from asterisk_textback.tenancy.ids import DEFAULT_TENANT

__all__ = ["BASE_PATH", "base_path", "tenant_base_path"]

#: Set on a tenant's web app by ``app.webapp.service_app``.
BASE_PATH = web.AppKey("base_path", str)


def tenant_base_path(tenant: str) -> str:
    """Where ``tenant``'s app is mounted."""
    return "" if tenant == DEFAULT_TENANT else f"/t/{tenant}"


def base_path(app: web.Application) -> str:
    """``app``'s mount path ("" when mounted at the root)."""
    return app.get(BASE_PATH, "")
