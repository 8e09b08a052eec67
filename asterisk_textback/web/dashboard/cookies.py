"""The names and paths of a dashboard's cookies, under the path its app is mounted at.

A tenant's dashboard lives under ``/t/<id>``: its cookies carry that path, so a browser
sends them only there, and a name of their own (``tb_session-<id>``), since the default
tenant's cookies (path "/") reach every tenant's pages too and must never shadow or stand
in for a tenant's.
"""

from __future__ import annotations

from aiohttp import web

from asterisk_textback.web.base_path import base_path

__all__ = ["cookie_name", "cookie_path"]


def cookie_name(app: web.Application, name: str) -> str:
    """``name`` as ``app`` spells it: as is at the root, ``name-<tenant>`` under a tenant."""
    base = base_path(app)
    return name if not base else f"{name}-{base.rsplit('/', 1)[-1]}"


def cookie_path(app: web.Application, path: str = "/") -> str:
    """``path`` (one of ``app``'s routes) under ``app``'s mount path: "/" -> "/t/acme/"."""
    return base_path(app) + path
