"""Tenant isolation through the web, proven on a real host (``serve_tenants``) on SQLite and
PostgreSQL: tenants ``a`` and ``b`` (``tenants.d`` files, each its own PBX simulator, Twilio
account and webhook secret, dashboard password and API token), seeded through the store.

* Every route of a tenant's web app, read from its router (a route added later is covered;
  a path parameter this test cannot fill fails it), driven with a's credentials (session
  cookie and CSRF token for pages and forms, Bearer token for ``/api/v1``) against b's ids
  under a's prefix ``/t/a/…``: 404 each time. Routes without ids show none of b's callers,
  and a's own (where b's show b's), so the check can fail.
* a's credentials under b's prefix ``/t/b/…``: pages send to b's login, the API answers
  401, a webhook signed with a's secret is refused; nothing shows b's callers.

Ids: on PostgreSQL every tenant schema draws its ids from one shared sequence, so b's ids
are never valid in a (asserted). On SQLite (a file per tenant) ids coincide: the test uses
only b's call ids that do not exist in a (b has more calls than a).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.web_urldispatcher import AbstractResource, StaticResource
from sqlalchemy import select

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import clone, frame_timestamp, interleave, read_trace
from asterisk_textback.app.host import Host
from asterisk_textback.policy.decision import SuppressReason
from asterisk_textback.store import contacts
from asterisk_textback.store.models import Call
from asterisk_textback.store.tenant_ids import SHARED_START
from asterisk_textback.store.uow import reading
from tests.app.hostsupport import host_run, migrate, until
from tests.dbfixtures import empty_url  # noqa: F401 - a fixture, found by name
from tests.pipeline.support import AMI_SECRET, AMI_USER, TRACES
from tests.security.tenant_web_support import (
    SECRETS,
    SHARED_CALLER,
    TENANTS,
    FakeTwilio,
    Identity,
    Seeded,
    booking_signed,
    environ,
    free_port,
    in_tenant,
    seed_tenant,
    signed,
    stop_form,
    write_install,
)

#: Routes that answer without a login by design (a webhook checks its sender's signature);
#: every other route must refuse a request without credentials.
PUBLIC = {
    "/login",
    "/healthz",
    "/metrics",
    "/api/v1/openapi.json",
    "/webhooks/{provider}",
    "/webhooks/{provider}/{kind}",
    "/bookings/{source}",
    "/static/",
}


@pytest.fixture
def fresh_url(empty_url: str) -> str:  # noqa: F811 - the fixture imported above
    """An empty database of each backend; the test migrates a and b."""
    return empty_url


@dataclass
class Install:
    """The running pieces the test drives."""

    base: str
    host: Host
    pbx: dict[str, AmiServer]
    twilio: dict[str, FakeTwilio]


async def _serve(
    url: str,
    tmp_path: Path,
    drive: Callable[[Install], Awaitable[None]],
    *,
    cooldown_hours: int = 0,
) -> None:
    """Tenants a and b on one real host until ``drive`` returns."""
    await migrate(url, list(TENANTS))
    port = free_port()
    async with (
        AmiServer({AMI_USER: AMI_SECRET}) as pbx_a,
        AmiServer({AMI_USER: AMI_SECRET}) as pbx_b,
        FakeTwilio(SECRETS["a"].account_sid, SECRETS["a"].twilio_token) as tw_a,
        FakeTwilio(SECRETS["b"].account_sid, SECRETS["b"].twilio_token) as tw_b,
    ):
        main = write_install(
            tmp_path,
            database_url=url,
            web_port=port,
            ami_ports={"a": pbx_a.port, "b": pbx_b.port},
            twilio_urls={"a": tw_a.url, "b": tw_b.url},
            cooldown_hours=cooldown_hours,
        )

        async def ready(host: Host) -> None:
            assert [v.id for v in host.views()] == ["a", "b"], host.refused()
            for view in host.views():
                await view.parts.connection.wait_ready()
            pbx = {"a": pbx_a, "b": pbx_b}
            await drive(Install(f"http://127.0.0.1:{port}", host, pbx, {"a": tw_a, "b": tw_b}))

        await host_run(main, ready, environ=environ())


async def _seed(url: str) -> dict[str, Seeded]:
    await migrate(url, list(TENANTS))
    seeded = {}
    for tenant, missed, area, local in (("a", 3, "212", 100), ("b", 5, "312", 200)):
        sessions, engine = await in_tenant(url, tenant)
        try:
            seeded[tenant] = await seed_tenant(
                sessions, tenant, missed=missed, area=area, local=local
            )
        finally:
            await engine.dispose()
    return seeded


# --- the routes, from the router --------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One registered (method, resource) of a tenant's app."""

    method: str
    pattern: str
    resource: AbstractResource

    @property
    def params(self) -> list[str]:
        """The path parameters' names."""
        return re.findall(r"{(\w+)", self.pattern)

    @property
    def api(self) -> bool:
        """A JSON API route (Bearer token) rather than a page (session cookie)."""
        return self.pattern.startswith("/api/")


def routes_of(app: web.Application) -> list[Route]:
    """Every route of ``app`` (static directories as one GET of their prefix)."""
    found = []
    for resource in app.router.resources():
        if isinstance(resource, StaticResource):
            found.append(Route("GET", resource.get_info()["prefix"] + "/", resource))
            continue
        info = resource.get_info()
        pattern = str(info.get("formatter") or info.get("path"))
        found.extend(Route(route.method, pattern, resource) for route in resource)
    return sorted(found, key=lambda r: (r.pattern == "/logout", r.pattern, r.method))


def filled(route: Route, values: dict[str, str]) -> str:
    """``route``'s path with its parameters from ``values`` (fails on one it lacks)."""
    if isinstance(route.resource, StaticResource):
        directory = Path(route.resource.get_info()["directory"])
        first = sorted(p.name for p in directory.iterdir() if p.is_file())[0]
        return str(route.resource.url_for(filename=first))
    missing = [p for p in route.params if p not in values]
    assert not missing, f"{route.method} {route.pattern}: no value for {missing}: teach the test"
    return str(route.resource.url_for(**{p: values[p] for p in route.params}))


def id_values(b: Seeded, a: Seeded, backend: str) -> list[dict[str, str]]:
    """Sets of path values that name rows only b has (see the module docstring)."""
    call_ids = [i for i in b.calls if i not in a.calls]
    if backend == "postgresql":
        assert call_ids == list(b.calls), "an id of b is an id of a"
        assert min(a.calls + b.calls) >= SHARED_START
    assert call_ids, "b must have calls whose ids a lacks"
    numbers = [n for n in b.numbers if n not in a.numbers]
    assert b.only in numbers
    rows = max(len(call_ids), len(numbers))
    return [
        {
            "call_id": str(call_ids[k % len(call_ids)]),
            "e164": numbers[k % len(numbers)],
            "provider": "twilio",
            "kind": ("status", "inbound")[k % 2],
            "source": "webhook",
        }
        for k in range(rows)
    ]


def markers(seeded: Seeded, backend: str) -> set[str]:
    """Strings that, in a response, show one of this tenant's callers."""
    found = set(seeded.names)
    for number in seeded.numbers:
        found |= {number, number[1:], f"{number[-7:-4]}-{number[-4:]}"}
    if backend == "postgresql":  # on SQLite small ids are anywhere (a year, a count)
        found |= {str(i) for i in seeded.calls}
    return found


# --- one request -------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """Status, Location and body of one response."""

    status: int
    location: str
    body: str


async def _send(
    http: aiohttp.ClientSession,
    base: str,
    route: Route,
    path: str,
    who: Identity,
    call_id: str = "",
) -> Answer:
    headers = who.api_headers() if route.api else who.page_headers()
    kwargs: dict[str, Any] = {"headers": headers, "allow_redirects": False}
    if route.method == "POST":
        if route.api:
            # Ids travel in the body too (POST /api/v1/bookings takes a call_id).
            kwargs["json"] = {"body": "Hello from the isolation test", "value": "42.00"}
            kwargs["json"]["call_id"] = int(call_id) if call_id else None
            headers["Idempotency-Key"] = f"iso-{time.monotonic_ns()}"
        else:
            kwargs["data"] = {
                "csrf": who.csrf,
                "body": "Hello from the isolation test",
                "value": "42.00",
                "currency": "USD",
            }
    try:
        async with http.request(route.method, base + path, **kwargs) as resp:
            body = await resp.read()
            text = body.decode("utf-8", "replace")
            return Answer(resp.status, resp.headers.get("Location", ""), text)
    except aiohttp.ClientError as exc:
        raise AssertionError(f"{route.method} {base}{path}: {exc!r}") from None


def _leaks(answer: Answer, secret: set[str], asked: dict[str, str] | None = None) -> set[str]:
    """The markers of ``secret`` in ``answer``, but those the request itself named (a 404
    may echo the number asked for)."""
    echoed: set[str] = set()
    for key in ("e164", "call_id"):
        value = (asked or {}).get(key, "")
        echoed |= {value, value.lstrip("+"), f"{value[-7:-4]}-{value[-4:]}"}
    return {m for m in secret - echoed if m in answer.body or m in answer.location}


# --- the tests ---------------------------------------------------------------------------


async def test_a_credentials_never_reach_b(backend: str, fresh_url: str, tmp_path: Path) -> None:
    seeded = await _seed(fresh_url)
    a, b = seeded["a"], seeded["b"]
    secret_b, own_a = markers(b, backend), markers(a, backend)
    report: dict[str, Any] = {}

    async def drive(install: Install) -> None:
        base = install.base
        app = install.host._mounts.mounted("a")
        assert app is not None
        routes = routes_of(app)
        ids = id_values(b, a, backend)
        who = {t: Identity(base, t) for t in TENANTS}
        for identity in who.values():
            await identity.log_in()
        nobody = Identity(base, "a")  # no cookie, no token... and a token no one has
        nobody.secrets = type(nobody.secrets)(**{**vars(nobody.secrets), "api_token": "x" * 28})
        checked: list[str] = []
        shown: set[str] = set()
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            for route in routes:
                name = f"{route.method} {route.pattern}"
                checked.append(name)
                # Guarded or public? Ask without credentials.
                path = filled(route, ids[0])
                bare = await _send(http, base + "/t/a", route, path, nobody)
                guarded = route.pattern not in PUBLIC
                if guarded:
                    refused = 401 if route.api else 303
                    assert bare.status == refused, f"{name} answers without a login: {bare}"
                    assert route.api or bare.location.startswith("/t/a/login"), bare
                # a's credentials under b's prefix, b's ids valid there: refused, nothing of b.
                for values in ids:
                    path = filled(route, values)
                    at_b = await _send(
                        http, base + "/t/b", route, path, who["a"], values["call_id"]
                    )
                    assert not _leaks(at_b, secret_b, values), f"{name} at /t/b shows b to a"
                    if guarded and route.api:
                        assert at_b.status == 401, f"{name} at /t/b: {at_b.status}"
                    elif guarded:
                        assert at_b.status == 303, f"{name} at /t/b: {at_b.status}"
                        assert at_b.location.startswith("/t/b/login"), at_b.location
                if guarded and (route.params or (route.api and route.method == "POST")):
                    # a's credentials, a's prefix, b's ids: not found, every one of them.
                    for values in ids:
                        path = filled(route, values)
                        at_a = await _send(
                            http, base + "/t/a", route, path, who["a"], values["call_id"]
                        )
                        assert at_a.status == 404, f"{name} {path} at /t/a: {at_a}"
                        assert not _leaks(at_a, secret_b, values), f"{name} {path} shows b"
                elif guarded and route.method in ("GET", "HEAD"):
                    path = filled(route, {})
                    at_a = await _send(http, base + "/t/a", route, path, who["a"])
                    assert at_a.status == 200, f"{name} at /t/a: {at_a.status}"
                    assert not _leaks(at_a, secret_b), f"{name} shows b's callers to a"
                    own_b = await _send(http, base + "/t/b", route, path, who["b"])
                    assert own_b.status == 200
                    if _leaks(own_b, markers(b, backend) - {str(i) for i in b.calls}):
                        # b's page lists b's callers: a's lists a's (so the check can fail).
                        assert _leaks(at_a, own_a), f"{name} at /t/a shows none of a's"
                        shown.add(route.pattern)
                if route.pattern.startswith("/webhooks/"):
                    # a's webhook secret does not sign for b.
                    form = stop_form("a", b.only, 1)
                    path = filled(route, ids[0])
                    headers = signed("a", "b", path, form)
                    async with http.post(base + "/t/b" + path, data=form, headers=headers) as r:
                        assert r.status == 403, f"{name} at /t/b signed by a: {r.status}"
                    if not route.params or "kind" not in route.params:
                        headers = signed("a", "a", path, form)
                        async with http.post(base + "/t/a" + path, data=form, headers=headers) as r:
                            assert r.status == 200, f"a's own signed webhook: {r.status}"
                elif route.pattern.startswith("/bookings/"):
                    # a's booking-webhook key does not sign for b.
                    body = json.dumps({"phone": b.only, "id": "bk-1"}).encode()
                    path = filled(route, ids[0])
                    headers = booking_signed("a", body)
                    async with http.post(base + "/t/b" + path, data=body, headers=headers) as r:
                        assert r.status == 403, f"{name} at /t/b signed by a: {r.status}"
                elif not guarded and route.method == "GET":
                    at_a = await _send(http, base + "/t/a", route, filled(route, {}), who["a"])
                    assert not _leaks(at_a, secret_b), f"{name} shows b's callers to a"
                    if isinstance(route.resource, StaticResource):
                        # Served through the mount, twice on one kept-alive connection.
                        again = await _send(http, base + "/t/a", route, filled(route, {}), nobody)
                        assert (at_a.status, again.status) == (200, 200)
                        assert at_a.body
                        assert again.body == at_a.body
        report["checked"] = checked
        report["shown"] = shown

    await _serve(fresh_url, tmp_path, drive)
    # The router was read, not a list: the id routes the issue names are among them.
    for expected in (
        "GET /calls/{call_id}",
        "POST /calls/{call_id}/booking",
        "GET /conversations/{e164}",
        "GET /conversations/{e164}/consent.csv",
        "GET /api/v1/calls/{call_id}",
        "GET /api/v1/conversations/{e164}/consent",
        "POST /api/v1/conversations/{e164}/messages",
    ):
        assert expected in report["checked"]
    assert {"/calls", "/conversations", "/api/v1/calls", "/api/v1/conversations"} <= report["shown"]
    # The STOP a's own webhook accepted (from a number only b knows) stayed in a.
    assert await _opted_out(fresh_url, "a", b.only)
    assert await _opted_out(fresh_url, "b", b.only)  # seeded there
    assert not await _opted_out(fresh_url, "b", a.only) or a.only == b.only


async def _opted_out(url: str, tenant: str, e164: str) -> bool:
    sessions, engine = await in_tenant(url, tenant)
    try:
        async with reading(sessions) as session:
            contact = await contacts.get_contact(session, e164)
    finally:
        await engine.dispose()
    return contact is not None and contact.opted_out


def _kpi(html: str, key: str) -> str:
    match = re.search(rf'id="kpi-{key}".*?<p class="value[^"]*">([^<]*)</p>', html, re.DOTALL)
    assert match, f"no {key} card"
    return match[1].strip()


async def test_each_overview_counts_its_own_missed_calls(
    backend: str, fresh_url: str, tmp_path: Path
) -> None:
    """The Overview runs in the report worker process: on PostgreSQL it must read the
    tenant's schema (it once read the default tenant's for every tenant)."""
    seeded = await _seed(fresh_url)
    seen: dict[str, tuple[str, str, Any]] = {}

    async def drive(install: Install) -> None:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            for tenant in TENANTS:
                who = Identity(install.base, tenant)
                await who.log_in()
                prefix = f"{install.base}/t/{tenant}"
                async with http.get(prefix + "/", headers=who.page_headers()) as resp:
                    assert resp.status == 200
                    html = await resp.text()
                api = f"{prefix}/api/v1/kpis"
                async with http.get(api, headers=who.api_headers()) as resp:
                    assert resp.status == 200
                    kpis = await resp.json()
                seen[tenant] = (_kpi(html, "missed_calls"), _kpi(html, "inbound_calls"), kpis)

    await _serve(fresh_url, tmp_path, drive)
    for tenant in TENANTS:
        missed, inbound, kpis = seen[tenant]
        assert missed == str(seeded[tenant].missed), (tenant, missed)
        assert inbound == str(seeded[tenant].missed + 1), (tenant, inbound)
        assert str(seeded[tenant].missed) in json.dumps(kpis)
    assert seen["a"][0] != seen["b"][0]


# --- the pipeline: opt-out, cooldown across two tenants sharing a caller -------------------

TRACE = read_trace(TRACES / "ringgroup-novm-caller-hangup-ringing.ami")
_TIMESTAMP = re.compile(rb"^Timestamp: (\d+(?:\.\d+)?)\r$", re.MULTILINE)


def shared_calls(count: int, first: int) -> list[bytes]:
    """``count`` missed calls from :data:`SHARED_CALLER`, all within a few milliseconds of
    each other, just ended; their ids are copies ``first``… of the trace (fresh per round)."""
    origin = frame_timestamp(TRACE[0]) or 0.0
    at = time.time() - 5
    copies = [
        [
            _TIMESTAMP.sub(
                lambda m, d=at + i / 1000 - origin: b"Timestamp: %.6f\r" % (float(m[1]) + d), f
            )
            for f in copy
        ]
        for i, copy in enumerate(clone(TRACE, count, start=first))
    ]
    return interleave(copies)


def recorded(install: Install, tenant: str) -> int:
    parts = install.host.parts(tenant)
    return 0 if parts is None else parts.recorder.recorded


def textbacks(install: Install, tenant: str) -> int:
    """Missed-call texts (the tenant's template marker) ``tenant`` sent the shared caller."""
    marker = tenant.upper() + " "
    return sum(
        1
        for to, body in install.twilio[tenant].sent
        if to == SHARED_CALLER and body.startswith(marker)
    )


async def _reasons(url: str, tenant: str) -> list[str | None]:
    sessions, engine = await in_tenant(url, tenant)
    try:
        async with reading(sessions) as session:
            rows = await session.scalars(select(Call.suppress_reason).order_by(Call.id))
            return list(rows.all())
    finally:
        await engine.dispose()


async def test_a_stop_at_a_leaves_the_shared_caller_textable_at_b(
    backend: str, fresh_url: str, tmp_path: Path
) -> None:
    async def drive(install: Install) -> None:
        pbx = install.pbx
        await asyncio.gather(
            pbx["a"].stream(shared_calls(1, 1)), pbx["b"].stream(shared_calls(1, 1))
        )
        await until(lambda: (textbacks(install, "a"), textbacks(install, "b")) == (1, 1), "texts")
        form = stop_form("a", SHARED_CALLER, 7)
        async with aiohttp.ClientSession() as http:
            # Signed with a's secret for b's URL: refused; for a's own: taken.
            path = "/webhooks/twilio"
            headers = signed("a", "b", path, form)
            async with http.post(f"{install.base}/t/b{path}", data=form, headers=headers) as r:
                assert r.status == 403
            headers = signed("a", "a", path, form)
            async with http.post(f"{install.base}/t/a{path}", data=form, headers=headers) as r:
                assert r.status == 200
        await asyncio.gather(
            pbx["a"].stream(shared_calls(1, 2)), pbx["b"].stream(shared_calls(1, 2))
        )
        await until(lambda: recorded(install, "a") == 2, "a's second call")
        await until(lambda: textbacks(install, "b") == 2, "b's second text")
        await asyncio.sleep(1.0)  # a's dispatcher polls every 0.1 s: it had its chance
        assert textbacks(install, "a") == 1

    await _serve(fresh_url, tmp_path, drive)
    assert await _opted_out(fresh_url, "a", SHARED_CALLER)
    assert not await _opted_out(fresh_url, "b", SHARED_CALLER)
    assert await _reasons(fresh_url, "a") == [None, SuppressReason.OPTED_OUT.value]
    assert await _reasons(fresh_url, "b") == [None, None]


async def test_each_tenants_cooldown_lets_one_text_through_under_a_concurrent_burst(
    backend: str, fresh_url: str, tmp_path: Path
) -> None:
    burst = 12

    async def drive(install: Install) -> None:
        pbx = install.pbx
        await asyncio.gather(
            pbx["a"].stream(shared_calls(burst, 1)), pbx["b"].stream(shared_calls(burst, 1))
        )
        for tenant in TENANTS:
            await until(lambda t=tenant: recorded(install, t) == burst, f"{tenant}'s calls")  # type: ignore[misc]
        await until(lambda: (textbacks(install, "a"), textbacks(install, "b")) == (1, 1), "texts")
        await asyncio.sleep(1.0)
        assert (textbacks(install, "a"), textbacks(install, "b")) == (1, 1)

    await _serve(fresh_url, tmp_path, drive, cooldown_hours=24)
    for tenant in TENANTS:
        reasons = await _reasons(fresh_url, tenant)
        assert len(reasons) == burst
        assert reasons.count(None) == 1
        assert reasons.count(SuppressReason.COOLDOWN.value) == burst - 1
