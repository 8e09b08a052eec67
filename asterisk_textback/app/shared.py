"""What every tenant of a host shares: one PostgreSQL engine (its pool) and one HTTP session."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from asterisk_textback.app import service
from asterisk_textback.app.lifecycle import database
from asterisk_textback.store.engine import without_password
from asterisk_textback.store.tenant_scope import backend_of
from asterisk_textback.textback.loading import PreparedConfig

__all__ = ["Shared"]


class Shared:
    """The PostgreSQL engine and HTTP session every tenant shares, opened once needed.

    Closed on leaving ``async with``, also what was opened later (the first tenant file
    arriving with a reload): enter it before the tenants start, so it closes after them.
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        self._stack = contextlib.AsyncExitStack()
        self._env = env
        self.engine: AsyncEngine | None = None
        self.http: aiohttp.ClientSession | None = None

    async def open(self, main: PreparedConfig) -> None:
        """Open what is not open yet (the engine only for a PostgreSQL database)."""
        if self.http is None:
            # No cookie jar: tenants on one provider must never send each other's cookies.
            session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
            self.http = await self._stack.enter_async_context(session)
        url = main.settings.database.url
        if self.engine is None and backend_of(url) == "postgresql":
            full = service.database_url(main, self._env)
            opened = database(full, without_password(full), main.settings.database)
            self.engine = await self._stack.enter_async_context(opened)

    async def __aenter__(self) -> Shared:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()
