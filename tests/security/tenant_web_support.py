"""Two tenants, ``a`` and ``b``, behind one real host (``serve_tenants``): their files, their
own Twilio (a local fake each), their own dashboard password and API token, their seeded rows.

Each tenant has its own PBX (the in-repo AMI simulator), its own Twilio account (its auth
token is its webhook secret), its own dashboard password and Bearer token. The main config
is the install only (``tenants.main_business = false``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from yarl import URL

from asterisk_textback.bookings.webhook import GENERIC_HEADER
from asterisk_textback.calls.model import Outcome
from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.sms.vendors.twilio import basic_auth, signature
from asterisk_textback.store import contacts
from asterisk_textback.store.bookings import mark_booked
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.inbound import NewInbound, record_inbound
from asterisk_textback.store.tenant_scope import scoped_engine, tenant_url
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.web.dashboard.auth import hash_password
from tests.app.reloadsupport import templates_toml
from tests.pipeline.support import AMI_SECRET, AMI_USER
from tests.web.seed import add_call

PUBLIC = "https://tb.example"
TENANTS = ("a", "b")
#: The caller both tenants hear from (the recorded trace's caller, kept by the stream).
SHARED_CALLER = "+17135550111"


@dataclass(frozen=True)
class Secrets:
    """One tenant's credentials and numbers."""

    tenant: str
    password: str
    api_token: str
    twilio_token: str
    account_sid: str
    sender: str

    def environ(self) -> dict[str, str]:
        """The environment variables its config names."""
        up = self.tenant.upper()
        return {
            f"{up}_API_TOKEN": self.api_token,
            f"{up}_TWILIO_TOKEN": self.twilio_token,
            f"{up}_BOOKING_SECRET": self.booking_secret,
        }

    @property
    def booking_secret(self) -> str:
        """The HMAC key of its generic booking webhook."""
        return f"{self.tenant}-booking-secret"


SECRETS = {
    "a": Secrets(
        "a", "alpha pass horse", "a-api-token-0123456789abcdef", "a-twilio-token",
        "AC" + "a" * 32, "+15555550201",
    ),
    "b": Secrets(
        "b", "bravo pass staple", "b-api-token-0123456789abcdef", "b-twilio-token",
        "AC" + "b" * 32, "+15555550202",
    ),
}  # fmt: skip


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class FakeTwilio:
    """One tenant's Twilio account: checks its basic auth, keeps each text's (to, body)."""

    account_sid: str
    token: str
    url: str = ""
    sent: list[tuple[str, str]] = field(default_factory=list)
    refused: int = 0
    _runner: web.AppRunner | None = None

    async def _create(self, request: web.Request) -> web.Response:
        if (
            request.headers.get("Authorization")
            != basic_auth(self.account_sid, self.token)["Authorization"]
        ):
            self.refused += 1
            return web.json_response({"code": 20003, "message": "Authenticate"}, status=401)
        form = await request.post()
        self.sent.append((str(form.get("To", "")), str(form.get("Body", ""))))
        sid = f"SM{self.account_sid[-1]}{len(self.sent):031x}"
        return web.json_response({"sid": sid, "status": "queued"}, status=201)

    def to(self, e164: str) -> int:
        """Texts sent to ``e164``."""
        return sum(1 for to, _ in self.sent if to == e164)

    async def __aenter__(self) -> FakeTwilio:
        app = web.Application()
        app.router.add_post(f"/2010-04-01/Accounts/{self.account_sid}/Messages.json", self._create)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def write_install(
    folder: Path,
    *,
    database_url: str,
    web_port: int,
    ami_ports: Mapping[str, int],
    twilio_urls: Mapping[str, str],
    cooldown_hours: int = 0,
) -> Path:
    """``textback.toml`` (the install, no business of its own) and ``tenants.d/{a,b}.toml``."""
    main = folder / "textback.toml"
    main.write_text(
        f"""\
[pbx]
name = "pbx"
host = "127.0.0.1"
port = 9
username = "{AMI_USER}"
secret = "{AMI_SECRET}"
reconnect_min = 0.05
reconnect_max = 0.5

[business]
name = "Install Defaults"

[suppression]
cooldown_hours = {cooldown_hours}
daily_cap = 100
global_rate_per_minute = 0
per_prefix_rate_per_minute = 0
quiet_hours = false
misdial_min_seconds = 0
send_delay_seconds = 0

[consent]
auto_reply_rate_per_minute = 0

[provider]
name = "twilio"
rate_per_second = 1000
default_sender = "+15555550200"

[provider.twilio]
account_sid = "AC{"0" * 32}"
api_base_url = "http://127.0.0.1:9"
auth_token_env = "MAIN_TWILIO_TOKEN"
timeout_seconds = 5

[database]
url = "{database_url}"

[dispatch]
poll_seconds = 0.1

[web]
enabled = true
host = "127.0.0.1"
port = {web_port}

[web.webhooks]
public_base_url = "{PUBLIC}"

[web.dashboard]
cookie_secure = false

[tenants]
main_business = false
"""
    )
    tenants = folder / "tenants.d"
    tenants.mkdir(exist_ok=True)
    for tenant in TENANTS:
        s = SECRETS[tenant]
        up = tenant.upper()
        (tenants / f"{tenant}.toml").write_text(
            f"""\
[tenant]
name = "Tenant {up}"

[pbx]
port = {ami_ports[tenant]}

[business]
name = "Tenant {up} Plumbing"

[provider]
default_sender = "{s.sender}"

[provider.twilio]
account_sid = "{s.account_sid}"
api_base_url = "{twilio_urls[tenant]}"
auth_token_env = "{up}_TWILIO_TOKEN"

[web.dashboard]
password_hash = "{hash_password(s.password, n=2**10)}"
api_token_env = "{up}_API_TOKEN"

[bookings]
api_token_env = "{up}_API_TOKEN"
generic_secret_env = "{up}_BOOKING_SECRET"
"""
            + templates_toml(up)
        )
    return main


def environ() -> dict[str, str]:
    """Every variable the install's files name."""
    env = {"MAIN_TWILIO_TOKEN": "main-twilio-token"}
    for s in SECRETS.values():
        env.update(s.environ())
    return env


async def in_tenant(url: str, tenant: str) -> tuple[async_sessionmaker[AsyncSession], AsyncEngine]:
    """A session factory on ``tenant``'s storage and the engine to dispose afterwards."""
    engine = create_engine(tenant_url(url, tenant))
    return create_session_factory(scoped_engine(engine, tenant)), engine


@dataclass(frozen=True)
class Seeded:
    """What one tenant holds: call ids, names and numbers only it has."""

    calls: tuple[int, ...]
    names: tuple[str, ...]
    numbers: tuple[str, ...]
    #: A number only this tenant has texted, replied to, booked and opted out.
    only: str
    missed: int


async def seed_tenant(
    sessions: async_sessionmaker[AsyncSession], tenant: str, *, missed: int, area: str, local: int
) -> Seeded:
    """``missed`` missed calls (texted; the first replied, booked and opted out) and one
    answered call, in the last hours, from numbers in ``area`` named after ``tenant``."""
    at = datetime.now(UTC) - timedelta(hours=3)
    up = tenant.upper()
    names = tuple(f"Zed{up}caller{k}" for k in range(missed + 1))
    numbers = tuple(f"+1{area}555{local + k:04d}" for k in range(missed + 1))
    ids = []
    async with unit_of_work(sessions) as db:
        for k in range(missed):
            ids.append(
                await add_call(
                    db, k, Outcome.MISSED_NO_VOICEMAIL, numbers[k], names[k], at=at, did="5550300"
                )
            )
        ids.append(
            await add_call(
                db, 99, Outcome.ANSWERED, numbers[missed], names[missed], at=at,
                suppress="answered", did="5550300",
            )
        )  # fmt: skip
        inbound = NewInbound(
            "twilio", f"SMseed{tenant}", numbers[0], SECRETS[tenant].sender,
            f"Zed{up} wants a plumber", at + timedelta(minutes=5), InboundKind.REPLY,
        )  # fmt: skip
        await record_inbound(db, inbound, now=at + timedelta(minutes=5))
        await mark_booked(db, ids[0], value_minor=12345, currency="USD", now=at)
        await contacts.opt_out(db, numbers[0], now=at + timedelta(minutes=6), source="sms:STOP")
    return Seeded(tuple(ids), names, numbers, numbers[0], missed)


class Identity:
    """One tenant's dashboard user: a logged-in session cookie, its CSRF token, its token."""

    def __init__(self, base: str, tenant: str) -> None:
        self.base = base
        self.tenant = tenant
        self.secrets = SECRETS[tenant]
        self.cookie = ""
        self.csrf = ""

    async def log_in(self) -> None:
        """Log in through ``/t/<tenant>/login``; keep the cookies and the page's CSRF token."""
        jar = aiohttp.CookieJar(unsafe=True)
        prefix = f"{self.base}/t/{self.tenant}"
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            async with http.get(prefix + "/login") as resp:
                token = csrf_of(await resp.text())
            form = {"csrf": token, "username": "admin", "password": self.secrets.password}
            form["next"] = f"/t/{self.tenant}/"
            async with http.post(prefix + "/login", data=form, allow_redirects=False) as resp:
                assert resp.status == 303, await resp.text()
            async with http.get(prefix + "/calls") as resp:
                assert resp.status == 200
                assert str(resp.url).endswith("/calls")
                self.csrf = csrf_of(await resp.text())
            cookies = jar.filter_cookies(URL(prefix + "/"))
        self.cookie = "; ".join(f"{k}={m.value}" for k, m in cookies.items())
        assert self.cookie, "no session cookie after login"

    def page_headers(self) -> dict[str, str]:
        """What a's browser sends (its cookies), wherever the request goes."""
        return {"Cookie": self.cookie}

    def api_headers(self) -> dict[str, str]:
        """The Bearer token."""
        return {"Authorization": f"Bearer {self.secrets.api_token}"}


def csrf_of(html: str) -> str:
    """The hidden CSRF token in a page."""
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match[1]


def stop_form(tenant: str, caller: str, index: int) -> dict[str, str]:
    """What Twilio posts for an inbound ``STOP`` from ``caller`` to ``tenant``'s number."""
    sid = f"SM{tenant}{index:031x}"
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": SECRETS[tenant].account_sid,
        "From": caller,
        "To": SECRETS[tenant].sender,
        "Body": "STOP",
        "NumMedia": "0",
    }


def signed(tenant: str, url_tenant: str, path: str, form: Mapping[str, str]) -> dict[str, str]:
    """``X-Twilio-Signature`` with ``tenant``'s token over ``url_tenant``'s public URL."""
    url = f"{PUBLIC}/t/{url_tenant}{path}"
    return {"X-Twilio-Signature": signature(SECRETS[tenant].twilio_token, url, form.items())}


def booking_signed(tenant: str, body: bytes) -> dict[str, str]:
    """The generic booking webhook's signature header, with ``tenant``'s key."""
    digest = hmac.new(SECRETS[tenant].booking_secret.encode(), body, hashlib.sha256).hexdigest()
    return {GENERIC_HEADER: f"sha256={digest}", "Content-Type": "application/json"}
