"""Fixtures of the contract suite: one shared HTTP session, every driver and every kit."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.sms.contract.driver import Driver
from tests.sms.contract.vendors import all_drivers

DRIVERS = all_drivers()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """The shared client session, as the service has."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(params=DRIVERS, ids=[d.id for d in DRIVERS])
def driver(request: pytest.FixtureRequest) -> Driver:
    """Each HTTP adapter's driver in turn."""
    result: Driver = request.param
    return result


@pytest.fixture
def closed_url() -> str:
    """A loopback URL on which nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
