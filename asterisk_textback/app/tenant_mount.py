"""One web listener for every tenant: ``/t/<id>/…`` to tenant ``<id>``'s app, the rest to
the default tenant's (or the host's own routes).

aiohttp freezes an application's routes (sub-apps included) once it serves, and tenants
come and go with a reload, so the host's root app does not mount tenants' apps as sub-apps:
a catch-all route hands each request to the tenant's own app, started on its own (its
startup and cleanup hooks run as they do behind a listener), with the mount stripped from
the path. The app knows its mount (``web.base_path``), so its links, and the URL a
provider signed, are rebuilt as sent.

With one business and no tenant files there is no root app at all: the default tenant's
app is the listener's, exactly as a single-business install always ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from aiohttp import web
from yarl import URL

from asterisk_textback.app.web_listener import WEB_DRAIN_SECONDS, WebListener
from asterisk_textback.errors import listen_error
from asterisk_textback.tenancy.ids import DEFAULT_TENANT
from asterisk_textback.web.base_path import tenant_base_path
from asterisk_textback.web.headers import secure_headers

__all__ = ["MountedWeb", "TenantMounts"]

log = logging.getLogger(__name__)

#: The root app's own routes go under these; a request anywhere else is the default
#: tenant's.
TENANT_PREFIX = "/t/"


@dataclass(eq=False, slots=True)
class _Mounted:
    """A tenant's started app and the requests it is serving now."""

    app: web.Application
    runner: web.AppRunner
    active: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    async def retire(self) -> None:
        """Let the requests under way finish (a while at most), then stop the app."""
        if self.active:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(WEB_DRAIN_SECONDS):
                    await self.idle.wait()
        await self.runner.cleanup()


class TenantMounts:
    """The tenants' web apps behind one :class:`WebListener` (see the module docstring)."""

    def __init__(self, listener: WebListener, *, single: bool) -> None:
        self.listener = listener
        #: The default tenant's app is the listener's own (no tenant files).
        self.single = single
        self._apps: dict[str, _Mounted] = {}
        self._retiring: set[asyncio.Task[None]] = set()

    def port(self, tenant: str) -> MountedWeb:
        """The stand-in for :class:`WebListener` that ``tenant``'s serve() is given."""
        return MountedWeb(self, tenant)

    def mounted(self, tenant: str) -> web.Application | None:
        """``tenant``'s app as served now (None: not served)."""
        entry = self._apps.get(tenant)
        return None if entry is None else entry.app

    async def mount(self, tenant: str, app: web.Application, host: str, port: int) -> None:
        """Serve ``app`` as ``tenant``'s; the app it replaces finishes its requests first."""
        if self.single and tenant == DEFAULT_TENANT:
            await self.listener.start(app, host, port)
            return
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=WEB_DRAIN_SECONDS)
        await runner.setup()  # startup hooks (the inbox's sweep, the dashboard's worker)
        old, self._apps[tenant] = self._apps.get(tenant), _Mounted(app, runner)
        if old is not None:
            task = asyncio.create_task(old.retire())
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def unmount(self, tenant: str) -> None:
        """Stop serving ``tenant``'s app (safe when not served)."""
        if self.single and tenant == DEFAULT_TENANT:
            await self.listener.stop()
            return
        entry = self._apps.pop(tenant, None)
        if entry is not None:
            await entry.retire()

    async def close(self) -> None:
        """Stop every app still mounted, and those still draining."""
        for tenant in list(self._apps):
            await self.unmount(tenant)
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)

    def url(self, tenant: str) -> str:
        """Where ``tenant``'s app is reached through the listener."""
        return self.listener.url.rstrip("/") + tenant_base_path(tenant) + "/"

    def add_routes(self, root: web.Application) -> None:
        """The catch-all routes handing requests to the tenants' apps (add them last)."""
        root.router.add_route("*", "/t/{tenant}", self._to_tenant)
        root.router.add_route("*", "/t/{tenant}/{tail:.*}", self._to_tenant)
        root.router.add_route("*", "/{tail:.*}", self._to_default)

    async def _to_tenant(self, request: web.Request) -> web.StreamResponse:
        tenant = request.match_info["tenant"]
        entry = None if tenant == DEFAULT_TENANT else self._apps.get(tenant)
        prefix = tenant_base_path(tenant)
        raw = request.raw_path
        if entry is None or not raw.startswith(prefix):
            raise web.HTTPNotFound(text="no such tenant\n")
        rest = raw[len(prefix) :]
        if not rest.startswith("/"):
            rest = "/" + rest  # "/t/acme" and "/t/acme?x" are the app's root
        return await _handled(entry, request, rest)

    async def _to_default(self, request: web.Request) -> web.StreamResponse:
        entry = self._apps.get(DEFAULT_TENANT)
        if entry is None:
            raise web.HTTPNotFound(text="not found\n")
        return await _handled(entry, request, request.raw_path)


async def _handled(entry: _Mounted, request: web.Request, path: str) -> web.StreamResponse:
    """``entry``'s app's response to ``request``, its path now ``path`` (as sent, encoded).

    The only aiohttp internals the host relies on: ``Application._handle`` (what a listener
    calls for each request) and the app's own body limit, ``_client_max_size``.
    """
    app = entry.app
    inner = request.clone(
        rel_url=URL(path, encoded=True),
        client_max_size=app._client_max_size,
    )
    entry.active += 1
    entry.idle.clear()
    try:
        try:
            response = await app._handle(inner)
        except web.HTTPException as exc:
            # Prepared here, so the tenant app's response hooks (its headers) run; the
            # listener then writes it as it is.
            await exc.prepare(inner)
            raise
        if isinstance(response, web.FileResponse):
            # FileResponse.prepare sends the file each time it is called: prepared here,
            # the listener's own prepare would fail and drop the connection. The listener
            # sends it; the tenant app's response hooks set their headers first.
            await app.on_response_prepare.send(inner, response)
        elif not response.prepared:
            await response.prepare(inner)
        return response
    finally:
        entry.active -= 1
        if not entry.active:
            entry.idle.set()


class MountedWeb:
    """A tenant's stand-in for :class:`WebListener`: its app served through the host's."""

    def __init__(self, mounts: TenantMounts, tenant: str) -> None:
        self._mounts = mounts
        self._tenant = tenant

    async def start(self, app: web.Application, host: str, port: int) -> None:
        """Serve ``app`` as this tenant's (``host``/``port``: the listener's when alone)."""
        await self._mounts.mount(self._tenant, app, host, port)

    @property
    def url(self) -> str:
        """Where this tenant's app is reached."""
        return self._mounts.url(self._tenant)

    @contextlib.asynccontextmanager
    async def listening(self, app: web.Application, host: str, port: int) -> AsyncIterator[None]:
        """:meth:`start` for the block, then :meth:`stop`; StartupError if the port is taken."""
        try:
            await self.start(app, host, port)
        except OSError as exc:
            raise listen_error(exc, "web", host, port) from None
        try:
            yield
        finally:
            await self.stop()

    async def stop(self) -> None:
        """Stop serving this tenant's app."""
        await self._mounts.unmount(self._tenant)


def root_app(
    mounts: TenantMounts,
    health: Callable[[], tuple[bool, dict[str, object]]],
    *,
    extra: Callable[[web.Application], None] | None = None,
) -> web.Application:
    """The listener's app with tenant files: /cluster/…, ``extra`` routes, then the tenants."""
    root = web.Application()
    secure_headers(root, hsts=False)

    async def healthz(request: web.Request) -> web.Response:
        ok, body = health()
        return web.json_response(body, status=200 if ok else 503)

    root.router.add_get("/cluster/healthz", healthz)
    if extra is not None:
        extra(root)  # the console, /cluster/metrics (before the catch-all, which would shadow them)
    mounts.add_routes(root)
    return root
