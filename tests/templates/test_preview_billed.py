"""``templates preview`` shows what is billed: each variant, previewed and really sent, agrees.

Every template and variant of a configuration goes through the whole pipeline: a missed call
is recorded by the real :class:`CallHandler` (policy, drafting, outbox), the real dispatcher
hands it to the generic webhook provider, and a local gateway receives it. The body that
reached the gateway has the preview's length, encoding and segment count, and is the
preview's text once the tracking token (the call's own) is masked in both.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason
from asterisk_textback.config import Settings, load_settings
from asterisk_textback.kpi.conversions import call_token
from asterisk_textback.outbox.dispatcher import Dispatcher
from asterisk_textback.outbox.settings import DispatchSettings
from asterisk_textback.sms.settings import ProviderSettings, WebhookSettings
from asterisk_textback.sms.vendors.webhook import WebhookProvider
from asterisk_textback.templates.preview import PreviewRow, preview_rows
from asterisk_textback.templates.segments import count_segments
from asterisk_textback.templates.variants import assign_variant
from asterisk_textback.textback.handler import CallHandler
from asterisk_textback.textback.loading import PreparedConfig, prepare
from tests.app.fakes import FakeGateway, fake_gateway

Sessions = async_sessionmaker[AsyncSession]
CONTRIB = Path(__file__).parents[2] / "contrib" / "textback.toml"
#: A call token in a link: ``<call end, base 36>-<8 base-32 characters>``.
TOKEN = re.compile(r"(?<==)[0-9a-z]{1,8}-[a-z2-7]{8}(?=$|[&\s])")
FAST = DispatchSettings(workers=1, batch_size=20, retry_min_seconds=0.2, poll_seconds=0.02)
#: A caller's name and number are what a real call brings; the sample's name is used.
CALLER_NAME = "Jordan Smith"
#: The defaults plus a UCS-2 template with two variants (an emoji makes a text UCS-2).
EXTRA_TEMPLATES: dict[str, Any] = {
    "thanks": {
        "variants": [
            {"name": "plain", "body": "Thanks {{ first_name }}! Book: {{ booking_link }}"},
            {"name": "emoji", "body": "Thanks {{ first_name }} 🙂 Book: {{ booking_link }}"},
        ]
    }
}


@pytest.fixture
def backend() -> str:
    """SQLite only: the body is built before the database is touched."""
    return "sqlite"


def _with_rules(base: dict[str, Any]) -> tuple[Settings, dict[str, str]]:
    """``base`` with one rule per template, matched by its own DID; DID per template."""
    probe = Settings.model_validate(base)
    dids = {name: f"2125550{100 + i}" for i, name in enumerate(probe.templates.templates)}
    rules = [{"name": name, "did": [did], "template": name} for name, did in dids.items()]
    data = {
        **base,
        "rules": rules,
        "suppression": {
            "quiet_hours": None,
            "global_rate_per_minute": 0,
            "per_prefix_rate_per_minute": 0,
        },
    }
    return Settings.model_validate(data), dids


def _defaults(link: str | None) -> dict[str, Any]:
    business: dict[str, Any] = {"name": "Acme Plumbing", "timezone": "America/New_York"}
    if link is not None:
        business["booking_link"] = link
    return {"business": business, "templates": dict(EXTRA_TEMPLATES)}


def _contrib() -> dict[str, Any]:
    data = load_settings(CONTRIB).model_dump(mode="json", exclude_none=True)
    return {"business": data["business"], "templates": data["templates"]}


def _caller_for(loaded: PreparedConfig, template: str, variant: str, used: set[str]) -> str:
    """A fresh (never texted) number that ``variant`` of ``template`` is assigned to."""
    templates = loaded.settings.templates
    spec = templates.template(template)
    for n in range(1000):
        number = f"+1646555{n:04d}"
        picked = assign_variant(templates.experiment_name(template), number, spec.variants)
        if number not in used and picked.name == variant:
            used.add(number)
            return number
    raise AssertionError(f"no caller found for {template}/{variant}")


def _call(number: str, did: str, index: int, at: float | None = None) -> CallEnded:
    ended = (time.time() if at is None else at) - 5
    return CallEnded(
        linkedid=f"{ended:.0f}.{index}",
        direction=Direction.INBOUND,
        outcome=Outcome.MISSED_NO_VOICEMAIL,
        reason=Reason.NO_ANSWER,
        caller_number=number,
        caller_name=CALLER_NAME,
        did=did,
        queue=None,
        mailbox=None,
        started_at=ended - 30,
        ended_at=ended,
        ring_seconds=25.0,
    )


async def _send_all(
    sessions: Sessions,
    loaded: PreparedConfig,
    calls: list[CallEnded],
    gateway: FakeGateway,
    clock: Callable[[], float] = time.time,
) -> dict[str, str]:
    """Record ``calls`` for real, dispatch them; the body the gateway got, by number."""
    handler = CallHandler(
        loaded, sessions, on_queued=lambda: None, tracking_secret="s3cret", clock=clock
    )
    for call in calls:
        assert (await handler.record(call)).queued, call
    hook = WebhookSettings.model_validate({"url": gateway.url})
    async with aiohttp.ClientSession() as http:
        dispatcher = Dispatcher(
            sessions,
            WebhookProvider(hook, http, None),
            FAST,
            ProviderSettings(rate_per_second=1000),
            clock=clock,
        )
        task = asyncio.create_task(dispatcher.run())
        try:
            async with asyncio.timeout(10):
                while len(gateway.requests) < len(calls):
                    gateway.arrived.clear()
                    await gateway.arrived.wait()
        finally:
            dispatcher.stop()
            await task
    return {str(r["to"]): str(r["body"]) for r in gateway.requests}


def _masked(body: str) -> str:
    return TOKEN.sub("<token>", body)


async def _compare(sessions: Sessions, base: dict[str, Any]) -> list[PreviewRow]:
    settings, dids = _with_rules(base)
    loaded = prepare(settings)
    rows = preview_rows(settings, loaded.renderer)
    used: set[str] = set()
    numbers = [_caller_for(loaded, r.template, r.variant, used) for r in rows]
    calls = [
        _call(n, dids[r.template], i) for i, (n, r) in enumerate(zip(numbers, rows, strict=True))
    ]
    async with fake_gateway() as gateway:
        sent = await _send_all(sessions, loaded, calls, gateway)
    for row, number in zip(rows, numbers, strict=True):
        body = sent[number]
        billed = count_segments(body)
        label = f"{row.template}/{row.variant}: {body!r}"
        assert (row.chars, row.encoding, row.segments) == (
            billed.length,
            billed.encoding,
            billed.segments,
        ), label
        assert _masked(row.body) == _masked(body), label
        if settings.business.booking_link and "<token>" in _masked(body):
            # The masked token really was one, and not the preview's: both are of real calls.
            assert TOKEN.search(row.body)
            assert TOKEN.search(body)
    return rows


@pytest.mark.parametrize(
    "link",
    [
        None,
        "https://acme.example/book",
        "https://calendly.com/acme-plumbing/estimate",
        "https://cal.com/acme/visit?duration=30",
    ],
)
async def test_every_default_template_previews_as_it_is_sent(
    session_factory: Sessions, link: str | None
) -> None:
    rows = await _compare(session_factory, _defaults(link))
    names = {r.template for r in rows}
    assert {"missed_voicemail", "missed_no_voicemail", "after_hours", "busy"} <= names
    assert {r.encoding for r in rows} == {"GSM-7", "UCS-2"}
    if link is not None:
        assert all(link.split("?")[0] in r.body for r in rows if "Book" in r.body)


async def test_the_sample_configuration_previews_as_it_is_sent(session_factory: Sessions) -> None:
    rows = await _compare(session_factory, _contrib())
    assert len({r.template for r in rows}) < len(rows)  # a template with several variants


def test_the_preview_link_carries_a_token_of_todays_length() -> None:
    # The case: 157 characters previewed, 175 sent; the link lacked its token.
    settings, _ = _with_rules(_defaults("https://acme.example/book"))
    loaded = prepare(settings)
    row = next(r for r in preview_rows(settings, loaded.renderer) if r.template == "busy")
    match = TOKEN.search(row.body)
    assert match is not None
    today = call_token("default", "1717437900.1", time.time(), "another secret")
    assert len(match[0]) == len(today) == 15
    assert f"https://acme.example/book?tb={match[0]}" in row.body
    assert row.chars == len(row.body)
