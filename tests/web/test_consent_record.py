"""The consent record: a download on the Conversation page, and the API's JSON."""

from __future__ import annotations

import csv
import io

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.compliance.evidence import CSV_HEADER
from tests.web.conftest import API_TOKEN, Client
from tests.web.seed import Seeded

Seed = tuple[async_sessionmaker[AsyncSession], Seeded]
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
ALICE = "+12125550101"
STOPPED = "+12125550102"


async def test_the_conversation_page_links_the_download(logged_in: Client, seeded: Seed) -> None:
    page = await (await logged_in.get(f"/conversations/{ALICE}")).text()
    assert f'href="/conversations/{ALICE}/consent.csv"' in page
    response = await logged_in.get(f"/conversations/{ALICE}/consent.csv")
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="consent-12125550101.csv"'
    )
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert tuple(rows[0]) == CSV_HEADER
    events = [r[2] for r in rows[1:]]
    assert events == ["call", "text sent", "text received"]
    assert rows[2][5] == "delivered"
    assert rows[3][4] == "Yes please call me back tomorrow morning"


async def test_the_download_needs_a_login(client: Client, seeded: Seed) -> None:
    response = await client.get(f"/conversations/{ALICE}/consent.csv", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/login?next=")


async def test_an_unknown_number_is_404(logged_in: Client, seeded: Seed) -> None:
    response = await logged_in.get("/conversations/+12125559999/consent.csv")
    assert response.status == 404


async def test_the_api_gives_the_json_record(client: Client, seeded: Seed) -> None:
    url = f"/api/v1/conversations/{STOPPED}/consent"
    unauthorised = await client.get(url)
    assert unauthorised.status == 401
    response = await client.get(url, headers=AUTH)
    assert response.status == 200
    record = await response.json()
    assert record["number"] == STOPPED
    assert record["opted_out"] is True
    assert record["consent_source"] == "sms:stop"  # seeded without a keyword
    types = [e["type"] for e in record["events"]]
    assert types[0] == "call"
    assert "opt_out" in types
    stop = next(e for e in record["events"] if e["type"] == "opt_out")
    assert (stop["wording"], stop["source"]) == ("STOP", "sms:stop")
    missing = await client.get("/api/v1/conversations/+12125559999/consent", headers=AUTH)
    assert missing.status == 404
    assert (await missing.json())["error"] == "not_found"
