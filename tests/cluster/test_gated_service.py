"""serve() with a link gate: a PBX link is connected only while held, and caught up on taking it.

A hand-driven gate stands in for the lease keeper: the real service, two built-in AMI
servers (the first writing its CDR like ``cdr_csv``), SQLite.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import read_trace
from asterisk_textback.app.service import RunningService, serve
from asterisk_textback.cdr.csvfile import read_calls
from asterisk_textback.cdr.model import CdrOutcome
from asterisk_textback.config import settings_from_mapping
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.leases import list_leases
from asterisk_textback.store.models import Call
from asterisk_textback.store.schema import upgrade
from asterisk_textback.tenancy.leases import LeaseKeeper
from asterisk_textback.tenancy.settings import ClusterSettings
from asterisk_textback.textback.loading import PreparedConfig, prepare
from tests.app.blip_support import copies


class HandGate:
    """A LinkGate the test hands links to and takes them from."""

    def __init__(self) -> None:
        self._owned: dict[str, asyncio.Event] = {}
        self._lost: dict[str, asyncio.Event] = {}

    def _events(self, link: str) -> tuple[asyncio.Event, asyncio.Event]:
        if link not in self._owned:
            self._owned[link], self._lost[link] = asyncio.Event(), asyncio.Event()
            self._lost[link].set()
        return self._owned[link], self._lost[link]

    def give(self, link: str) -> None:
        owned, lost = self._events(link)
        lost.clear()
        owned.set()

    def take(self, link: str) -> None:
        owned, lost = self._events(link)
        owned.clear()
        lost.set()

    async def wait_owned(self, link: str) -> None:
        await self._events(link)[0].wait()

    def owned(self, link: str) -> bool:
        return self._events(link)[0].is_set()

    async def wait_lost(self, link: str) -> None:
        await self._events(link)[1].wait()


async def _until(check: object, what: str, limit: float = 10.0) -> None:
    assert callable(check)
    async with asyncio.timeout(limit):
        while not check():  # noqa: ASYNC110 - polls counters of the running service
            await asyncio.sleep(0.01)
    assert check(), what


async def _calls(url: str) -> list[tuple[str, str]]:
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            rows = (await session.execute(select(Call.pbx, Call.linkedid))).all()
    finally:
        await engine.dispose()
    return [(str(pbx), str(linkedid)) for pbx, linkedid in rows]


async def test_a_link_is_watched_only_while_held_and_caught_up_when_taken_again(
    tmp_path: Path, traces_dir: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    await upgrade(url)
    cdr = tmp_path / "Master.csv"
    trace = read_trace(traces_dir / "ringgroup-novm-caller-hangup-ringing.ami")
    gate = HandGate()
    async with AmiServer({"tb": "a"}, cdr_csv=cdr) as east, AmiServer({"tb": "b"}) as west:
        settings = settings_from_mapping(
            {
                "pbx": {
                    "name": "east",
                    "port": east.port,
                    "username": "tb",
                    "secret": "a",
                    "cdr_csv": str(cdr),
                    "reconnect_min": 0.05,
                },
                "pbxes": [{"name": "west", "port": west.port, "username": "tb", "secret": "b"}],
                "database": {"url": url},
                "web": {"enabled": False},
            }
        )
        stop = asyncio.Event()
        seen: dict[str, object] = {}

        async def drive(parts: RunningService) -> None:
            await asyncio.sleep(0.3)
            seen["before"] = (east.logged_in, west.logged_in)
            gate.give("default/east")
            await asyncio.wait_for(east.wait_logged_in(), 5)
            seen["west while east held"] = west.logged_in
            (live,) = copies(trace, 1, end_at=time.time())
            await east.stream(live.frames)
            await _until(lambda: parts.recorder.recorded == 1, "the live call")
            gate.take("default/east")
            await _until(lambda: east.logged_in == 0, "east closed once lost", 2.0)
            # Three callers miss while nobody watches east; its CDR has them.
            await asyncio.sleep(1.1)  # CDR times are whole seconds
            down = copies(trace, 3, end_at=time.time(), first=1)
            for call in down:
                await east.stream(call.frames)
            seen["cdr"] = east.cdr.written if east.cdr else 0
            await asyncio.sleep(0.3)
            seen["recorded while lost"] = parts.recorder.recorded
            gate.give("default/east")
            await asyncio.wait_for(east.wait_logged_in(), 5)
            await _until(lambda: parts.recorder.recorded == 4, "the 3 read from the CDR")
            seen["linkedids"] = {live.linkedid, *(c.linkedid for c in down)}
            stop.set()

        await serve(prepare(settings), stop, environ={}, on_ready=drive, link_gate=gate)
    assert seen["before"] == (0, 0)
    assert seen["west while east held"] == 0
    assert seen["cdr"] == 4
    assert seen["recorded while lost"] == 1
    rows = await _calls(url)
    assert sorted(rows) == sorted(("east", x) for x in seen["linkedids"])  # type: ignore[attr-defined]


async def test_the_sim_cdr_is_what_the_catch_up_reads(tmp_path: Path, traces_dir: Path) -> None:
    cdr = tmp_path / "Master.csv"
    missed = read_trace(traces_dir / "ringgroup-novm-caller-hangup-ringing.ami")
    answered = read_trace(traces_dir / "direct-answered.ami")
    async with AmiServer(cdr_csv=cdr) as pbx:  # nobody logged in: the CDR is still written
        (m,) = copies(missed, 1, end_at=time.time())
        (a,) = copies(answered, 1, end_at=time.time(), first=1)
        await pbx.stream(m.frames)
        await pbx.stream(a.frames)
    calls = {c.key: c for c in read_calls(cdr)}
    assert set(calls) == {m.linkedid, a.linkedid}
    assert calls[m.linkedid].outcome is not CdrOutcome.ANSWERED
    assert calls[m.linkedid].caller.endswith(m.number)
    assert calls[a.linkedid].outcome is CdrOutcome.ANSWERED


async def test_a_keeper_shared_by_two_services_lets_go_of_a_stopped_ones_links(
    pg_url: str, lease_engine: AsyncEngine
) -> None:
    await upgrade(pg_url)
    fast = ClusterSettings(enabled=True, lease_seconds=3.0, renew_seconds=0.5)
    async with (
        AmiServer({"tb": "a"}) as east,
        AmiServer({"tb": "b"}) as west,
        LeaseKeeper(lease_engine, "host/1", fast, []) as keeper,
    ):

        def settings(name: str, server: AmiServer, secret: str) -> PreparedConfig:
            pbx = {"name": name, "port": server.port, "username": "tb", "secret": secret}
            mapping = {"pbx": pbx, "database": {"url": pg_url}, "web": {"enabled": False}}
            return prepare(settings_from_mapping(mapping))

        stop_east, stop_west = asyncio.Event(), asyncio.Event()
        serving = [
            asyncio.create_task(
                serve(settings("east", east, "a"), stop_east, environ={}, link_gate=keeper)
            ),
            asyncio.create_task(
                serve(settings("west", west, "b"), stop_west, environ={}, link_gate=keeper)
            ),
        ]
        await asyncio.wait_for(east.wait_logged_in(), 10)
        await asyncio.wait_for(west.wait_logged_in(), 10)
        assert keeper.held() == ["default/east", "default/west"]
        stop_east.set()  # e.g. its tenant file was removed
        await serving[0]
        assert east.logged_in == 0
        await _until(lambda: keeper.held() == ["default/west"], "east let go")
        await asyncio.sleep(fast.renew_seconds * 2.5)
        assert [x.link for x in await list_leases(lease_engine)] == ["default/west"]
        assert west.logged_in == 1
        stop_west.set()
        await serving[1]


async def test_a_reload_does_not_connect_a_link_this_instance_does_not_hold(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    await upgrade(url)
    gate = HandGate()
    async with AmiServer({"tb": "a"}) as east:

        def config(reconnect_max: float) -> PreparedConfig:
            pbx = {
                "name": "east",
                "port": east.port,
                "username": "tb",
                "secret": "a",
                "reconnect_max": reconnect_max,
            }
            mapping = {"pbx": pbx, "database": {"url": url}, "web": {"enabled": False}}
            return prepare(settings_from_mapping(mapping))

        stop, reload = asyncio.Event(), asyncio.Event()
        seen: dict[str, int] = {}

        async def drive(parts: RunningService) -> None:
            reload.set()  # east's settings changed: the reloader opens a new connection
            assert parts.reloader is not None
            reloader = parts.reloader
            await _until(lambda: reloader.applied == 1, "the reload")
            await asyncio.sleep(1.5)  # closed again within a second
            east.max_logged_in = east.logged_in
            await asyncio.sleep(1.2)
            seen["after reload"] = east.max_logged_in
            gate.give("default/east")
            await asyncio.wait_for(east.wait_logged_in(), 5)
            seen["once held"] = east.logged_in
            stop.set()

        await serve(
            config(5.0),
            stop,
            environ={},
            on_ready=drive,
            link_gate=gate,
            reload=reload,
            load_config=lambda: config(7.0),
        )
    assert seen == {"after reload": 0, "once held": 1}
