"""Fixtures for the booking tests: real databases and a client on the booking routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.bookings.settings import BookingWebhookSettings
from asterisk_textback.bookings.webhook import BookingSecrets, BookingService, add_booking_routes
from asterisk_textback.store.models import Booking
from tests.dbfixtures import (  # noqa: F401 - fixtures are found by name
    backend,
    db_url,
    engine,
    pg_migrated,
    pg_server,
    session,
    session_factory,
    sqlite_migrated,
)

SECRETS = BookingSecrets(
    generic=b"generic-key",
    calcom=b"calcom-key",
    calendly=b"calendly-key",
    api_token="api-token",
    tracking="tracking-key",
)
NOW = 1_794_000_000.0

Client = TestClient[web.Request, web.Application]


@dataclass
class Booked:
    """Bookings the CRM hook was told about."""

    rows: list[Booking] = field(default_factory=list)

    async def __call__(self, row: Booking) -> None:
        """Remember ``row``."""
        self.rows.append(row)


@pytest.fixture
def booked() -> Booked:
    """The ``on_booking`` hook's record."""
    return Booked()


@pytest.fixture
def make_client(
    session_factory: async_sessionmaker[AsyncSession],  # noqa: F811 - the imported fixture
    booked: Booked,
) -> Callable[..., Client]:
    """Build a test client on the booking routes (call it, then ``async with``)."""

    def build(secrets: BookingSecrets = SECRETS, max_body_bytes: int = 4096) -> Client:
        app = web.Application()
        settings = BookingWebhookSettings(max_body_bytes=max_body_bytes)
        service = BookingService(
            session_factory, settings, secrets, clock=lambda: NOW, on_booking=booked
        )
        add_booking_routes(app, service)
        return TestClient(TestServer(app, host="127.0.0.1"))

    return build


@pytest.fixture
async def client(make_client: Callable[..., Client]) -> AsyncIterator[Client]:
    """A client on the routes with every secret configured."""
    async with make_client() as c:
        yield c
