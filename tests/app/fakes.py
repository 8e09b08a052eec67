"""A local HTTP endpoint standing in for an SMS gateway behind the generic webhook adapter."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    """What the fake answers: status, JSON (or raw text) body, headers, an optional delay."""

    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: str | None = None


@dataclass
class FakeGateway:
    """Records every request; answers from a script of replies (then 200s)."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    script: list[Reply] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    #: Requests being answered now, and the most there ever were at once.
    in_flight: int = 0
    max_in_flight: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        """Record the request and answer with the next scripted reply."""
        data = await request.read()
        self.raw.append(data)
        self.headers.append(dict(request.headers))
        self.requests.append(json.loads(data))
        self.arrived.set()
        reply = self.script.pop(0) if self.script else Reply()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if reply.delay:
                await asyncio.sleep(reply.delay)
        finally:
            self.in_flight -= 1
        if reply.raw is not None:
            return web.Response(text=reply.raw, status=reply.status, headers=reply.headers)
        body = reply.body if reply.body is not None else {"id": f"gw-{len(self.requests)}"}
        return web.json_response(body, status=reply.status, headers=reply.headers)


@asynccontextmanager
async def fake_gateway() -> AsyncIterator[FakeGateway]:
    """Serve a :class:`FakeGateway` on an ephemeral loopback port."""
    gateway = FakeGateway()
    app = web.Application()
    app.router.add_post("/send", gateway.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    gateway.url = f"http://127.0.0.1:{port}/send"
    try:
        yield gateway
    finally:
        await runner.cleanup()
