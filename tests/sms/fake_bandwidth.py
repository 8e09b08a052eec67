"""A local stand-in for Bandwidth messaging v2 and its OAuth token endpoint."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


def _decode_basic(header: str) -> tuple[str, str] | None:
    """(user, password) from an ``Authorization: Basic`` header, decoded independently."""
    scheme, _, value = header.partition(" ")
    if scheme != "Basic":
        return None
    try:
        user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


@dataclass
class Reply:
    """What the fake answers: status, JSON (or raw text) body, headers, an optional delay."""

    status: int = 202
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: str | None = None


@dataclass
class FakeBandwidth:
    """Checks basic auth (API user) or a bearer token it issued (client credentials)."""

    account_id: str
    user: tuple[str, str]
    base_url: str = ""
    tokens: set[str] = field(default_factory=set)
    token_requests: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    script: list[Reply] = field(default_factory=list)
    list_queries: list[dict[str, str]] = field(default_factory=list)

    def _basic_ok(self, header: str) -> bool:
        return _decode_basic(header) == self.user

    async def token(self, request: web.Request) -> web.Response:
        """``POST /api/v1/oauth2/token`` with client id/secret as basic auth."""
        self.token_requests += 1
        form = await request.post()
        if not self._basic_ok(request.headers.get("Authorization", "")):
            return web.json_response({"error": "invalid_client"}, status=401)
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
        )

    def _denied(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        ok = self._basic_ok(header) if scheme == "Basic" else value in self.tokens
        if not ok or request.match_info["account"] != self.account_id:
            return web.json_response(
                {"type": "unauthorized", "description": "Authentication Failed"}, status=401
            )
        return None

    async def messages(self, request: web.Request) -> web.Response:
        """``POST /api/v2/users/{accountId}/messages``."""
        if (denied := self._denied(request)) is not None:
            return denied
        self.paths.append(request.path)
        self.requests.append(json.loads(await request.read()))
        reply = self.script.pop(0) if self.script else Reply()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.raw is not None:
            return web.Response(text=reply.raw, status=reply.status, headers=reply.headers)
        body = reply.body if reply.body is not None else {"id": f"bw-{len(self.requests)}"}
        return web.json_response(body, status=reply.status, headers=reply.headers)

    async def list_messages(self, request: web.Request) -> web.Response:
        """``GET /api/v2/users/{accountId}/messages`` (list, here always empty)."""
        if (denied := self._denied(request)) is not None:
            return denied
        self.list_queries.append(dict(request.query))
        if self.script:
            reply = self.script.pop(0)
            await asyncio.sleep(reply.delay)
            if reply.raw is not None:
                return web.Response(text=reply.raw, status=reply.status, headers=reply.headers)
            return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        return web.json_response({"totalCount": 0, "pageInfo": {}, "messages": []})


@asynccontextmanager
async def fake_bandwidth(account_id: str, user: tuple[str, str]) -> AsyncIterator[FakeBandwidth]:
    """Serve a :class:`FakeBandwidth` on an ephemeral loopback port."""
    fake = FakeBandwidth(account_id, user)
    app = web.Application()
    app.router.add_post("/api/v1/oauth2/token", fake.token)
    app.router.add_post("/api/v2/users/{account}/messages", fake.messages)
    app.router.add_get("/api/v2/users/{account}/messages", fake.list_messages)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.base_url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()
