"""A test-only host: one root app that serves tenant apps under their base paths.

It does what the real host does with a tenant's app: the request's path loses its
``/t/<id>`` prefix and the tenant's app handles it, so routes stay as they are and only what
the pages emit (links, redirects, cookies) shows whether they know where they live.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from yarl import URL

from asterisk_textback.web.base_path import BASE_PATH


def host_app(
    tenants: Mapping[str, web.Application], root: web.Application | None = None
) -> web.Application:
    """``root`` (or a new app) forwarding ``<base>/<tail>`` to ``tenants[base]`` as ``/<tail>``."""
    host = root if root is not None else web.Application()
    for base, inner in tenants.items():
        assert inner[BASE_PATH] == base, "the tenant app must know its base path"

        def forward(inner: web.Application, base: str) -> web.Handler:
            async def handler(request: web.Request) -> web.StreamResponse:
                url = request.rel_url
                tail = url.raw_path[len(base) :] or "/"
                rel = URL.build(path=tail, query_string=url.raw_query_string, encoded=True)
                return await inner._handle(request.clone(rel_url=rel))

            return handler

        host.router.add_route("*", base + "/{tail:.*}", forward(inner, base))

        async def start(_: web.Application, inner: web.Application = inner) -> None:
            inner.freeze()
            await inner.startup()

        async def stop(_: web.Application, inner: web.Application = inner) -> None:
            await inner.cleanup()

        host.on_startup.append(start)
        host.on_cleanup.append(stop)
    return host
