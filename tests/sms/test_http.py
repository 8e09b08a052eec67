"""The one HTTP path: request helper and status classifier, against a real local server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from asterisk_textback.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutcomeUnknownError,
    ProviderTransientError,
)
from asterisk_textback.sms._http import Accepted, Client, Dialect, retry_after
from asterisk_textback.sms.vendors import bandwidth, plivo, telnyx, twilio, vonage, webhook

NOW = 1_445_412_480.0  # Wed, 21 Oct 2015 07:28:00 GMT


def test_retry_after_delta_seconds() -> None:
    assert retry_after({"Retry-After": "7"}) == 7.0
    assert retry_after({"Retry-After": " 120 "}) == 120.0
    assert retry_after({"Retry-After": "2.5"}) == 2.5  # Vonage sends fractions
    assert retry_after({"Retry-After": "0"}) == 0.0
    assert retry_after({"Retry-After": "-3"}) == 0.0


def test_retry_after_http_date() -> None:
    # RFC 9110 §10.2.3's own example, read 10 s and 1 h before it.
    date = {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
    assert retry_after(date, now=NOW - 10) == 10.0
    assert retry_after(date, now=NOW - 3600) == 3600.0
    assert retry_after(date, now=NOW + 5) == 0.0  # already past: no wait, not negative
    # The obsolete "-0000" zone is still GMT, never the machine's local time.
    assert retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 -0000"}, now=NOW - 1) == 1.0


@pytest.mark.parametrize(
    "value", ["", "soon", "inf", "nan", "1e999", "Wed, 99 Foo 2015 07:28:00 GMT", "7 seconds"]
)
def test_retry_after_garbage_is_none(value: str) -> None:
    assert retry_after({"Retry-After": value}, now=NOW) is None


def test_no_retry_after_is_none() -> None:
    assert retry_after({}) is None


@dataclass
class Script:
    """What the local server answers next."""

    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    cut: bool = False
    seen: list[str] = field(default_factory=list)


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Script]]:
    """A real aiohttp server on loopback answering as scripted."""
    script = Script()

    async def handle(request: web.Request) -> web.StreamResponse:
        script.seen.append(f"{request.method} {request.path_qs}")
        if script.delay:
            await asyncio.sleep(script.delay)
        if script.cut:
            assert request.transport is not None
            request.transport.close()  # the connection dies before any answer
        return web.Response(status=script.status, text=script.body, headers=script.headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with TestServer(app, host="127.0.0.1") as local:
        yield str(local.make_url("")).rstrip("/"), script


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """One shared client session."""
    async with aiohttp.ClientSession() as session:
        yield session


PLAIN = Dialect("plain", statuses={}, accepted=Accepted)

#: Each vendor's dialect, and what it says a bare 402 means (its own table).
VENDORS: Mapping[str, tuple[Dialect, type[ProviderError]]] = {
    "twilio": (twilio.dialect("twilio"), ProviderError),
    "signalwire": (twilio.dialect("signalwire"), ProviderError),
    "telnyx": (telnyx.DIALECT, ProviderAuthError),  # error 20100, insufficient funds
    "plivo": (plivo.DIALECT, ProviderError),
    "vonage": (vonage.DIALECT, ProviderAuthError),  # low-balance
    "bandwidth": (bandwidth.DIALECT, ProviderError),
    "webhook": (webhook.dialect("webhook"), ProviderError),
}
SHARED: Mapping[int, type[ProviderError]] = {
    408: ProviderTransientError,
    429: ProviderTransientError,
    500: ProviderTransientError,
    502: ProviderTransientError,
    503: ProviderTransientError,
    401: ProviderAuthError,
    403: ProviderAuthError,
}


@pytest.mark.parametrize("vendor", sorted(VENDORS))
async def test_every_vendor_maps_statuses_the_same_way(
    vendor: str, server: tuple[str, Script], http: aiohttp.ClientSession
) -> None:
    url, script = server
    dialect, payment = VENDORS[vendor]
    client = Client(http, dialect, timeout=2.0)
    for status, expected in {**SHARED, 402: payment}.items():
        script.status, script.body = status, "{}"
        with pytest.raises(ProviderError) as info:
            await client.send(f"{url}/send")
        assert type(info.value) is expected, (vendor, status)
        assert f"HTTP {status}" in str(info.value)


@pytest.mark.parametrize("when", ["delta", "date"])
async def test_a_transient_refusal_carries_retry_after(
    when: str, server: tuple[str, Script], http: aiohttp.ClientSession
) -> None:
    url, script = server
    later = datetime.fromtimestamp(datetime.now(UTC).timestamp() + 30, UTC)
    value = "7" if when == "delta" else format_datetime(later, usegmt=True)
    script.status, script.headers = 429, {"Retry-After": value}
    with pytest.raises(ProviderTransientError) as info:
        await Client(http, PLAIN, timeout=2.0).send(f"{url}/send")
    wait = info.value.retry_after
    assert wait is not None
    if when == "delta":
        assert wait == 7.0
    else:  # the date has whole seconds, and the request took a moment
        assert 20.0 < wait <= 31.0


async def test_garbage_retry_after_leaves_the_backoff_to_us(
    server: tuple[str, Script], http: aiohttp.ClientSession
) -> None:
    url, script = server
    script.status, script.headers = 503, {"Retry-After": "whenever"}
    with pytest.raises(ProviderTransientError) as info:
        await Client(http, PLAIN, timeout=2.0).send(f"{url}/send")
    assert info.value.retry_after is None


async def test_the_vendor_code_table_decides_before_401_and_403(
    server: tuple[str, Script], http: aiohttp.ClientSession
) -> None:
    url, script = server
    script.status = 403
    script.body = '{"errors": [{"code": "40300", "title": "Blocked due to STOP message"}]}'
    with pytest.raises(ProviderError) as info:
        await Client(http, telnyx.DIALECT, timeout=2.0).send(f"{url}/send")
    assert type(info.value).__name__ == "ProviderOptedOutError"
    assert "[40300]" in str(info.value)


async def test_the_id_is_read_through_the_model(
    server: tuple[str, Script], http: aiohttp.ClientSession
) -> None:
    url, script = server
    script.status, script.body = 202, '{"id": "m-1", "extra": [1, 2]}'
    assert await Client(http, PLAIN, timeout=2.0).send(f"{url}/send") == "m-1"


@pytest.mark.parametrize("body", ["", "{not json", '{"id": 5}', "[]", '{"other": "x"}'])
async def test_an_unreadable_2xx_is_outcome_unknown(
    body: str, server: tuple[str, Script], http: aiohttp.ClientSession
) -> None:
    url, script = server
    script.status, script.body = 202, body
    with pytest.raises(ProviderOutcomeUnknownError, match="HTTP 202 without"):
        await Client(http, PLAIN, timeout=2.0).send(f"{url}/send")


@pytest.fixture
def closed_url() -> Iterator[str]:
    """A loopback port that is bound but not listening: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # held for the test, so no one else takes the port
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


async def test_a_connector_error_is_transient_for_sends_and_reads(
    closed_url: str, http: aiohttp.ClientSession
) -> None:
    client = Client(http, PLAIN, timeout=2.0)
    with pytest.raises(ProviderTransientError, match="cannot connect"):
        await client.send(f"{closed_url}/send")
    with pytest.raises(ProviderTransientError, match="cannot connect"):
        await client.read(f"{closed_url}/read")


async def test_a_timeout_is_outcome_unknown_for_a_send_and_transient_for_a_read(
    server: tuple[str, Script], http: aiohttp.ClientSession
) -> None:
    url, script = server
    script.delay = 1.0
    client = Client(http, PLAIN, timeout=0.2)
    with pytest.raises(ProviderOutcomeUnknownError):
        await client.send(f"{url}/send")
    with pytest.raises(ProviderTransientError):
        await client.read(f"{url}/read")
    assert script.seen == ["POST /send", "GET /read"]  # one request each: never retried here


async def test_a_cut_connection_is_outcome_unknown_for_a_send(
    server: tuple[str, Script], http: aiohttp.ClientSession
) -> None:
    url, script = server
    script.cut = True
    with pytest.raises(ProviderOutcomeUnknownError):
        await Client(http, PLAIN, timeout=2.0).send(f"{url}/send")


async def test_a_read_names_the_fix_only_for_auth_errors(
    server: tuple[str, Script], http: aiohttp.ClientSession
) -> None:
    url, script = server
    client = Client(http, PLAIN, timeout=2.0, headers={"Authorization": "Basic x"})
    script.status = 401
    with pytest.raises(ProviderAuthError, match="; fix: check the key"):
        await client.read(f"{url}/account", fix="check the key")
    script.status = 400
    with pytest.raises(ProviderError) as info:
        await client.read(f"{url}/account", fix="check the key")
    assert "fix:" not in str(info.value)
    script.status, script.body = 200, '{"id": "acct"}'
    reply = await client.read(f"{url}/account", fix="check the key", params={"limit": "1"})
    assert reply.ok
    assert reply.text == '{"id": "acct"}'
    assert script.seen[-1] == "GET /account?limit=1"


@pytest.mark.parametrize(
    ("dialect", "where"),
    [
        (telnyx.DIALECT, "data.id"),
        (plivo.DIALECT, "message_uuid.0"),
        (vonage.DIALECT, "message_uuid"),
    ],
)
async def test_outcome_unknown_names_where_the_id_should_be(
    dialect: Dialect, where: str, server: tuple[str, Script], http: aiohttp.ClientSession
) -> None:
    url, script = server
    script.status, script.body = 202, '{"data": {"id": ""}, "message_uuid": []}'
    with pytest.raises(ProviderOutcomeUnknownError, match=f"HTTP 202 without {where}$"):
        await Client(http, dialect, timeout=2.0).send(f"{url}/send")
