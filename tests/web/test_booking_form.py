"""The call page's "Mark booked" form: CSRF, validation, one manual booking, the CRM hook."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.bookings.settings import BookingWebhookSettings
from asterisk_textback.bookings.webhook import BookingSecrets, BookingService, add_booking_routes
from asterisk_textback.store.models import Booking
from asterisk_textback.web.dashboard.mount import add_dashboard
from asterisk_textback.web.dashboard.settings import DashboardSettings
from tests.web.conftest import Client, csrf_of, login, make_deps
from tests.web.seed import NOW, Seeded

Seed = tuple[async_sessionmaker[AsyncSession], Seeded]


async def _bookings(factory: async_sessionmaker[AsyncSession], call_id: int) -> list[Booking]:
    async with factory() as db:
        return list(await db.scalars(select(Booking).where(Booking.call_id == call_id)))


async def _form_token(client: Client, call_id: int) -> str:
    page = await client.get(f"/calls/{call_id}")
    assert page.status == 200
    return csrf_of(await page.text())


async def test_the_form_records_a_manual_booking_and_shows_it(
    logged_in: Client, seeded: Seed
) -> None:
    """A value in the config's currency, attributed to the call, shown after the redirect."""
    factory, ids = seeded
    page = await (await logged_in.get(f"/calls/{ids.xss_call}")).text()
    assert f'action="/calls/{ids.xss_call}/booking"' in page
    assert "Value (USD)" in page
    assert "No booking credited to this call." in page
    token = csrf_of(page)
    posted = await logged_in.post(
        f"/calls/{ids.xss_call}/booking",
        data={"csrf": token, "value": " 249.50 "},
        allow_redirects=False,
    )
    assert posted.status == 303
    assert posted.headers["Location"] == f"/calls/{ids.xss_call}?booked=1#booking"
    shown = await (await logged_in.get(posted.headers["Location"])).text()
    assert "Booking saved." in shown
    assert "249.50 USD" in shown
    assert "Booked</dt><dd>yes" in shown
    (row,) = await _bookings(factory, ids.xss_call)
    assert (row.source, row.attributed_by, row.status) == ("manual", "manual", "booked")
    assert (row.value_minor, row.currency) == (24950, "USD")
    assert row.e164 == "+12125550102"
    assert row.message_id is not None  # the text that led to it
    assert row.booked_at == NOW

    # Marking again updates the value: still one booking for the call.
    again = await logged_in.post(
        f"/calls/{ids.xss_call}/booking", data={"csrf": token, "value": "300"}
    )
    assert "300.00 USD" in await again.text()
    (row,) = await _bookings(factory, ids.xss_call)
    assert row.value_minor == 30000
    # A blank value is a booking of unknown value.
    blank = await logged_in.post(f"/calls/{ids.xss_call}/booking", data={"csrf": token})
    assert "value unknown" in await blank.text()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("-5", "value must not be negative"),
        ("ten", "value is not a number"),
        ("12,50", "value is not a number"),
        ("NaN", "value is not a number"),
        ("Infinity", "value is not a number"),
        ("1.005", "value has more decimals than USD has"),
        ("1e12", "value must be at most 1,000,000,000"),
    ],
)
async def test_a_bad_value_is_refused_with_a_reason(
    logged_in: Client, seeded: Seed, value: str, reason: str
) -> None:
    """400, the reason next to the form, the typed text kept, nothing stored."""
    factory, ids = seeded
    token = await _form_token(logged_in, ids.failed_call)
    response = await logged_in.post(
        f"/calls/{ids.failed_call}/booking", data={"csrf": token, "value": value}
    )
    assert response.status == 400
    text = await response.text()
    assert f"Not saved: {reason}." in text
    assert 'role="alert"' in text
    assert f'value="{value}"' in text
    assert "Booking saved." not in text
    assert await _bookings(factory, ids.failed_call) == []


async def test_csrf_login_and_unknown_calls(
    logged_in: Client, client: Client, seeded: Seed
) -> None:
    """No or a forged token is 403; an unknown call is 404; nothing is stored."""
    factory, ids = seeded
    path = f"/calls/{ids.failed_call}/booking"
    missing = await logged_in.post(path, data={"value": "10"})
    assert missing.status == 403
    forged = await logged_in.post(path, data={"csrf": "x" * 43, "value": "10"})
    assert forged.status == 403
    token = await _form_token(logged_in, ids.failed_call)
    other_site = await logged_in.post(
        path, data={"csrf": token, "value": "10"}, headers={"Origin": "https://evil.example"}
    )
    assert other_site.status == 403
    unknown = await logged_in.post("/calls/999999/booking", data={"csrf": token, "value": "1"})
    assert unknown.status == 404
    assert await _bookings(factory, ids.failed_call) == []


async def test_logged_out_posts_go_to_the_login(client: Client, seeded: Seed) -> None:
    """Without a session the form post is sent to log in and stores nothing."""
    factory, ids = seeded
    response = await client.post(
        f"/calls/{ids.failed_call}/booking", data={"value": "10"}, allow_redirects=False
    )
    assert response.status == 303
    assert response.headers["Location"].startswith("/login?next=")
    assert await _bookings(factory, ids.failed_call) == []


@pytest.fixture
async def with_hook(
    seeded: Seed, dash_settings: DashboardSettings
) -> AsyncIterator[tuple[Client, list[Booking]]]:
    """The dashboard mounted next to the booking routes (as ``run`` does), with a CRM hook."""
    seen: list[Booking] = []

    async def hook(row: Booking) -> None:
        seen.append(row)

    app = web.Application()
    service = BookingService(
        seeded[0],
        BookingWebhookSettings(),
        BookingSecrets(api_token="api-secret"),
        currency="eur",
        clock=NOW.timestamp,
        on_booking=hook,
    )
    add_booking_routes(app, service)
    add_dashboard(app, make_deps(seeded[0], dash_settings))
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        assert await login(test_client) == 303
        yield test_client, seen


async def test_the_form_takes_the_api_path_and_its_crm_hook(
    with_hook: tuple[Client, list[Booking]], seeded: Seed
) -> None:
    """Same row, currency and hook as ``POST /api/v1/bookings`` for the same call."""
    client, seen = with_hook
    factory, ids = seeded
    token = await _form_token(client, ids.alice_call)
    response = await client.post(
        f"/calls/{ids.alice_call}/booking", data={"csrf": token, "value": "80"}
    )
    text = await response.text()
    assert "80.00 EUR" in text
    assert "Value (EUR)" in text
    (hooked,) = seen
    assert (hooked.call_id, hooked.value_minor, hooked.currency) == (ids.alice_call, 8000, "EUR")
    api = await client.post(
        "/api/v1/bookings",
        json={"call_id": ids.alice_call, "value": 95},
        headers={"Authorization": "Bearer api-secret"},
    )
    assert api.status == 200
    assert (await api.json())["booking_id"] == hooked.id
    assert len(seen) == 2
    rows = await _bookings(factory, ids.alice_call)
    manual = [r for r in rows if r.source == "manual"]
    assert len(manual) == 1
    assert manual[0].value_minor == 9500
