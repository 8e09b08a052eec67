"""A local stand-in for Vonage's ``POST /v1/messages``: checks auth, answers from a script."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

UNAUTHORIZED = {
    "type": "https://developer.vonage.com/api-errors#unauthorized",
    "title": "Invalid credentials supplied",
    "detail": "You did not provide correct credentials.",
    "instance": "797a8f199c45014ab7b08bfe9cc1c12c",
}


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
class FakeVonage:
    """Verifies the JWT (with the application's public key) or basic auth, like Vonage."""

    application_id: str = ""
    public_key: RSAPublicKey | None = None
    basic: tuple[str, str] | None = None
    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)
    script: list[Reply] = field(default_factory=list)

    def _authorised(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme == "Basic" and self.basic is not None:
            return _decode_basic(header) == self.basic
        if scheme == "Bearer" and self.public_key is not None:
            try:
                claims = jwt.decode(
                    value,
                    self.public_key,
                    algorithms=["RS256"],
                    options={"require": ["application_id", "iat", "jti", "exp"]},
                )
            except jwt.PyJWTError:
                return False
            self.claims.append(claims)
            return bool(claims["application_id"] == self.application_id)
        return False

    async def handle(self, request: web.Request) -> web.Response:
        """Check auth, record the request, answer with the next scripted reply."""
        if not self._authorised(request.headers.get("Authorization", "")):
            return web.json_response(
                UNAUTHORIZED, status=401, content_type="application/problem+json"
            )
        self.requests.append(json.loads(await request.read()))
        reply = self.script.pop(0) if self.script else Reply()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.raw is not None:
            return web.Response(text=reply.raw, status=reply.status, headers=reply.headers)
        body = reply.body
        if body is None:
            body = {"message_uuid": f"aaaaaaaa-bbbb-4ccc-8ddd-{len(self.requests):012d}"}
        ctype = "application/json" if reply.status < 400 else "application/problem+json"
        return web.json_response(
            body, status=reply.status, headers=reply.headers, content_type=ctype
        )

    async def balance(self, request: web.Request) -> web.Response:
        """``GET /account/get-balance`` (Account API, basic auth only)."""
        header = request.headers.get("Authorization", "")
        if self.basic is None or _decode_basic(header) != self.basic:
            return web.json_response(UNAUTHORIZED, status=401)
        if self.script:
            reply = self.script.pop(0)
            await asyncio.sleep(reply.delay)
            if reply.raw is not None:
                return web.Response(text=reply.raw, status=reply.status, headers=reply.headers)
            return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        return web.json_response({"value": 10.28, "autoReload": False})


@asynccontextmanager
async def fake_vonage(
    *,
    application_id: str = "",
    public_key: RSAPublicKey | None = None,
    basic: tuple[str, str] | None = None,
) -> AsyncIterator[FakeVonage]:
    """Serve a :class:`FakeVonage` on an ephemeral loopback port."""
    fake = FakeVonage(application_id, public_key, basic)
    app = web.Application()
    app.router.add_post("/v1/messages", fake.handle)
    app.router.add_get("/account/get-balance", fake.balance)
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
