"""Start-up catch-up: calls missed while the service was down come back from the CDR, once."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import read_trace
from asterisk_textback.app.service import RunningService, serve
from asterisk_textback.config import settings_from_mapping
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.marks import get_mark, save_mark
from asterisk_textback.store.models import Call, Message
from asterisk_textback.store.schema import upgrade
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.textback.loading import prepare
from tests.app.blip_support import Copy, cdr_row, copies

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(url: str, ami_port: int, cdr: Path, web_port: int | None = None) -> Any:
    return settings_from_mapping(
        {
            "pbx": {"name": "office", "port": ami_port, "username": "tb", "secret": "pw"}
            | {"cdr_csv": str(cdr), "reconnect_min": 0.05},
            "database": {"url": url},
            "web": {"enabled": web_port is not None, "port": web_port or 8080},
            "provider": {"rate_per_second": 10_000},
            "suppression": {"quiet_hours": False, "misdial_min_seconds": 0, "max_age_minutes": 30},
        }
    )


async def _texts(url: str) -> tuple[list[Call], list[Message]]:
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            calls = list((await session.scalars(select(Call))).all())
            texts = list((await session.scalars(select(Message))).all())
            return calls, texts
    finally:
        await engine.dispose()


async def test_calls_missed_while_down_are_texted_once_on_start(
    db_url: str, tmp_path: Path
) -> None:
    cdr = tmp_path / "Master.csv"
    missed = read_trace(FIXTURES / "traces" / "ringgroup-novm-caller-hangup-ringing.ami")
    lives: list[Copy] = []
    # Ended before the last stop, and more than max_age (30 min) ago: never read back.
    (stale,) = copies(missed, 1, end_at=time.time() - 3600, first=10)
    web_port = _free_port()
    async with AmiServer({"tb": "pw"}) as pbx:
        # First life: one call seen live, then a graceful stop (the mark is saved).
        stop = asyncio.Event()

        async def first(parts: RunningService) -> None:
            await parts.connection.wait_ready()
            lives.extend(copies(missed, 1, end_at=time.time()))  # ends while we watch
            await pbx.stream(lives[0].frames)
            async with asyncio.timeout(10):
                while parts.dispatcher.stats.sent < 1:  # noqa: ASYNC110 - a counter
                    await asyncio.sleep(0.02)
            stop.set()

        await serve(prepare(_settings(db_url, pbx.port, cdr)), stop, environ={}, on_ready=first)
        (live,) = lives
        engine = create_engine(db_url)
        async with create_session_factory(engine)() as session:
            mark = await get_mark(session, "office")
        await engine.dispose()
        assert mark is not None
        assert mark < time.time()
        await asyncio.sleep(1.1)  # cdr_csv times have whole seconds
        down = copies(missed, 3, end_at=time.time(), first=1)
        # While down: Asterisk wrote the rows of every call (the live one's too).
        cdr.write_text("".join(cdr_row(c, "NO ANSWER") for c in (stale, live, *down)))
        stop = asyncio.Event()
        health: dict[str, Any] = {}

        async def second(parts: RunningService) -> None:
            async with asyncio.timeout(10):
                while parts.dispatcher.stats.sent < len(down):  # noqa: ASYNC110 - a counter
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)  # a duplicate would show up now
            url = f"http://127.0.0.1:{web_port}/healthz"
            async with aiohttp.ClientSession() as http, http.get(url) as resp:
                health.update(await resp.json())
            stop.set()

        settings = _settings(db_url, pbx.port, cdr, web_port)
        await serve(prepare(settings), stop, environ={}, on_ready=second)
    calls, texts = await _texts(db_url)
    assert sorted(c.linkedid for c in calls) == sorted(c.linkedid for c in (live, *down))
    assert Counter(t.to_e164 for t in texts) == {f"+1{c.number}": 1 for c in (live, *down)}
    report = health["catchup"]["office"]
    assert (report["state"], report["calls"], report["missed"]) == ("done", 4, 4)
    assert report["after_outages"] == {
        "resolved": 0,
        "recovered": 0,
        "up_at_start": 0,
        "unresolved": 0,
        "read_errors": 0,
        "waiting": 0,
    }


async def test_a_call_already_up_at_start_is_read_from_the_cdr_as_it_ends(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    await upgrade(url)
    cdr = tmp_path / "Master.csv"
    missed = read_trace(FIXTURES / "traces" / "ringgroup-novm-caller-hangup-ringing.ami")
    async with AmiServer({"tb": "pw"}) as pbx:
        stop = asyncio.Event()
        up: list[Copy] = []

        async def drive(parts: RunningService) -> None:
            await parts.connection.wait_ready()
            (call,) = copies(missed, 1, end_at=time.time() + 0.5)
            up.append(call)
            # It began a minute ago, before we started: we see only its second half.
            half = len(call.frames) // 2
            await pbx.stream(call.frames[half:], pace=True)
            cdr.write_text(cdr_row(call, "NO ANSWER", began=time.time() - 60))
            async with asyncio.timeout(20):  # the CDR is polled every 0.5 s, backing off to 10 s
                while parts.dispatcher.stats.sent < 1:  # noqa: ASYNC110 - a counter
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)
            stop.set()

        parts = await serve(
            prepare(_settings(url, pbx.port, cdr)), stop, environ={}, on_ready=drive
        )
    assert parts.tracker.stats.partial_dropped == 1  # the events alone could not report it
    assert parts.startup is not None
    assert parts.startup.health()["office"]["after_outages"]["up_at_start"] == 1
    calls, texts = await _texts(url)
    assert [c.linkedid for c in calls] == [up[0].linkedid]
    assert [t.to_e164 for t in texts] == [f"+1{up[0].number}"]


async def test_an_unreadable_cdr_is_reported_and_the_mark_kept(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    await upgrade(url)
    engine = create_engine(url)
    async with unit_of_work(create_session_factory(engine)) as session:
        await save_mark(session, "office", time.time() - 600)
        mark = await get_mark(session, "office")
    cdr = tmp_path / "cdr-csv"
    cdr.mkdir()  # a directory where the file should be: every read fails
    async with AmiServer({"tb": "pw"}) as pbx:
        stop = asyncio.Event()
        health: dict[str, Any] = {}

        async def drive(parts: RunningService) -> None:
            assert parts.startup is not None
            async with asyncio.timeout(10):
                while parts.startup.report["office"]["state"] == "pending":  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            await pbx.stream(read_trace(FIXTURES / "traces" / "direct-answered.ami"))
            async with asyncio.timeout(10):
                while parts.recorder.recorded < 1:  # noqa: ASYNC110 - a counter
                    await asyncio.sleep(0.02)
            health.update(parts.startup.health()["office"])
            stop.set()

        await serve(prepare(_settings(url, pbx.port, cdr)), stop, environ={}, on_ready=drive)
    assert health["state"] == "CDR unreadable"
    assert health["after_outages"]["read_errors"] >= 1
    async with create_session_factory(engine)() as session:
        assert await get_mark(session, "office") == mark  # the next start tries again
    await engine.dispose()
