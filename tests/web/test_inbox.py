"""The Conversation page's reply box and "Mark handled", and the Conversations list's order."""

from __future__ import annotations

import re
from dataclasses import replace

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store.models import Message
from asterisk_textback.store.uow import reading
from asterisk_textback.web.dashboard.mount import dashboard_app
from asterisk_textback.web.dashboard.settings import DashboardSettings
from tests.web.conftest import Client, csrf_of, login, make_deps
from tests.web.seed import OUR_NUMBER, Seeded

Seed = tuple[async_sessionmaker[AsyncSession], Seeded]
ALICE = "+12125550101"  # texted back, replied
STOPPED = "+12125550102"  # texted back, then STOP
CALL_ONLY = "+12125550103"  # answered call, never texted
PAGE = f"/conversations/{ALICE}"


async def _staff_rows(seeded: Seed) -> list[Message]:
    async with reading(seeded[0]) as db:
        rows = await db.scalars(
            select(Message).where(Message.kind == "staff_reply").order_by(Message.id)
        )
        return list(rows)


def _nonce(html: str) -> str:
    match = re.search(r'name="nonce" value="([^"]+)"', html)
    assert match, "no nonce on the reply form"
    return match[1]


async def _post(client: Client, path: str, body: str, **extra: str) -> tuple[int, str, str]:
    page = await (await client.get(path)).text()
    data = {"csrf": csrf_of(page), "nonce": _nonce(page), "body": body, **extra}
    response = await client.post(f"{path}/reply", data=data, allow_redirects=False)
    return response.status, response.headers.get("Location", ""), await response.text()


async def test_a_reply_is_queued_from_the_number_they_texted_and_shown_with_its_author(
    logged_in: Client, seeded: Seed
) -> None:
    page = await (await logged_in.get(PAGE)).text()
    assert 'id="reply-form"' in page
    assert "/static/inbox.js" in page
    assert "waits in the outbox" in page  # no dispatcher wired in: say what happens
    status, location, _ = await _post(logged_in, PAGE, "On our way\r\nSee you at 3 €5 off")
    assert status == 303
    (row,) = await _staff_rows(seeded)
    assert location == f"{PAGE}?sent={row.id}#reply"
    assert (row.to_e164, row.sender, row.sent_by) == (ALICE, OUR_NUMBER, "admin")
    assert row.body == "On our way\nSee you at 3 €5 off"  # a form's CRLF is one line end
    assert (row.encoding, row.segments, row.status) == ("GSM-7", 1, MessageStatus.QUEUED)
    shown = await (await logged_in.get(location)).text()
    assert "On our way\nSee you at 3 €5 off" in shown
    assert 'by <span class="author">admin</span>' in shown
    assert "waiting to send" in shown  # status_label("queued")
    assert "staff reply" in shown


async def test_a_double_submit_sends_once(logged_in: Client, seeded: Seed) -> None:
    page = await (await logged_in.get(PAGE)).text()
    data = {"csrf": csrf_of(page), "nonce": _nonce(page), "body": "Hello again"}
    first = await logged_in.post(f"{PAGE}/reply", data=data, allow_redirects=False)
    second = await logged_in.post(f"{PAGE}/reply", data=data, allow_redirects=False)
    assert first.status == second.status == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert len(await _staff_rows(seeded)) == 1


async def test_missing_or_forged_csrf_is_refused(logged_in: Client, seeded: Seed) -> None:
    page = await (await logged_in.get(PAGE)).text()
    for token in ("", "forged-" + csrf_of(page)[7:]):
        data = {"csrf": token, "nonce": _nonce(page), "body": "Hi"}
        response = await logged_in.post(f"{PAGE}/reply", data=data, allow_redirects=False)
        assert response.status == 403
        handled = await logged_in.post(f"{PAGE}/handled", data={"csrf": token})
        assert handled.status == 403
    cross = await logged_in.post(
        f"{PAGE}/reply",
        data={"csrf": csrf_of(page), "nonce": _nonce(page), "body": "Hi"},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert cross.status == 403
    assert await _staff_rows(seeded) == []


async def test_an_opted_out_number_is_refused_with_the_reason(
    logged_in: Client, seeded: Seed
) -> None:
    path = f"/conversations/{STOPPED}"
    page = await (await logged_in.get(path)).text()
    assert 'id="reply-form"' not in page
    assert "opted out" in page
    data = {"csrf": csrf_of(page), "nonce": "n" * 16, "body": "Please come back"}
    response = await logged_in.post(f"{path}/reply", data=data, allow_redirects=False)
    assert response.status == 409
    text = await response.text()
    assert "Not sent: this number opted out on Mon, Nov 2, 2026, 3:05 PM UTC" in text
    assert "(they texted STOP)" in text
    assert await _staff_rows(seeded) == []


async def test_empty_and_too_long_bodies_are_refused_naming_the_limit(
    logged_in: Client, seeded: Seed
) -> None:
    cases = [
        ("   \r\n ", "body: empty"),
        ("x" * 1601, "body: 1,601 characters; at most 1,600"),
        ("Ж" * 700, "body: 11 SMS parts (UCS-2); at most 10"),
    ]
    for body, reason in cases:
        status, _, html = await _post(logged_in, PAGE, body)
        assert status == 400, body[:10]
        assert reason in html
        assert 'role="alert"' in html
    assert await _staff_rows(seeded) == []
    # Inclusive: 1,530 GSM-7 characters make exactly 10 parts (153 each) and are sent.
    ok, _, _ = await _post(logged_in, PAGE, "y" * 1530)
    assert ok == 303


async def test_unknown_numbers_and_numbers_with_no_line_to_text_from(
    logged_in: Client, seeded: Seed
) -> None:
    assert (await logged_in.get("/conversations/+19995550000")).status == 404
    page = await (await logged_in.get(PAGE)).text()
    data = {"csrf": csrf_of(page), "nonce": _nonce(page), "body": "Hi"}
    lost = await logged_in.post("/conversations/+19995550000/reply", data=data)
    assert lost.status == 404
    unknown = await logged_in.post("/conversations/+19995550000/handled", data=data)
    assert unknown.status == 404
    # Only a call, no text either way, and no sender configured for its DID: refused.
    status, _, html = await _post(logged_in, f"/conversations/{CALL_ONLY}", "Hi Bob")
    assert status == 409
    assert "no business number to text" in html
    assert await _staff_rows(seeded) == []


async def test_logged_out_posts_go_to_the_login(client: Client, seeded: Seed) -> None:
    for path in (f"{PAGE}/reply", f"{PAGE}/handled"):
        response = await client.post(path, data={"body": "Hi"}, allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"].startswith("/login?next=")
    assert await _staff_rows(seeded) == []


def _states(html: str) -> list[tuple[str, bool, bool]]:
    rows = re.findall(
        r'<tr class="(unread)?">\s*<td><a href="[^"]+">([^<]+)</a>.*?</tr>', html, re.S
    )
    out = []
    for unread, number in rows:
        row = html[html.index(f">{number}</a>") :].split("</tr>", 1)[0]
        out.append((number, bool(unread), "needs an answer" in row))
    return out


async def test_unread_handled_and_reopened(logged_in: Client, seeded: Seed) -> None:
    listing = _states(await (await logged_in.get("/conversations")).text())
    assert listing[0] == (ALICE, True, True)  # the only reply, never opened
    assert {n for n, _, _ in listing} >= {STOPPED, "+12125550105"}
    page = await (await logged_in.get(PAGE)).text()  # opening it reads it
    assert "needs an answer" in page
    listing = _states(await (await logged_in.get("/conversations")).text())
    assert listing[0] == (ALICE, False, True)
    marked = await logged_in.post(
        f"{PAGE}/handled", data={"csrf": csrf_of(page)}, allow_redirects=False
    )
    assert marked.status == 303
    after = await (await logged_in.get(marked.headers["Location"])).text()
    assert "Marked handled" in after
    assert '<span class="badge done">handled</span>' in after
    listing = _states(await (await logged_in.get("/conversations")).text())
    assert (ALICE, False, False) in listing
    assert listing[0][0] != ALICE


async def test_staff_phones_are_not_conversations(
    seeded: Seed, dash_settings: DashboardSettings
) -> None:
    deps = replace(make_deps(seeded[0], dash_settings), staff_numbers=(ALICE,))
    async with TestClient(TestServer(dashboard_app(deps), host="127.0.0.1")) as client:
        assert await login(client) == 303
        html = await (await client.get("/conversations")).text()
        assert f">{STOPPED}</a>" in html
        assert f">{ALICE}</a>" not in html
        api = await (await client.get("/api/v1/conversations?limit=100")).json()
        assert ALICE not in {row["e164"] for row in api["items"]}
