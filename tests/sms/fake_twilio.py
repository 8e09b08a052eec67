"""A local Twilio (and SignalWire LaML) REST API: Messages.json and Lookup v2, with basic auth.

Behaves like Twilio with test credentials (https://www.twilio.com/docs/iam/test-credentials):
the documented magic numbers answer with their documented error codes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# Magic numbers of Twilio's test credentials -> the API error they produce.
MAGIC_TO = {
    "+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550002": (21612, "The 'To' phone number is not currently reachable via SMS."),
    "+15005550003": (21408, "Permission to send an SMS has not been enabled for the region."),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}
MAGIC_FROM = {
    "+15005550001": (21212, "The 'From' number +15005550001 is not a valid phone number."),
    "+15005550007": (21606, "The 'From' phone number provided is not a valid message-capable"),
    "+15005550008": (21611, "This 'From' number has exceeded the maximum number of queued"),
}


def error_body(code: int, message: str, status: int) -> dict[str, Any]:
    """Twilio's error JSON."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@dataclass
class Reply:
    """A scripted answer: status, JSON (or raw text) body, headers, delay before answering."""

    status: int = 201
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    text: str | None = None


@dataclass
class FakeTwilio:
    """Records every create-message request; answers like Twilio."""

    username: str
    password: str
    url: str = ""
    forms: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    script: list[Reply] = field(default_factory=list)
    #: E.164 -> Lookup v2 response body (missing numbers answer ``valid: false``).
    lookups: dict[str, dict[str, Any]] = field(default_factory=dict)
    lookup_queries: list[dict[str, str]] = field(default_factory=list)
    #: The Account resource's ``friendly_name`` and ``status`` (active, suspended, closed).
    friendly_name: str = "Acme Plumbing"
    account_status: str = "active"

    def _authorised(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(token).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (user, password) == (self.username, self.password)

    def _unauthorised(self) -> web.Response:
        return web.json_response(error_body(20003, "Authenticate", 401), status=401)

    async def messages(self, request: web.Request) -> web.Response:
        """``POST …/Accounts/{AccountSid}/Messages.json``."""
        if not self._authorised(request):
            return self._unauthorised()
        if request.match_info["sid"] != self.username:
            return web.json_response(
                error_body(20404, "The requested resource was not found", 404), status=404
            )
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.forms.append(form)
        self.paths.append(request.path)
        if self.script:
            reply = self.script.pop(0)
            if reply.delay:
                await asyncio.sleep(reply.delay)
            if reply.text is not None:
                return web.Response(status=reply.status, text=reply.text, headers=reply.headers)
            if reply.body is not None:
                return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        if "To" not in form:
            return web.json_response(
                error_body(21604, "A 'To' phone number is required.", 400), status=400
            )
        if "From" not in form and "MessagingServiceSid" not in form:
            return web.json_response(
                error_body(21603, "A 'From' or 'MessagingServiceSid' is required", 400),
                status=400,
            )
        for table, key in ((MAGIC_FROM, "From"), (MAGIC_TO, "To")):
            if form.get(key) in table:
                code, message = table[form[key]]
                return web.json_response(error_body(code, message, 400), status=400)
        sid = f"SM{len(self.forms):032x}"
        return web.json_response(self.message(sid, form), status=201)

    def message(self, sid: str, form: dict[str, str]) -> dict[str, Any]:
        """The Message resource Twilio returns for a created text."""
        return {
            "account_sid": self.username,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_segments": "1",
            "sid": sid,
            "status": "accepted" if "MessagingServiceSid" in form else "queued",
            "to": form["To"],
            "uri": f"/2010-04-01/Accounts/{self.username}/Messages/{sid}.json",
        }

    async def account(self, request: web.Request) -> web.Response:
        """``GET …/Accounts/{AccountSid}.json``: the Account resource."""
        if not self._authorised(request):
            return self._unauthorised()
        if request.match_info["sid"] != self.username:
            return web.json_response(
                error_body(20404, "The requested resource was not found", 404), status=404
            )
        if self.script:
            reply = self.script.pop(0)
            await asyncio.sleep(reply.delay)
            if reply.text is not None:
                return web.Response(status=reply.status, text=reply.text, headers=reply.headers)
            return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        sid = self.username
        return web.json_response(
            {
                "sid": sid,
                "friendly_name": self.friendly_name,
                "status": self.account_status,
                "type": "Full",
                "owner_account_sid": sid,
                "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
                "uri": f"/2010-04-01/Accounts/{sid}.json",
            }
        )

    async def lookup(self, request: web.Request) -> web.Response:
        """``GET /v2/PhoneNumbers/{PhoneNumber}``."""
        if not self._authorised(request):
            return self._unauthorised()
        self.lookup_queries.append(dict(request.query))
        number = request.match_info["number"]
        if self.script:
            reply = self.script.pop(0)
            if reply.delay:
                await asyncio.sleep(reply.delay)
            return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        body = self.lookups.get(number, {"phone_number": number, "valid": False})
        return web.json_response({"phone_number": number, "valid": True, **body})


@asynccontextmanager
async def fake_twilio(username: str, password: str, prefix: str = "") -> AsyncIterator[FakeTwilio]:
    """Serve a :class:`FakeTwilio` on a loopback port; ``prefix`` is e.g. ``/api/laml``."""
    fake = FakeTwilio(username, password)
    app = web.Application()
    app.router.add_post(f"{prefix}/2010-04-01/Accounts/{{sid}}/Messages.json", fake.messages)
    app.router.add_get(f"{prefix}/2010-04-01/Accounts/{{sid}}.json", fake.account)
    app.router.add_get("/v2/PhoneNumbers/{number}", fake.lookup)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}{prefix}"
    try:
        yield fake
    finally:
        await runner.cleanup()
