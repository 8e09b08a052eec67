"""The FastAGI path over real TCP sessions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from asterisk_textback.agi.server import AgiState
from asterisk_textback.store import contacts
from asterisk_textback.store.uow import unit_of_work
from tests.agi.support import NOW, Harness, StartAgi, environment, play_asterisk

QUEUED = ['SET VARIABLE TEXTBACK_STATUS "queued"']
ERROR = ['SET VARIABLE TEXTBACK_STATUS "error"']


def _suppressed(reason: str) -> list[str]:
    return [f'SET VARIABLE TEXTBACK_STATUS "suppressed:{reason}"']


async def test_a_request_is_queued_and_the_channel_told(agi: Harness) -> None:
    seen = await agi.call(environment())
    assert seen.commands == QUEUED
    assert seen.closed_cleanly
    [message] = await agi.messages()
    assert message.to_e164 == "+12125550147"
    assert message.kind == "agi"
    assert message.template == "booking"
    assert message.body.startswith("Book with Acme Plumbing: https://example.com/book")
    assert message.idempotency_key == "default:1717484400.17:agi:booking"
    assert message.call_id is None
    # 03:00 for the caller, but they asked for it just now: quiet hours do not hold it back.
    assert message.send_at.replace(tzinfo=UTC) == datetime.fromtimestamp(NOW, tz=UTC)
    assert agi.woken == [1]
    assert (agi.server.stats.sessions, agi.server.stats.queued) == (1, 1)


async def test_an_opted_out_caller_is_not_texted(agi: Harness) -> None:
    async with unit_of_work(agi.sessions) as session:
        now = datetime.fromtimestamp(NOW, tz=UTC) - timedelta(days=3)
        await contacts.opt_out(session, "+12125550147", now=now, source="sms:STOP")
    seen = await agi.call(environment())
    assert seen.commands == _suppressed("opted_out")
    assert seen.closed_cleanly
    assert await agi.messages() == []
    assert agi.woken == []
    assert agi.server.stats.suppressed == 1


async def test_an_anonymous_caller_is_not_texted(agi: Harness) -> None:
    seen = await agi.call(environment(callerid="anonymous"))
    assert seen.commands == _suppressed("anonymous")
    # Presentation restricted (prohib_passed_screen): Asterisk knows the number, we do not use it.
    seen = await agi.call(environment(uniqueid="1717484400.18", callingpres=35))
    assert seen.commands == _suppressed("anonymous")
    assert await agi.messages() == []


async def test_an_unknown_template_is_an_error(agi: Harness) -> None:
    seen = await agi.call(environment("textback?template=nosuch"))
    assert seen.commands == ERROR
    assert seen.closed_cleanly
    assert await agi.messages() == []
    assert agi.server.stats.errors == 1


async def test_a_retried_channel_queues_one_text(agi: Harness) -> None:
    first = await agi.call(environment())
    again = await agi.call(environment())
    assert first.commands == again.commands == QUEUED
    assert len(await agi.messages()) == 1
    assert agi.woken == [1]


async def test_another_channel_of_the_same_caller_is_not_held_by_the_cooldown(
    agi: Harness,
) -> None:
    await agi.call(environment())
    seen = await agi.call(environment(uniqueid="1717484999.40"))
    assert seen.commands == QUEUED
    assert len(await agi.messages()) == 2


async def test_a_garbled_environment_is_an_error_and_the_socket_closes(agi: Harness) -> None:
    garbled = b"GET / HTTP/1.1\r\nHost: pbx\r\n\x00\xff\xfe not agi at all\n\n"
    seen = await agi.call(garbled)
    assert seen.commands == ERROR
    assert seen.closed_cleanly
    # Closed before the blank line: no answer to wait for, and the server does not spin.
    seen = await agi.call(b"agi_network: yes\nagi_network_scr", eof=True)
    assert seen.closed_cleanly
    assert seen.commands == []
    # The service still answers the next channel.
    assert (await agi.call(environment())).commands == QUEUED
    assert len(await agi.messages()) == 1
    assert agi.server.state is AgiState.LISTENING


async def test_a_bad_url_is_an_error(agi: Harness) -> None:
    for script in (
        "textback",
        "other?template=booking",
        "textback?template=booking&colour=red",
        "textback?template=booking&delay=-5",
    ):
        seen = await agi.call(environment(script))
        assert seen.commands == ERROR, script
    assert await agi.messages() == []


async def test_delay_and_an_explicit_number(agi: Harness) -> None:
    seen = await agi.call(environment("textback?template=booking&to=%2B12125550199&delay=60"))
    assert seen.commands == QUEUED
    [message] = await agi.messages()
    assert message.to_e164 == "+12125550199"
    due = datetime.fromtimestamp(NOW + 60, tz=UTC)
    assert message.send_at.replace(tzinfo=UTC) == due


async def test_a_plus_in_to_is_kept_and_the_country_checked(agi: Harness) -> None:
    # Asterisk does not URL-encode: "+44…" must stay international (and GB is not allowed).
    seen = await agi.call(environment("textback?template=booking&to=+447911123456"))
    assert seen.commands == _suppressed("country_not_allowed")


async def test_the_rate_caps_apply(start_agi: StartAgi) -> None:
    agi = await start_agi(global_rate_per_minute=1)
    assert (await agi.call(environment())).commands == QUEUED
    seen = await agi.call(environment(uniqueid="1717484999.40", callerid="3125550147"))
    assert seen.commands == _suppressed("rate_limited_global")
    assert len(await agi.messages()) == 1


async def test_stop_closes_the_listener(agi: Harness) -> None:
    port = agi.server.port
    await agi.server.stop()
    assert agi.server.state is AgiState.CLOSED
    with pytest.raises(ConnectionRefusedError):
        await play_asterisk(port, environment())
    await agi.server.stop()  # twice is harmless
