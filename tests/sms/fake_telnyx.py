"""A local stand-in for Telnyx's v2 API: /v2/messages, /v2/number_lookup and signed webhooks."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

API_KEY = "KEY0123456789ABCDEF_test"


def _errors(code: str, title: str, detail: str = "") -> dict[str, Any]:
    return {"errors": [{"code": code, "title": title, "detail": detail}]}


@dataclass
class Reply:
    """A scripted answer: status, JSON (or raw text) body, headers, delay."""

    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: str | None = None


# Answers as Telnyx documents them (error-codes, advanced-opt-in-out, api-errors pages).
STOP_BLOCKED = Reply(
    403,
    _errors(
        "40300",
        "Blocked due to STOP message",
        "Messages cannot be sent from '+15555550100' to '+12125551000' due to an existing "
        "block rule.",
    ),
)
INVALID_TO = Reply(400, _errors("40310", "Invalid 'to' address", "The 'to' address is invalid."))
NOT_ROUTABLE = Reply(400, _errors("40001", "Not routable", "The destination is a landline."))
INVALID_FROM = Reply(400, _errors("40305", "Invalid 'from' address", "Not on the profile."))
TOLL_FREE_UNVERIFIED = Reply(400, _errors("40329", "Toll-free number not yet verified"))
UNREGISTERED_10DLC = Reply(400, _errors("40010", "Unregistered 10DLC message"))
PROFILE_DISABLED = Reply(403, _errors("40312", "Messaging profile is disabled"))
INVALID_NUMBER = Reply(422, _errors("10002", "Invalid phone number"))
RATE_LIMITED = Reply(
    429, _errors("10011", "Too many requests", "Exceeded limit."), {"Retry-After": "2"}
)
SERVER_ERROR = Reply(500, _errors("10007", "Unexpected error"))
UNKNOWN_CODE = Reply(422, _errors("40304", "Invalid combination of message content arguments"))
MALFORMED_OK = Reply(200, raw="<html>ok</html>")


@dataclass
class FakeTelnyx:
    """Records requests; checks the Bearer key; replays success for a reused Idempotency-Key."""

    url: str = ""
    api_key: str = API_KEY
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    script: list[Reply] = field(default_factory=list)
    lookups: dict[str, str] = field(default_factory=dict)  # number -> carrier.type
    lookup_paths: list[str] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    #: messaging profile id -> its record (``GET /v2/messaging_profiles/{id}``).
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    _replays: dict[str, tuple[bytes, dict[str, Any]]] = field(default_factory=dict)

    def _unauthorised(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            body = _errors("10009", "Authentication failed", "Could not understand the key.")
            return web.json_response(body, status=401)
        return None

    async def messages(self, request: web.Request) -> web.StreamResponse:
        """``POST /v2/messages``."""
        data = await request.read()
        self.raw.append(data)
        self.headers.append(dict(request.headers))
        if (denied := self._unauthorised(request)) is not None:
            return denied
        body = json.loads(data)
        self.requests.append(body)
        key = request.headers.get("Idempotency-Key")
        if key and key in self._replays:
            first_body, answer = self._replays[key]
            if first_body != data:  # documented: same key, different body -> 422
                return web.json_response(_errors("10015", "Bad Request"), status=422)
            return web.json_response(answer)
        if not body.get("to") or not body.get("text"):
            return web.json_response(_errors("10004", "Missing required parameter"), status=422)
        reply = self.script.pop(0) if self.script else Reply()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.raw is not None:
            return web.Response(text=reply.raw, status=reply.status, headers=reply.headers)
        answer = reply.body or {
            "data": {
                "record_type": "message",
                "direction": "outbound",
                "id": str(uuid.uuid4()),
                "type": "SMS",
                "from": {
                    "phone_number": body.get("from"),
                    "carrier": "Telnyx",
                    "line_type": "VoIP",
                },
                "to": [{"phone_number": body["to"], "status": "queued", "line_type": "Wireless"}],
                "text": body["text"],
                "parts": 1,
                "encoding": "GSM-7",
            }
        }
        if key and reply.status == 200:
            self._replays[key] = (data, answer)  # only successes are replayed
        self.replies.append(answer)
        return web.json_response(answer, status=reply.status, headers=reply.headers)

    async def _scripted(self) -> web.StreamResponse | None:
        if not self.script:
            return None
        reply = self.script.pop(0)
        await asyncio.sleep(reply.delay)
        if reply.raw is not None:
            return web.Response(text=reply.raw, status=reply.status, headers=reply.headers)
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)

    async def balance(self, request: web.Request) -> web.StreamResponse:
        """``GET /v2/balance``."""
        if (denied := self._unauthorised(request)) is not None:
            return denied
        if (scripted := await self._scripted()) is not None:
            return scripted
        data = {
            "record_type": "balance",
            "pending": "10.00",
            "balance": "300.00",
            "credit_limit": "100.00",
            "available_credit": "400.00",
            "currency": "USD",
        }
        return web.json_response({"data": data})

    async def messaging_profile(self, request: web.Request) -> web.StreamResponse:
        """``GET /v2/messaging_profiles/{id}``."""
        if (denied := self._unauthorised(request)) is not None:
            return denied
        if (scripted := await self._scripted()) is not None:
            return scripted
        record = self.profiles.get(request.match_info["id"])
        if record is None:
            body = _errors("10005", "Resource not found", "The messaging profile is unknown.")
            return web.json_response(body, status=404)
        return web.json_response({"data": {"record_type": "messaging_profile", **record}})

    async def number_lookup(self, request: web.Request) -> web.StreamResponse:
        """``GET /v2/number_lookup/{number}``."""
        self.lookup_paths.append(request.path_qs)
        if (denied := self._unauthorised(request)) is not None:
            return denied
        if self.script:
            reply = self.script.pop(0)
            await asyncio.sleep(reply.delay)
            return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        number = request.match_info["number"]
        kind = self.lookups.get(number)
        if kind is None:
            return web.json_response(_errors("10002", "Invalid phone number"), status=400)
        carrier = {"name": "T-MOBILE USA, INC.", "type": kind, "error_code": None}
        data = {"phone_number": number, "country_code": "US", "carrier": carrier}
        return web.json_response({"data": {**data, "record_type": "number_lookup"}})


@asynccontextmanager
async def fake_telnyx() -> AsyncIterator[FakeTelnyx]:
    """Serve a :class:`FakeTelnyx` on an ephemeral loopback port."""
    fake = FakeTelnyx()
    app = web.Application()
    app.router.add_post("/v2/messages", fake.messages)
    app.router.add_get("/v2/number_lookup/{number}", fake.number_lookup)
    app.router.add_get("/v2/balance", fake.balance)
    app.router.add_get("/v2/messaging_profiles/{id}", fake.messaging_profile)
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


def public_key_b64(key: Ed25519PrivateKey) -> str:
    """The base64 public key as Mission Control shows it."""
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def signed_headers(key: Ed25519PrivateKey, body: bytes, timestamp: int) -> dict[str, str]:
    """Headers Telnyx sends: Ed25519 over ``f"{timestamp}|{body}"``, base64."""
    signature = key.sign(str(timestamp).encode() + b"|" + body)
    return {
        "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
        "telnyx-timestamp": str(timestamp),
    }


def message_event(
    event_type: str,
    *,
    message_id: str = "40385f64-5717-4562-b3fc-2c963f66afa6",
    status: str = "delivered",
    errors: list[dict[str, str]] | None = None,
    text: str = "Sorry we missed your call",
) -> bytes:
    """A messaging webhook body shaped like the documented examples."""
    inbound = event_type == "message.received"
    ours, theirs = "+18445550001", "+18665550001"
    payload = {
        "record_type": "message",
        "direction": "inbound" if inbound else "outbound",
        "id": message_id,
        "type": "SMS",
        "messaging_profile_id": "4000eba1-a0c0-4563-9925-b25e842a7cb6",
        "from": {"phone_number": theirs if inbound else ours, "carrier": "T-MOBILE USA, INC."},
        "to": [{"phone_number": ours if inbound else theirs, "status": status}],
        "text": text,
        "encoding": "GSM-7",
        "parts": 1,
        "errors": errors or [],
        "completed_at": "2019-12-09T21:32:14.148+00:00",
    }
    event = {
        "data": {
            "record_type": "event",
            "id": "4ee8c3a6-4995-4309-a3c6-38e3db9ea4be",
            "event_type": event_type,
            "occurred_at": "2019-12-09T21:32:14.148+00:00",
            "payload": payload,
        },
        "meta": {"attempt": 1, "delivered_to": "https://example.com/webhooks/telnyx"},
    }
    return json.dumps(event).encode()
