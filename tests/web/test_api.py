"""The JSON API: pagination, errors, and the OpenAPI description kept in sync with the routes."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from asterisk_textback.web.dashboard.api import PREFIX
from tests.web.conftest import API_TOKEN, Client
from tests.web.seed import Seeded

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


async def _json(client: Client, path: str, status: int = 200) -> Any:
    response = await client.get(path, headers=AUTH)
    assert response.status == status, await response.text()
    return await response.json()


async def test_calls_pagination_walks_every_call_once(
    client: Client, seeded: tuple[object, Seeded]
) -> None:
    """limit + cursor visit each call once, newest first, and end with a null cursor."""
    seen: list[int] = []
    cursor = ""
    while True:
        page = await _json(client, f"{PREFIX}/calls?limit=5{cursor}")
        assert len(page["items"]) <= 5
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert len(seen) == len(set(seen)) == seeded[1].total_calls
    assert len(seen) == 12


async def test_call_fields_and_filters(client: Client, seeded: tuple[object, Seeded]) -> None:
    """Decision, variant, status and first response; filters as on the page."""
    page = await _json(client, f"{PREFIX}/calls?outcome=missed_voicemail")
    (alice,) = page["items"]
    assert alice["variant"] == "control"
    assert alice["text_status"] == "delivered"
    assert alice["first_response_seconds"] == 1.5
    assert alice["booked"] is True
    detail = await _json(client, f"{PREFIX}/calls/{seeded[1].alice_call}")
    assert [i["direction"] for i in detail["thread"]["items"]] == ["out", "in"]
    await _json(client, f"{PREFIX}/calls?limit=0", status=400)
    await _json(client, f"{PREFIX}/calls?cursor=garbage", status=400)
    await _json(client, f"{PREFIX}/calls/424242", status=404)


async def test_messages_conversations_kpis_experiments(client: Client) -> None:
    """Each collection answers with its documented shape."""
    messages = await _json(client, f"{PREFIX}/messages?limit=2")
    assert len(messages["items"]) == 2
    assert messages["next_cursor"]
    rest = await _json(client, f"{PREFIX}/messages?limit=2&cursor={messages['next_cursor']}")
    assert {m["id"] for m in rest["items"]}.isdisjoint(m["id"] for m in messages["items"])
    failed = await _json(client, f"{PREFIX}/messages?status=failed")
    assert [m["last_error"] for m in failed["items"]] == ["21211 invalid number"]
    conversations = await _json(client, f"{PREFIX}/conversations?limit=1")
    assert len(conversations["items"]) == 1
    assert conversations["next_cursor"]
    thread = await _json(client, f"{PREFIX}/conversations/%2B12125550102")
    assert thread["opted_out"] is True
    kpis = await _json(client, f"{PREFIX}/kpis?period=2026-11")
    by_key = {k["key"]: k for k in kpis["kpis"]}
    assert by_key["missed_call_rate"]["value"] == 4 / 12
    assert by_key["revenue"]["value"] == 150.0
    assert kpis["calculator"]["missed_calls"] == 4
    assert len(kpis["daily"]["days"]) == 30
    experiments = await _json(client, f"{PREFIX}/experiments?period=2026-11")
    (opening,) = experiments["experiments"]
    reply = opening["metrics"]["reply"]
    assert reply["control"] == "control"
    assert reply["comparisons"][0]["enough_data"] is False


def _documented(spec: dict[str, Any]) -> set[str]:
    return set(spec["paths"])


def _routed(app: web.Application) -> set[str]:
    paths = set()
    for resource in app.router.resources():
        path = resource.canonical
        if path.startswith(PREFIX):
            paths.add(re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path))
    return paths


async def test_openapi_matches_routes(client: Client, seeded: tuple[object, Seeded]) -> None:
    """Every route is documented, and every documented path answers 200 with the token."""
    spec = await (await client.get(f"{PREFIX}/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    assert _documented(spec) == _routed(client.app)
    examples = {"call_id": str(seeded[1].alice_call), "e164": "+12125550101"}
    for path, item in spec["paths"].items():
        if "get" not in item:  # the staff reply (tests/web/test_inbox_api.py)
            assert item["post"]["responses"]["202"]
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: examples[m[1]], path)
        response = await client.get(url, headers=AUTH)
        assert response.status == 200, path
        assert "get" in item
        assert item["get"]["responses"]["200"]
        for param in item["get"].get("parameters", []):
            assert param["in"] in {"query", "path"}
            assert "schema" in param
    for name in re.findall(r'"\$ref": "#/components/schemas/(\w+)"', str(spec).replace("'", '"')):
        assert name in spec["components"]["schemas"]
