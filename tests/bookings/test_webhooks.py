"""The booking routes: signatures, payload checks, size limit, retries stored once, API."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.bookings.status import BookingStatus
from asterisk_textback.bookings.webhook import BookingSecrets, calendly_signature
from asterisk_textback.store.models import Booking
from tests.bookings.conftest import NOW, Booked
from tests.kpi.helpers import T0, add_call, add_text
from tests.kpi.test_bookings import CALCOM_CREATED, CALENDLY_CREATED

Client = TestClient[web.Request, web.Application]
CALLER = "+12125550147"


def _hex(key: bytes, body: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _generic(data: dict[str, Any], key: bytes = b"generic-key") -> tuple[bytes, dict[str, str]]:
    body = json.dumps(data).encode()
    return body, {"X-Textback-Signature": f"sha256={_hex(key, body)}"}


async def _count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count(Booking.id))) or 0)


async def test_generic_booking_is_attributed_by_phone(
    client: Client, session: AsyncSession, booked: Booked
) -> None:
    """A signed generic post is stored, attributed to the call texted to that number."""
    call = add_call(session, caller=CALLER)
    text = await add_text(session, call)
    await session.commit()
    booked_at = (T0 + timedelta(hours=1)).isoformat()
    body, headers = _generic(
        {"id": "o-1", "phone": "(212) 555-0147", "value": "120.50", "booked_at": booked_at}
    )
    response = await client.post("/bookings/webhook", data=body, headers=headers)
    assert response.status == 200
    answer = await response.json()
    assert (answer["call_id"], answer["attributed_by"]) == (call.id, "phone")
    row = await session.get(Booking, answer["booking_id"])
    assert row is not None
    assert (row.value_minor, row.message_id, row.source) == (12050, text.id, "webhook")
    assert [b.id for b in booked.rows] == [row.id]


async def test_forged_missing_and_malformed_store_nothing(
    client: Client, session: AsyncSession
) -> None:
    """Bad signature → 403, none → 401, not JSON / not a booking → 400; nothing stored."""
    body, _ = _generic({"phone": CALLER})
    forged = {"X-Textback-Signature": "sha256=" + "0" * 64}
    assert (await client.post("/bookings/webhook", data=body, headers=forged)).status == 403
    assert (await client.post("/bookings/webhook", data=body)).status == 401
    wrong_key = _generic({"phone": CALLER}, key=b"other")
    assert (await client.post("/bookings/webhook", data=body, headers=wrong_key[1])).status == 403
    for raw in (b"{not json", b"[1, 2]", b"\xff\xfe"):
        headers = {"X-Textback-Signature": f"sha256={_hex(b'generic-key', raw)}"}
        assert (await client.post("/bookings/webhook", data=raw, headers=headers)).status == 400
    body, headers = _generic({"status": "booked"})
    assert (await client.post("/bookings/webhook", data=body, headers=headers)).status == 400
    assert await _count(session) == 0


async def test_retries_are_stored_once(client: Client, session: AsyncSession) -> None:
    """The same post twice (with or without an id) is one booking."""
    for data in ({"phone": CALLER, "value": 10}, {"id": "x", "phone": CALLER}):
        body, headers = _generic(data)
        first = await (await client.post("/bookings/webhook", data=body, headers=headers)).json()
        again = await (await client.post("/bookings/webhook", data=body, headers=headers)).json()
        assert first["booking_id"] == again["booking_id"]
    assert await _count(session) == 2


async def test_body_over_the_limit_is_413(
    make_client: Callable[..., Client], session: AsyncSession
) -> None:
    """A body larger than ``max_body_bytes`` is refused before it is read in full."""
    body, headers = _generic({"phone": CALLER, "pad": "x" * 5000})
    async with make_client(max_body_bytes=1024) as client:
        assert (await client.post("/bookings/webhook", data=body, headers=headers)).status == 413

        async def chunks() -> Any:
            for _ in range(10):
                yield b"x" * 512

        streamed = await client.post("/bookings/webhook", data=chunks(), headers=headers)
        assert streamed.status == 413
    assert await _count(session) == 0


async def test_unconfigured_routes_answer_404(
    make_client: Callable[..., Client],
) -> None:
    """Without a secret a route is off, so unsigned bookings can never get in."""
    body, headers = _generic({"phone": CALLER})
    async with make_client(secrets=BookingSecrets()) as client:
        for path in ("/bookings/webhook", "/bookings/calcom", "/bookings/calendly"):
            assert (await client.post(path, data=body, headers=headers)).status == 404
        assert (await client.post("/api/v1/bookings", json={})).status == 404


async def test_calcom_signature(client: Client, session: AsyncSession) -> None:
    """X-Cal-Signature-256 is the hex HMAC of the raw body; other triggers are ignored."""
    body = json.dumps(CALCOM_CREATED).encode()
    good = {"X-Cal-Signature-256": _hex(b"calcom-key", body)}
    response = await client.post("/bookings/calcom", data=body, headers=good)
    assert response.status == 200
    row = await session.get(Booking, (await response.json())["booking_id"])
    assert row is not None
    assert (row.source, row.external_id, row.value_minor) == (
        "calcom",
        "bFJeNb2uX8ANpT3JL5EfXw",
        15000,
    )
    forged = {"X-Cal-Signature-256": _hex(b"calcom-kez", body)}
    assert (await client.post("/bookings/calcom", data=body, headers=forged)).status == 403
    other = json.dumps({"triggerEvent": "MEETING_ENDED", "payload": {}}).encode()
    headers = {"X-Cal-Signature-256": _hex(b"calcom-key", other)}
    response = await client.post("/bookings/calcom", data=other, headers=headers)
    assert (response.status, await response.json()) == (200, {"ignored": True})
    assert await _count(session) == 1


async def test_calendly_signature_and_replay_window(client: Client, session: AsyncSession) -> None:
    """``t=…,v1=…`` over ``t.body``; a stale timestamp is a replay (403)."""
    body = json.dumps(CALENDLY_CREATED).encode()
    key = b"calendly-key"
    fresh = {"Calendly-Webhook-Signature": calendly_signature(key, int(NOW) - 60, body)}
    assert (await client.post("/bookings/calendly", data=body, headers=fresh)).status == 200
    stale = {"Calendly-Webhook-Signature": calendly_signature(key, int(NOW) - 600, body)}
    assert (await client.post("/bookings/calendly", data=body, headers=stale)).status == 403
    forged = {"Calendly-Webhook-Signature": calendly_signature(b"x", int(NOW), body)}
    assert (await client.post("/bookings/calendly", data=body, headers=forged)).status == 403
    junk = {"Calendly-Webhook-Signature": "t=soon,v1=abc"}
    assert (await client.post("/bookings/calendly", data=body, headers=junk)).status == 403
    # Calendly retries the same delivery: still one booking.
    assert (await client.post("/bookings/calendly", data=body, headers=fresh)).status == 200
    assert await _count(session) == 1


async def test_cancellation_updates_the_booking(client: Client, session: AsyncSession) -> None:
    """A cancel for the same booking id flips the stored row."""
    created = {"id": "c-1", "phone": CALLER, "value": 50}
    cancelled = {**created, "status": "cancelled"}
    for data in (created, cancelled):
        body, headers = _generic(data)
        assert (await client.post("/bookings/webhook", data=body, headers=headers)).status == 200
    row = await session.scalar(select(Booking))
    assert row is not None
    assert row.status is BookingStatus.CANCELLED


async def test_api_marks_a_call_booked(
    client: Client, session: AsyncSession, booked: Booked
) -> None:
    """Bearer token required; marking twice updates the value; unknown call → 404."""
    call = add_call(session, caller=CALLER)
    text = await add_text(session, call)
    await session.commit()
    auth = {"Authorization": "Bearer api-token"}
    assert (await client.post("/api/v1/bookings", json={"call_id": call.id})).status == 401
    bad = {"Authorization": "Bearer nope"}
    assert (await client.post("/api/v1/bookings", json={}, headers=bad)).status == 401
    first = await client.post(
        "/api/v1/bookings", json={"call_id": call.id, "value": "99.90"}, headers=auth
    )
    assert first.status == 200
    again = await client.post(
        "/api/v1/bookings", json={"call_id": call.id, "value": 120, "currency": "eur"}, headers=auth
    )
    answer = await again.json()
    assert answer["booking_id"] == (await first.json())["booking_id"]
    row = await session.get(Booking, answer["booking_id"])
    assert row is not None
    await session.refresh(row)
    assert (row.value_minor, row.currency, row.message_id, row.attributed_by) == (
        12000,
        "EUR",
        text.id,
        "manual",
    )
    await session.rollback()  # SQLite: release the read before the app writes again
    missing = await client.post("/api/v1/bookings", json={"call_id": 10**9}, headers=auth)
    assert missing.status == 404
    for body in ({"call_id": "7"}, {"call_id": answer["call_id"], "value": "ten"}):
        assert (await client.post("/api/v1/bookings", json=body, headers=auth)).status == 400
    reported = await client.post("/api/v1/bookings", json={"phone": CALLER}, headers=auth)
    row = await session.get(Booking, (await reported.json())["booking_id"])
    assert row is not None
    assert row.source == "api"
    assert len(booked.rows) == 3
