"""What serve() and a reload need of the web listener: the listener or a tenant's mount."""

from __future__ import annotations

import contextlib
from typing import Protocol

from aiohttp import web

__all__ = ["WebPort"]


class WebPort(Protocol):
    """Serves one web app at a time; :class:`.web_listener.WebListener` is one."""

    async def start(self, app: web.Application, host: str, port: int) -> None:
        """Serve ``app`` (instead of the one served before)."""

    @property
    def url(self) -> str:
        """Where ``app`` is served (``http://host:port/...``)."""

    def listening(
        self, app: web.Application, host: str, port: int
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """:meth:`start` for the block, then :meth:`stop`."""

    async def stop(self) -> None:
        """Stop serving (safe when not started)."""
