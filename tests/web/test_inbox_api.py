"""POST /api/v1/conversations/{number}/messages: a staff reply through the JSON API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.store.models import Message
from asterisk_textback.store.uow import reading
from tests.web.conftest import API_TOKEN, Client, csrf_of
from tests.web.seed import OUR_NUMBER, Seeded

Seed = tuple[async_sessionmaker[AsyncSession], Seeded]
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
ALICE = "+12125550101"
URL = f"/api/v1/conversations/{ALICE}/messages"


async def _rows(seeded: Seed) -> list[Message]:
    async with reading(seeded[0]) as db:
        rows = await db.scalars(
            select(Message).where(Message.kind == "staff_reply").order_by(Message.id)
        )
        return list(rows)


async def _post(client: Client, url: str, payload: Any, **headers: str) -> tuple[int, Any]:
    response = await client.post(url, json=payload, headers={**AUTH, **headers})
    return response.status, await response.json()


async def test_the_token_queues_a_reply_recorded_as_api(client: Client, seeded: Seed) -> None:
    status, answer = await _post(client, URL, {"body": "We can come at 3 🙂"})
    assert status == 202, answer
    (row,) = await _rows(seeded)
    assert answer == {
        "id": row.id,
        "status": "queued",
        "to": ALICE,
        "segments": 1,
        "encoding": "UCS-2",
        "sent_by": "api",
    }
    assert (row.sent_by, row.sender, row.body) == ("api", OUR_NUMBER, "We can come at 3 🙂")
    thread = await (await client.get(f"/api/v1/conversations/{ALICE}", headers=AUTH)).json()
    last = thread["items"][-1]
    assert (last["kind"], last["sent_by"], last["message_id"]) == ("staff_reply", "api", row.id)


async def test_an_idempotency_key_queues_once(client: Client, seeded: Seed) -> None:
    key = {"Idempotency-Key": "retry-0001"}
    first = await _post(client, URL, {"body": "Once"}, **key)
    again = await _post(client, URL, {"body": "Once"}, **key)
    assert first[0] == again[0] == 202
    assert first[1]["id"] == again[1]["id"]
    assert len(await _rows(seeded)) == 1
    bad = await _post(client, URL, {"body": "x"}, **{"Idempotency-Key": "no spaces!"})
    assert bad == (
        400,
        {
            "error": "bad_request",
            "detail": "Idempotency-Key: 8-64 letters, digits, - or _",
            "field": "Idempotency-Key",
        },
    )


async def test_bad_input_names_the_field(client: Client, seeded: Seed) -> None:
    for payload, detail in [
        ({"body": ""}, "body: empty; write the text to send"),
        ({"body": 5}, "body: missing"),
        ({}, "body: missing"),
        (["body"], "body: a JSON object"),
        ({"body": "z" * 1601}, "body: 1,601 characters; at most 1,600"),
        ({"body": "{" * 800}, "body: 11 SMS parts (GSM-7); at most 10"),
    ]:
        status, answer = await _post(client, URL, payload)
        assert (status, answer) == (
            400,
            {"error": "bad_request", "detail": detail, "field": "body"},
        )
    raw = await client.post(URL, data=b"{not json", headers=AUTH)
    assert raw.status == 400
    assert (await raw.json())["field"] == "body"
    assert await _rows(seeded) == []


async def test_unknown_404_and_opted_out_409(client: Client, seeded: Seed) -> None:
    status, answer = await _post(
        client, "/api/v1/conversations/+19995550000/messages", {"body": "Hi"}
    )
    assert (status, answer["error"]) == (404, "not_found")
    status, answer = await _post(
        client, "/api/v1/conversations/+12125550102/messages", {"body": "Hi"}
    )
    assert status == 409
    assert answer["error"] == "opted_out"
    assert answer["opted_out_at"] == "2026-11-02T15:05:00+00:00"
    assert answer["source"] == "sms:stop"
    assert "they texted STOP" in answer["detail"]
    assert await _rows(seeded) == []


async def test_no_token_401_and_a_session_needs_its_csrf_header(
    logged_in: Client, seeded: Seed
) -> None:
    nobody = await logged_in.post(URL, json={"body": "Hi"}, headers={"Authorization": "Bearer no"})
    # A wrong token with a session cookie falls back to the session: that needs the header.
    assert nobody.status == 403
    bare = await logged_in.post(URL, json={"body": "Hi"})
    assert bare.status == 403
    assert (await bare.json())["error"] == "forbidden"
    page = await (await logged_in.get(f"/conversations/{ALICE}")).text()
    ok = await logged_in.post(URL, json={"body": "Hi"}, headers={"X-CSRF-Token": csrf_of(page)})
    assert ok.status == 202
    (row,) = await _rows(seeded)
    assert row.sent_by == "admin"


async def test_without_a_token_or_session_401(client: Client, seeded: Seed) -> None:
    response = await client.post(URL, json={"body": "Hi"})
    assert response.status == 401
    assert (await response.json())["error"] == "unauthorized"
    assert await _rows(seeded) == []
