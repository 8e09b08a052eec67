"""Helpers of the durability tests: a fake Twilio, signed STOPs, the service as a child.

Everything stays on 127.0.0.1: the Twilio Messages API is a local aiohttp fake, the PBX is
the in-repo :class:`~asterisk_textback.ami.sim.server.AmiServer`, the database a SQLite file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from asterisk_textback.sms.vendors.twilio import basic_auth, signature
from tests.pipeline.prefork import ForkedService

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "durability-twilio-auth-token"
ACCOUNT_SID = "AC" + "d" * 32
SENDER = "+15555550100"
PUBLIC_BASE_URL = "https://textback.example"
AMI_USER = "textback"
AMI_SECRET = "durability-secret"
#: Area codes for made-up numbers; each gets the 555-0100..555-0199 block kept for fiction.
_AREAS = ("212", "415", "617", "312", "713", "206", "305", "404", "503", "720")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fresh_number(index: int) -> str:
    """The made-up E.164 number of STOP sender ``index`` (distinct for 1,000 senders)."""
    area, rest = divmod(index, 100)
    return f"+1{_AREAS[area]}5550{100 + rest}"


def inbound_form(number: str, body: str, index: int) -> dict[str, str]:
    """The form fields Twilio posts for an inbound text (its documented parameter set)."""
    sid = f"SM{index:032x}"
    return {
        "ToCountry": "US",
        "ToState": "NY",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": body,
        "FromCountry": "US",
        "To": SENDER,
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": number,
        "ApiVersion": "2010-04-01",
    }


async def post_signed(
    http: aiohttp.ClientSession,
    port: int,
    form: dict[str, str],
    *,
    key: str = TOKEN,
    on_status: Callable[[int], None] | None = None,
) -> int:
    """POST ``form`` to the service's Twilio webhook, signed as Twilio would; the status.

    ``on_status`` runs as soon as the status line is in, before the body is read.
    """
    path = "/webhooks/twilio"
    sig = signature(key, PUBLIC_BASE_URL + path, form.items())
    async with http.post(
        f"http://127.0.0.1:{port}{path}", data=form, headers={"X-Twilio-Signature": sig}
    ) as resp:
        if on_status is not None:
            on_status(resp.status)
        await resp.read()
        return resp.status


@dataclass(slots=True)
class Sent:
    """One create-message request the fake Twilio accepted."""

    to: str
    body: str
    at: float


@dataclass
class FakeTwilio:
    """The Messages API on 127.0.0.1: checks basic auth, records each text, answers 201."""

    url: str = ""
    sent: list[Sent] = field(default_factory=list)
    refused: int = 0
    _runner: web.AppRunner | None = None

    async def _create(self, request: web.Request) -> web.Response:
        expected = basic_auth(ACCOUNT_SID, TOKEN)["Authorization"]
        if request.headers.get("Authorization") != expected:
            self.refused += 1
            return web.json_response(
                {"code": 20003, "message": "Authenticate", "status": 401}, status=401
            )
        form = await request.post()
        self.sent.append(Sent(str(form.get("To", "")), str(form.get("Body", "")), time.time()))
        sid = f"SM{len(self.sent):032x}"
        return web.json_response(
            {"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From")},
            status=201,
        )

    def per_number(self) -> Counter[str]:
        """Texts received per destination number."""
        return Counter(s.to for s in self.sent)

    async def __aenter__(self) -> FakeTwilio:
        app = web.Application()
        app.router.add_post(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", self._create)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def write_config(
    path: Path, *, ami_port: int, web_port: int, twilio_url: str, database_url: str
) -> Path:
    """A ``textback.toml``: the local PBX, Twilio at ``twilio_url``, web on ``web_port``."""
    path.write_text(
        f"""\
[pbx]
name = "pbx-durability"
host = "127.0.0.1"
port = {ami_port}
username = "{AMI_USER}"
secret = "{AMI_SECRET}"
reconnect_min = 0.05
reconnect_max = 0.5

[business]
name = "Acme Plumbing"

[suppression]
quiet_hours = false

[consent]
# Up to 50 real STOPs a round here: the auto-reply budget must not hold confirmations back.
auto_reply_rate_per_minute = 0

[provider]
name = "twilio"
default_sender = "{SENDER}"
rate_per_second = 1000

[provider.twilio]
account_sid = "{ACCOUNT_SID}"
api_base_url = "{twilio_url}"
timeout_seconds = 5

[database]
url = "{database_url}"

[dispatch]
poll_seconds = 0.2

[web]
enabled = true
host = "127.0.0.1"
port = {web_port}

[web.webhooks]
public_base_url = "{PUBLIC_BASE_URL}"
"""
    )
    return path


def read_tail(path: Path, chars: int = 3000) -> str:
    """The end of a log file, for failure messages ("" when there is none)."""
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def child_env() -> dict[str, str]:
    """The environment of the service child: ours plus the Twilio auth token."""
    return {**os.environ, "TWILIO_AUTH_TOKEN": TOKEN}


class Service:
    """The ``run -c CONFIG`` command as a forked child process, logging to a file."""

    def __init__(self, config: Path, log_path: Path) -> None:
        self.config = config
        self.log_path = log_path
        self.proc: ForkedService | None = None
        self._killed = False
        self.starts = 0

    async def start(self) -> None:
        """Start the service (the log file is appended to across restarts).

        Forked from a pre-imported interpreter (:mod:`tests.pipeline.prefork`): the same
        ``run`` command, about 1 s sooner ready per restart.
        """
        argv = ["run", "-c", str(self.config)]
        self.proc = await ForkedService.start(argv, self.log_path, environ=child_env(), cwd=ROOT)
        self._killed = False
        self.starts += 1

    @property
    def alive(self) -> bool:
        """Whether the child is running."""
        return self.proc is not None and self.proc.returncode is None

    def kill_now(self) -> None:
        """SIGKILL the child at once, once per life (no waiting: :meth:`reap` afterwards)."""
        # Only once: a second Popen.send_signal() polls, and may reap the dead child under
        # asyncio's watcher thread (which then reports exit code 255).
        if self.proc is not None and not self._killed:
            self._killed = True
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    async def reap(self, seconds: float = 30.0) -> int:
        """Wait (at most ``seconds``) for the child to exit; its return code."""
        assert self.proc is not None
        async with asyncio.timeout(seconds):
            code = await self.proc.wait()
        return code

    async def terminate(self) -> int:
        """SIGTERM (graceful stop) and wait; the return code."""
        assert self.proc is not None
        self._killed = True  # no SIGKILL after this signal (see kill_now)
        with contextlib.suppress(ProcessLookupError):
            self.proc.terminate()
        return await self.reap()

    async def ensure_stopped(self) -> None:
        """Kill the child if it still runs (test clean-up)."""
        if self.proc is not None and self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        if self.proc is not None:
            await self.proc.wait()

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the service's log, for failure messages."""
        return read_tail(self.log_path, chars)


async def wait_healthy(
    http: aiohttp.ClientSession, port: int, service: Service, *, seconds: float = 30.0
) -> None:
    """Poll ``GET /healthz`` until it answers 200; fail with the log if the child died."""
    async with asyncio.timeout(seconds):
        while True:
            if not service.alive:
                raise AssertionError(f"service exited before it was ready:\n{service.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    await resp.read()
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.01)


def query(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one read-only query on the SQLite file."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return list(connection.execute(sql, params).fetchall())
    finally:
        connection.close()
