"""Every sample message of the kit is byte for byte the body a real send of that call produces.

For each template and variant of ``contrib/textback.toml``: a caller assigned that variant
calls, the call is missed; the kit is built for that very call (same tracking secret) and the
call goes through the real :class:`CallHandler` (policy, drafting, outbox) and dispatcher to a
local SMS gateway. The body the gateway received equals the kit's sample, token included.
"""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.compliance.kit import build_kit
from asterisk_textback.compliance.kit_volume import no_history
from asterisk_textback.textback.loading import prepare
from tests.app.fakes import fake_gateway
from tests.templates.test_preview_billed import (
    _call,
    _caller_for,
    _contrib,
    _send_all,
    _with_rules,
)

Sessions = async_sessionmaker[AsyncSession]
SECRET = "s3cret"


@pytest.fixture
def backend() -> str:
    """SQLite only: the body is built before the database is touched."""
    return "sqlite"


async def test_every_kit_sample_is_the_body_sent(session_factory: Sessions) -> None:
    settings, dids = _with_rules(_contrib())
    loaded = prepare(settings)
    pairs = [
        (name, variant.name)
        for name, spec in settings.templates.templates.items()
        for variant in spec.variants
    ]
    used: set[str] = set()
    numbers = [_caller_for(loaded, name, variant, used) for name, variant in pairs]
    calls = [
        _call(n, dids[name], i) for i, (n, (name, _)) in enumerate(zip(numbers, pairs, strict=True))
    ]
    expected = {}
    for call, (name, variant) in zip(calls, pairs, strict=True):
        kit = build_kit(settings, loaded.renderer, no_history(), call=call, tracking_secret=SECRET)
        (sample,) = [s for s in kit.samples if (s.template, s.variant) == (name, variant)]
        expected[call.caller_number] = sample.body
    async with fake_gateway() as gateway:
        sent = await _send_all(session_factory, loaded, calls, gateway)
    assert len(sent) == len(pairs) >= 7
    for number, body in expected.items():
        assert sent[number] == body
    # The samples really differ per call: the booking link's token is the call's own.
    links = [b for b in expected.values() if "?tb=" in b]
    assert len(links) >= 2
    tokens = {b.split("?tb=")[1].split()[0] for b in links}
    assert len(tokens) == len(links)
