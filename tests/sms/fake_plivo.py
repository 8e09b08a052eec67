"""A local stand-in for Plivo's Message API, plus a reference V3 signer for callbacks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse, urlunparse

from aiohttp import web

AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"
AUTH_TOKEN = "MjA1NmE0ZGE0ZTRhNjU0ZTk4YzQ0YTc0YjgwYzI3"


def _error(message: str) -> dict[str, str]:
    return {"api_id": str(uuid.uuid4()), "error": message}


@dataclass
class Reply:
    """A scripted answer: status, JSON (or raw text) body, headers, delay."""

    status: int = 202
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: str | None = None


# Error bodies are ``{"api_id": …, "error": …}`` (docs: messaging/api/response).
INVALID_DST = Reply(400, _error("Invalid 'dst' parameter: 12125551000"))
LANDLINE = Reply(400, _error("dst is a landline number, not SMS enabled"))
OPTED_OUT = Reply(400, _error("Destination number has opted out (STOP)"))
BAD_SRC = Reply(400, _error("src is not a valid Plivo number for this account"))
NO_CREDIT = Reply(400, _error("Insufficient credit"))
UNREGISTERED = Reply(400, _error("Number not linked to an approved 10DLC campaign"))
BAD_PARAM = Reply(400, _error("text parameter is too long"))
RATE_LIMITED = Reply(429, _error("rate_limit_exceeded"), {"Retry-After": "3"})
SERVER_ERROR = Reply(500, _error("internal server error"))
NOT_FOUND = Reply(404, _error("not found"))
MALFORMED_OK = Reply(202, raw="queued")


@dataclass
class FakePlivo:
    """Records requests; checks basic auth and the account in the path; answers a script."""

    url: str = ""
    auth_id: str = AUTH_ID
    auth_token: str = AUTH_TOKEN
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    script: list[Reply] = field(default_factory=list)

    async def message(self, request: web.Request) -> web.StreamResponse:
        """``POST /v1/Account/{auth_id}/Message/``."""
        data = await request.read()
        self.paths.append(request.path)
        self.headers.append(dict(request.headers))
        expected = base64.b64encode(f"{self.auth_id}:{self.auth_token}".encode()).decode()
        given = request.headers.get("Authorization", "")
        if given != f"Basic {expected}" or request.match_info["auth_id"] != self.auth_id:
            return web.json_response(_error("Authentication failed"), status=401)
        body = json.loads(data)
        self.requests.append(body)
        if not body.get("dst") or not body.get("text"):
            return web.json_response(_error("dst and text are required"), status=400)
        if bool(body.get("src")) == bool(body.get("powerpack_uuid")):
            return web.json_response(_error("specify either src or powerpack_uuid"), status=400)
        reply = self.script.pop(0) if self.script else Reply()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.raw is not None:
            return web.Response(text=reply.raw, status=reply.status, headers=reply.headers)
        answer = reply.body or {
            "api_id": str(uuid.uuid4()),
            "message": "message(s) queued",
            "message_uuid": [str(uuid.uuid4())],
        }
        self.replies.append(answer)
        return web.json_response(answer, status=reply.status, headers=reply.headers)

    async def account(self, request: web.Request) -> web.StreamResponse:
        """``GET /v1/Account/{auth_id}/``: the Account resource."""
        expected = base64.b64encode(f"{self.auth_id}:{self.auth_token}".encode()).decode()
        given = request.headers.get("Authorization", "")
        if given != f"Basic {expected}" or request.match_info["auth_id"] != self.auth_id:
            return web.json_response(_error("Authentication failed"), status=401)
        if self.script:
            reply = self.script.pop(0)
            await asyncio.sleep(reply.delay)
            if reply.raw is not None:
                return web.Response(text=reply.raw, status=reply.status, headers=reply.headers)
            return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        return web.json_response(
            {
                "account_type": "standard",
                "address": "340 Pine St",
                "api_id": str(uuid.uuid4()),
                "auth_id": self.auth_id,
                "auto_recharge": False,
                "billing_mode": "prepaid",
                "cash_credits": "23.45000",
                "city": "San Francisco",
                "name": "Acme Plumbing",
                "resource_uri": f"/v1/Account/{self.auth_id}/",
                "state": "California",
                "timezone": "America/Los_Angeles",
            }
        )


@asynccontextmanager
async def fake_plivo() -> AsyncIterator[FakePlivo]:
    """Serve a :class:`FakePlivo` on an ephemeral loopback port."""
    fake = FakePlivo()
    app = web.Application()
    app.router.add_post("/v1/Account/{auth_id}/Message/", fake.message)
    app.router.add_get("/v1/Account/{auth_id}/", fake.account)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()


def sdk_signature(
    method: str, uri: str, params: Mapping[str, str], nonce: str, auth_token: str
) -> str:
    """Plivo's V3 signature, transcribed step by step from plivo-python ``signature_v3.py``.

    Kept independent of the adapter's implementation on purpose: a test that signs with the
    code under test cannot catch a misreading of the algorithm.
    """
    parsed = urlparse(uri)
    base_url = urlunparse((parsed.scheme, parsed.netloc, parsed.path, "", "", ""))
    if method == "GET":  # construct_get_url(uri, params)
        merged: dict[str, Any] = dict(params)
        merged.update(parse_qs(parsed.query, keep_blank_values=True))
        query = _sorted_query_string(merged)
        if query:
            base_url += "?" + query
    else:  # construct_post_url(uri, params)
        query = _sorted_query_string(parse_qs(parsed.query, keep_blank_values=True))
        empty_post_params = len(params) == 0
        if query or not empty_post_params:
            base_url += "?" + query
        if query and not empty_post_params:
            base_url += "."
        base_url += "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode(), f"{base_url}.{nonce}".encode(), hashlib.sha256)
    return base64.encodebytes(digest.digest()).decode().strip()


def _sorted_query_string(params: Mapping[str, Any]) -> str:
    parts = []
    for key in sorted(params):
        value = params[key]
        if isinstance(value, list):
            parts.append("&".join(f"{key}={val}" for val in sorted(value)))
        else:
            parts.append(f"{key}={value}")
    return "&".join(parts)


def status_callback(
    message_uuid: str, status: str, error_code: str = "", **extra: str
) -> dict[str, str]:
    """A message status callback's form fields, as documented."""
    return {
        "MessageUUID": message_uuid,
        "From": "14155550100",
        "To": "12125551000",
        "Type": "sms",
        "Status": status,
        "ErrorCode": error_code,
        "Units": "1",
        "TotalRate": "0.0050",
        "TotalAmount": "0.0050",
        "MCC": "310",
        "MNC": "260",
        "Sequence": "2",
        "MessageTime": "2024-01-05 18:22:31.123456",
        "QueuedTime": "2024-01-05 18:22:31.234567",
        "SentTime": "2024-01-05 18:22:32.345678",
        **extra,
    }


def inbound(
    text: str, message_uuid: str = "2d55e4b6-a3bb-11ee-a7a4-0242ac110002"
) -> dict[str, str]:
    """An incoming message's form fields, as documented."""
    return {
        "From": "12125551000",
        "To": "14155550100",
        "Text": text,
        "Type": "sms",
        "MessageUUID": message_uuid,
        "Units": "1",
        "TotalRate": "0",
        "TotalAmount": "0",
        "MessageIntent": "optout" if text.strip().upper() == "STOP" else "",
    }
