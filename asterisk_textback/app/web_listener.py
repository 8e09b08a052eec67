"""The HTTP listener (/healthz, webhooks, dashboard): started once, restarted by a reload."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator

from aiohttp import web

from asterisk_textback.errors import listen_error

__all__ = ["WEB_DRAIN_SECONDS", "WebListener", "http_url"]

log = logging.getLogger(__name__)

#: How long a closing web app may take to finish requests in progress (systemd's stop
#: timeout in the unit is 30 s, so aiohttp's default of 60 s was never reached anyway).
WEB_DRAIN_SECONDS = 10.0


class WebListener:
    """The HTTP listener (/healthz, webhooks, dashboard), restartable with a new app."""

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._address: tuple[str, int] | None = None
        self._sockets: list[socket.socket] = []
        self._draining: set[asyncio.Task[None]] = set()

    async def start(self, app: web.Application, host: str, port: int) -> None:
        """Listen on ``host:port`` with ``app``, then stop the app running before.

        On the same address the new app accepts from the very listening sockets the old
        one used (duplicated descriptors), so a reload refuses no webhook or health check.
        """
        same = self._runner is not None and self._address == (host, port)
        sockets = [sock.dup() for sock in self._sockets] if same else _listen(host, port)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=WEB_DRAIN_SECONDS)
        try:
            await runner.setup()
            for sock in sockets:
                await web.SockSite(runner, sock).start()
        except BaseException:
            await runner.cleanup()
            for sock in sockets:
                sock.close()
            raise
        old, self._runner = self._runner, runner
        self._address, self._sockets = (host, port), sockets
        # The start-up line a person looks for: where to point the browser.
        if _DASHBOARD in app.router.named_resources():
            log.info("dashboard at %s (also /healthz, /metrics, /webhooks/…)", self.url)
        else:
            log.info("web at %s (/healthz, /metrics, /webhooks/…; dashboard off)", self.url)
        if old is not None:
            # The old app finishes its requests in the background; the new one serves.
            task = asyncio.create_task(old.cleanup())
            self._draining.add(task)
            task.add_done_callback(self._draining.discard)

    @property
    def url(self) -> str:
        """``http://host:port/`` listened on (the real port when ``web.port`` is 0)."""
        if self._address is None or not self._sockets:
            raise RuntimeError("the web listener is not listening")
        port = int(self._sockets[0].getsockname()[1])
        return http_url(self._address[0], port)

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
        """Stop listening (safe when not started), old apps still draining included."""
        runner, self._runner = self._runner, None
        self._address, self._sockets = None, []
        if runner is not None:
            await runner.cleanup()  # closes its listening sockets
        if self._draining:
            await asyncio.gather(*self._draining, return_exceptions=True)


#: The route name ``web.dashboard.mount`` gives the dashboard's static files.
_DASHBOARD = "dashboard_static"


def http_url(host: str, port: int) -> str:
    """``http://host:port/`` with an IPv6 address in brackets; all addresses as this host."""
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def _listen(host: str, port: int) -> list[socket.socket]:
    """Listening sockets for ``host:port`` (every address the host resolves to), as
    ``asyncio.start_server`` would bind them."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(128)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets
