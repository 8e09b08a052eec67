"""Every route the service serves, mounted as ``run`` mounts them, and hostile requests for each.

Shared by ``test_route_fuzz.py`` and ``bench/webhook_fuzz.py --routes``: the real webhook app
(with every vendor's real adapter), ``/healthz``, ``/metrics``, the booking routes with their
secrets set, and the dashboard and ``/api/v1`` with a password and an API token, over a
seeded SQLite database. :func:`shots` yields requests that put a hostile value in each path
parameter, query parameter, credential header and body the routes read.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import aiohttp
from aiohttp import web

from asterisk_textback.bookings.settings import BookingWebhookSettings
from asterisk_textback.bookings.webhook import BookingSecrets, BookingService, add_booking_routes
from asterisk_textback.inbound.inbox import Inbox
from asterisk_textback.inbound.settings import ConsentSettings
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.schema import upgrade
from asterisk_textback.web.dashboard.app import DashboardDeps
from asterisk_textback.web.dashboard.auth import hash_password
from asterisk_textback.web.dashboard.mount import add_dashboard
from asterisk_textback.web.dashboard.settings import DashboardSettings
from asterisk_textback.web.health import add_health_route
from asterisk_textback.web.metrics import Histogram, MetricsSource, add_metrics_route
from asterisk_textback.web.settings import WebhookServerSettings
from asterisk_textback.web.webhooks import webhook_app
from tests.sms.contract.kits import all_kits
from tests.web.seed import seed

PUBLIC = "https://sms.example.com/textback"
PASSWORD = "correct horse battery"
API_TOKEN = "fuzz-api-token-0123456789"
BOOKING_TOKEN = "fuzz-booking-token-0123456789"

#: Values that broke, or could break, a parser: overflow, encodings, controls, huge, empty.
HOSTILE = [
    "",
    " ",
    "0",
    "-1",
    "1",
    "9" * 19,
    str(2**63),
    str(2**64),
    "1e309",
    "nan",
    "inf",
    "-0",
    "²",
    "١٢",
    "é",
    "\u202e",
    "\x00",
    "\r\n",
    "%00",
    "%ff",
    "\ud7ff",
    "🙂",
    "'; DROP TABLE calls; --",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "../../etc/passwd",
    "9999-12-31",
    "0001-01-01",
    "1900-01-01..2100-01-01",
    "0001-01-01..9999-12-31",
    "9999-12-31..9999-12-31",
    "2026-13",
    "0000-01",
    "9999-12",
    "99999d",
    "9999d",
    "0d",
    "today..",
    "..",
    "a" * 5000,
    "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHw5MjIzMzcyMDM2ODU0Nzc1ODA4",  # "...|2**63"
    "MDAwMS0wMS0wMVQwMDowMDowMCsyMzo1OXwx",  # year 1 at +23:59
    "OTk5OS0xMi0zMVQyMzo1OTo1OS0yMzo1OXwx",  # year 9999 at -23:59
]
QUERY_NAMES = [
    "period",
    "did",
    "from",
    "to",
    "q",
    "cursor",
    "limit",
    "status",
    "outcome",
    "decision",
    "close_rate",
    "aov",
    "missed",
    "next",
]
AUTH_HEADERS = [
    "Bearer é",
    "Bearer 🙂",
    "Bearer " + "x" * 10_000,
    "bearer",
    "Basic Zm9vOmJhcg==",
    "Basic é",
    "Bearer \x7f",
]
SIGNATURE_HEADERS = [
    "X-Textback-Signature",
    "X-Cal-Signature-256",
    "Calendly-Webhook-Signature",
    "X-Twilio-Signature",
    "Telnyx-Signature-Ed25519",
    "Telnyx-Timestamp",
    "X-Plivo-Signature-V3",
    "X-Plivo-Signature-V3-Nonce",
]
SIGNATURE_VALUES = [
    "é",
    "sha256=é" + "0" * 60,
    "t=é,v1=é",
    f"t={10**400},v1=00",
    f"t={time.time():.0f},v1=ü",
    "t=-1e309,v1=",
    "\u2028",
    "A" * 5000,
]


@dataclass(frozen=True, slots=True)
class Shot:
    """One request: what it targets (the route's pattern) and what it sends."""

    route: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass
class Surface:
    """The app under test and how to get through its front doors."""

    app: web.Application
    routes: list[tuple[str, str]]


async def _depth() -> dict[str, int]:
    return {"queued": 0}


@contextlib.asynccontextmanager
async def full_app(workdir: Path) -> AsyncIterator[Surface]:
    """Every route of ``run``'s web app over a seeded SQLite database in ``workdir``."""
    url = f"sqlite+aiosqlite:///{workdir / 'surface.db'}"
    await upgrade(url)
    engine = create_engine(url)
    try:
        sessions = create_session_factory(engine)
        await seed(sessions)
        kits = all_kits()
        inbox = Inbox(sessions, ConsentSettings(contact="+1 555 0100"), business_name="Acme")
        settings = WebhookServerSettings(public_base_url=PUBLIC)
        app = webhook_app({k.name: k.adapter for k in kits}, inbox, settings, sweep_seconds=None)
        add_health_route(app, lambda: (True, {"ami": {"state": "ready"}}))
        add_metrics_route(
            app,
            MetricsSource(
                calls_by_outcome=lambda: {"missed_voicemail": 1},
                texts_sent=lambda: Counter(sent=1),
                send_latency=Histogram(),
                ami_states=lambda: {"pbx": "ready"},
                outbox_depth=_depth,
            ),
        )
        secrets = BookingSecrets(
            generic=b"generic-key",
            calcom=b"calcom-key",
            calendly=b"calendly-key",
            api_token=BOOKING_TOKEN,
            tracking="tracking-key",
        )
        add_booking_routes(app, BookingService(sessions, BookingWebhookSettings(), secrets))
        board = DashboardSettings(
            password_hash=hash_password(PASSWORD, n=2**10),
            cookie_secure=False,
            login_attempts=1000,
            login_account_attempts=10_000,
        )
        add_dashboard(app, DashboardDeps(settings=board, sessions=sessions, api_token=API_TOKEN))
        routes = sorted(
            {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource}
        )
        yield Surface(app, routes)
    finally:
        await engine.dispose()


def _fill(pattern: str, value: str) -> str:
    """``pattern`` with every ``{name}`` / ``{name:regex}`` replaced by ``value``."""
    return re.sub(r"\{[^{}]+(\{[^{}]*\}[^{}]*)*\}", value, pattern)


_PATH_VALUES = [
    "1",
    "0",
    "999999999999999999",
    "+999999999999999",
    "nope",
    "é",
    "%2e%2e",
    "twilio",
    "calcom",
    "calendly",
    "webhook",
    "status",
    "inbound",
]


def _bodies(rng: random.Random) -> list[bytes]:
    value = rng.choice(HOSTILE)
    return [
        b"",
        rng.randbytes(rng.randint(1, 512)),
        json.dumps({"call_id": 2**63, "value": "1e309", "currency": "é"}).encode(),
        json.dumps({"call_id": 1, "value": value, "currency": value}).encode(),
        json.dumps({"call_id": -1, "value": -5}).encode(),
        json.dumps({"id": value, "phone": value, "value": value, "start": value}).encode(),
        json.dumps([value]).encode(),
        f"csrf=x&username={value}&password={value}&next={value}".encode(),
        ("x=" + "a" * 70_000).encode(),
        b'{"payload": {"attendees": [{"phoneNumber": "\\ud800"}]}}',
    ]


def shots(routes: list[tuple[str, str]], rng: random.Random, per_route: int) -> Iterator[Shot]:
    """``per_route`` hostile requests for each (method, pattern) route, in a stable order."""
    for (method, pattern), n in itertools.product(routes, range(per_route)):
        if method == "HEAD":
            continue
        path = _fill(pattern, rng.choice(_PATH_VALUES)) if "{" in pattern else pattern
        if pattern.startswith("/static"):
            path = "/static/" + rng.choice(["app.css", "../../etc/passwd", "%2e%2e/x", "é"])
        query = "&".join(
            f"{name}={_quote(rng.choice(HOSTILE))}"
            for name in rng.sample(QUERY_NAMES, rng.randint(1, 4))
        )
        headers: dict[str, str] = {}
        roll = n % 4
        if roll == 0:
            headers["Authorization"] = rng.choice(AUTH_HEADERS)
        elif roll == 1:
            headers[rng.choice(SIGNATURE_HEADERS)] = rng.choice(SIGNATURE_VALUES)
        elif roll == 2:
            headers["Authorization"] = f"Bearer {API_TOKEN}"
        else:
            headers["Authorization"] = f"Bearer {BOOKING_TOKEN}"
        if rng.random() < 0.3:
            headers["X-Forwarded-For"] = rng.choice(["é", "1.2.3.4, garbage", "::::", "a" * 300])
        body = rng.choice(_bodies(rng)) if method == "POST" else None
        if body is not None:
            headers["Content-Type"] = rng.choice(
                ["application/json", "application/x-www-form-urlencoded", "text/plain"]
            )
        yield Shot(pattern, method, f"{path}?{query}", headers, body)


def _quote(value: str) -> str:
    return quote(value, safe="", errors="surrogatepass")


async def log_in(http: aiohttp.ClientSession, base: str) -> None:
    """Log ``http`` (an ``aiohttp.ClientSession``) in to the dashboard at ``base``."""

    async with http.get(base + "/login") as form:
        token = re.search(r'name="csrf" value="([^"]+)"', await form.text())
    assert token is not None
    data = {"csrf": token[1], "username": "admin", "password": PASSWORD}
    async with http.post(base + "/login", data=data, allow_redirects=False) as response:
        assert response.status == 303, response.status
