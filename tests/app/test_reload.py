"""SIGHUP reload inside one ``serve()``: refused configs, a new provider, a restarted AMI link.

Real parts throughout: the in-repo AMI server over TCP streaming recorded traces, SQLite,
the ``webhook`` provider posting to a local gateway. The reload is requested the way the
signal handler does it (the ``reload`` event) and re-reads the file from disk.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import read_trace
from asterisk_textback.ami.types import ConnectionState
from asterisk_textback.app.service import RunningService, serve
from asterisk_textback.store.schema import upgrade
from asterisk_textback.textback.loading import load
from tests.app.reloadsupport import BodyGateway, config
from tests.pipeline.support import (
    AMI_SECRET,
    AMI_USER,
    PBX_NAME,
    TRACES,
    Workload,
    build_workload,
    load_traces,
    query,
    sqlite_url,
    status_counts,
)

_WAIT = 20.0


async def _until(check: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(_WAIT):
            while not check():  # noqa: ASYNC110 - counters of the running service
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def _cut(work: Workload, ended: int) -> int:
    """A frame index after the first ``ended`` calls hung up, with later calls under way."""
    cut = max(work.final_hangup[i] for i in range(ended)) + 1
    assert any(work.first_frame[i] < cut < work.final_hangup[i] for i in work.final_hangup)
    return cut


async def _settled(parts: RunningService, db: Path, calls: int) -> None:
    """Every call recorded and no text left queued or sending."""

    def done() -> bool:
        counts = status_counts(db)
        return parts.recorder.recorded >= calls and not counts["queued"] + counts["sending"]

    await _until(done, f"{calls} calls recorded and their texts sent")


async def _serve(
    path: Path, reload: asyncio.Event, drive: Callable[[RunningService], Awaitable[None]]
) -> RunningService:
    stop = asyncio.Event()

    async def run(parts: RunningService) -> None:
        try:
            await drive(parts)
        finally:
            stop.set()

    return await serve(
        load(path), stop, environ={}, reload=reload, load_config=lambda: load(path), on_ready=run
    )


@pytest.mark.parametrize(
    ("bad", "key"),
    [
        ('\n[tracker]\ntrunk_contexts = "from-trunk"\n', "tracker.trunk_contexts"),
        ('\n[templates.promo]\nvariants = [{name = "x", body = "{{ oops"}]\n', "templates.promo"),
    ],
    ids=["wrong-type", "template-syntax"],
)
async def test_invalid_config_is_refused_and_the_old_one_keeps_texting(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, bad: str, key: str
) -> None:
    """One ERROR line naming the key, no traceback; calls before and after use the old text."""
    db = tmp_path / "t.db"
    await upgrade(sqlite_url(db))
    work = build_workload(load_traces(), 36, rate=50.0, start_at=time.time(), max_gap=0.1)
    cut = _cut(work, 12)
    path = tmp_path / "textback.toml"
    async with BodyGateway() as gateway, AmiServer({AMI_USER: AMI_SECRET}) as server:
        args = {"ami_port": server.port, "gateway_url": gateway.url, "database_url": sqlite_url(db)}
        config(path, marker="OLD", **args)
        reload = asyncio.Event()

        async def drive(parts: RunningService) -> None:
            await parts.connection.wait_ready()
            await server.stream(work.frames[:cut])
            config(path, marker="NEW", extra=bad, **args)
            with caplog.at_level(logging.ERROR, logger="asterisk_textback.app.reload"):
                reload.set()
                assert parts.reloader is not None
                await _until(lambda: parts.reloader.refused == 1, "the reload to be refused")
            await server.stream(work.frames[cut:])
            await _settled(parts, db, work.calls)

        parts = await _serve(path, reload, drive)
    errors = [r for r in caplog.records if r.name == "asterisk_textback.app.reload"]
    assert len(errors) == 1, errors
    message = errors[0].getMessage()
    assert errors[0].levelno == logging.ERROR
    assert errors[0].exc_info is None
    assert key in message
    assert "previous config keeps running" in message
    assert "\n" not in message
    assert parts.reloader is not None
    assert parts.reloader.applied == 0
    assert parts.recorder.recorded == work.calls
    assert gateway.texts, "missed callers should have been texted"
    assert len(gateway.texts) == status_counts(db)["sent"]
    assert {t.body.split()[0] for t in gateway.texts} == {"OLD"}


async def test_changed_provider_is_used_by_the_next_text(tmp_path: Path) -> None:
    """The text in flight finishes on the old gateway; the next ones go to the new one."""
    db = tmp_path / "t.db"
    await upgrade(sqlite_url(db))
    work = build_workload(load_traces(), 36, rate=50.0, start_at=time.time(), max_gap=0.1)
    cut = _cut(work, 12)
    path = tmp_path / "textback.toml"
    async with (
        BodyGateway(delay=0.5) as old_gw,
        BodyGateway() as new_gw,
        AmiServer({AMI_USER: AMI_SECRET}) as server,
    ):
        common = {"ami_port": server.port, "database_url": sqlite_url(db)}
        config(path, marker="OLD", gateway_url=old_gw.url, **common)
        reload = asyncio.Event()
        applied_at = 0.0

        async def drive(parts: RunningService) -> None:
            nonlocal applied_at
            await parts.connection.wait_ready()
            await server.stream(work.frames[:cut])
            await asyncio.wait_for(old_gw.arrived.wait(), _WAIT)  # a request is in flight
            config(path, marker="NEW", gateway_url=new_gw.url, **common)
            reload.set()
            assert parts.reloader is not None
            await _until(lambda: parts.reloader.applied == 1, "the reload")
            applied_at = time.time()
            await server.stream(work.frames[cut:])
            await _settled(parts, db, work.calls)

        parts = await _serve(path, reload, drive)
    # The request in flight at the reload was answered, not cut off (no 'unknown').
    assert status_counts(db) == {"sent": len(old_gw.texts) + len(new_gw.texts)}
    assert old_gw.texts
    assert all(t.at < applied_at for t in old_gw.texts)
    assert new_gw.texts
    keys = [t.key for t in old_gw.texts + new_gw.texts]
    assert len(keys) == len(set(keys))
    # Calls that ended after the reload were decided with the new template.
    after = {work.numbers[i] for i, pos in work.final_hangup.items() if pos >= cut}
    new_texts = [t for t in new_gw.texts if t.to[-10:] in after]
    assert new_texts
    assert {t.body.split()[0] for t in new_texts} == {"NEW"}
    assert parts.recorder.recorded == work.calls


async def test_changed_link_is_restarted_and_an_unchanged_one_is_not(tmp_path: Path) -> None:
    """West's new login replaces its link, east keeps its one connection.

    The same call is in flight on both PBXes across the reload. East's is texted once.
    West's is still followed after the swap (the new link resyncs from CoreShowChannels) and
    recorded once when it ends; the seconds between the two links are a gap like any
    reconnect, and with no dialplan hook and no CDR configured here nothing can tell how it
    ended, so it is stored ``unknown / connection_lost`` (with a CDR it would wait for its
    row: tests/app/test_blip.py).
    """
    db = tmp_path / "t.db"
    await upgrade(sqlite_url(db))
    trace = read_trace(TRACES / "ringgroup-novm-caller-hangup-ringing.ami")
    work = build_workload([trace], 1, rate=1.0, start_at=time.time(), max_gap=0.1)
    (number,) = work.numbers.values()
    half = (work.first_frame[0] + work.final_hangup[0]) // 2
    path = tmp_path / "textback.toml"
    async with (
        BodyGateway() as gateway,
        AmiServer({AMI_USER: AMI_SECRET}) as east,
        AmiServer({AMI_USER: AMI_SECRET, "other": "pw2"}) as west,
    ):
        args = {"ami_port": east.port, "gateway_url": gateway.url, "database_url": sqlite_url(db)}

        def west_pbx(user: str, secret: str) -> str:
            return (
                f'\n[[pbxes]]\nname = "west"\nport = {west.port}\n'
                f'username = "{user}"\nsecret = "{secret}"\n'
            )

        config(path, marker="OLD", extra=west_pbx(AMI_USER, AMI_SECRET), **args)
        reload = asyncio.Event()

        async def drive(parts: RunningService) -> None:
            for link in parts.pbxes:
                await link.connection.wait_ready()
            east_link, west_link = (link.connection for link in parts.pbxes)
            await asyncio.gather(east.stream(work.frames[:half]), west.stream(work.frames[:half]))
            await _until(
                lambda: [link.tracker.open_calls for link in parts.pbxes] == [1, 1],
                "the calls to start",
            )
            config(path, marker="OLD", extra=west_pbx("other", "pw2"), **args)
            reload.set()
            assert parts.reloader is not None
            await _until(lambda: parts.reloader.applied == 1, "the reload")
            assert parts.pbxes[0].connection is east_link
            assert east_link.state is ConnectionState.READY
            assert west_link.state is ConnectionState.CLOSED
            new_west = parts.pbxes[1].connection
            assert new_west is not west_link
            assert new_west.settings.username == "other"
            await new_west.wait_ready()
            await _until(lambda: new_west.stats.resyncs == 1, "the resync of the new link")
            assert [link.tracker.open_calls for link in parts.pbxes] == [1, 1]
            await asyncio.gather(east.stream(work.frames[half:]), west.stream(work.frames[half:]))
            await _settled(parts, db, 2)

        parts = await _serve(path, reload, drive)
    assert len(east.connection_times) == 1  # never reconnected
    assert len(west.connection_times) == 3  # the first login, the probe, the new link
    rows = query(db, "SELECT pbx, outcome, reason FROM calls ORDER BY pbx")
    assert rows == [
        (PBX_NAME, "missed_no_voicemail", "caller_hangup"),
        ("west", "unknown", "connection_lost"),
    ]
    assert [(t.key.split(":")[0], t.to[-10:]) for t in gateway.texts] == [(PBX_NAME, number)]
    assert parts.recorder.recorded == 2


async def test_web_listener_moves_without_refusing_a_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A reload rebuilding the web app answers every health check meanwhile; a new
    ``web.port`` moves the listener."""
    db = tmp_path / "t.db"
    await upgrade(sqlite_url(db))
    path = tmp_path / "textback.toml"
    first, second = _free_port(), _free_port()
    async with BodyGateway() as gateway, AmiServer({AMI_USER: AMI_SECRET}) as server:
        args = {"ami_port": server.port, "gateway_url": gateway.url, "database_url": sqlite_url(db)}
        config(path, marker="OLD", web_port=first, **args)
        reload = asyncio.Event()
        answers: list[int] = []

        async def poll(http: aiohttp.ClientSession, port: int, until: Callable[[], bool]) -> None:
            while not until():
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        answers.append(resp.status)
                except aiohttp.ClientError:
                    answers.append(0)

        async def drive(parts: RunningService) -> None:
            await parts.connection.wait_ready()
            reloader = parts.reloader
            assert reloader is not None
            async with aiohttp.ClientSession() as http:
                config(path, marker="NEW", web_port=first, **args)
                polling = asyncio.create_task(poll(http, first, lambda: reloader.applied == 1))
                await asyncio.sleep(0.2)
                reload.set()
                await polling
                assert answers
                assert set(answers) == {200}
                config(path, marker="NEW", web_port=second, **args)
                reload.set()
                await _until(lambda: reloader.applied == 2, "the second reload")
                async with http.get(f"http://127.0.0.1:{second}/healthz") as resp:
                    health = await resp.json()
                assert health["config_reloads"] == {"applied": 2, "refused": 0}
                with pytest.raises(aiohttp.ClientConnectionError):
                    await http.get(f"http://127.0.0.1:{first}/healthz")

        with caplog.at_level(logging.INFO, logger="asterisk_textback.app"):
            await _serve(path, reload, drive)
    starts = [r for r in caplog.records if r.getMessage().startswith("dashboard at http")]
    assert [r.getMessage().split()[2] for r in starts] == [
        f"http://127.0.0.1:{port}/" for port in (first, first, second)
    ]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_trunk_contexts_apply_to_calls_that_end_after_the_reload(tmp_path: Path) -> None:
    """Calls from a context not yet listed as a trunk are not texted; once it is, they are.

    As on a plain Asterisk (no FreePBX ``FROM_DID``), the trunk context alone says inbound.
    """
    db = tmp_path / "t.db"
    await upgrade(sqlite_url(db))
    recorded = read_trace(TRACES / "ringgroup-novm-caller-hangup-ringing.ami")
    trace = [f for f in recorded if b"Variable: __FROM_DID" not in f]
    assert len(trace) < len(recorded)
    work = build_workload([trace], 8, rate=0.2, start_at=time.time() - 60, max_gap=0.1)
    cut = max(work.final_hangup[i] for i in range(4)) + 1
    assert all(work.first_frame[i] >= cut for i in range(4, 8))
    path = tmp_path / "textback.toml"
    only_pstn = '\n[tracker]\ntrunk_contexts = ["from-pstn"]\n'
    async with BodyGateway() as gateway, AmiServer({AMI_USER: AMI_SECRET}) as server:
        args = {"ami_port": server.port, "gateway_url": gateway.url, "database_url": sqlite_url(db)}
        config(path, marker="OLD", extra=only_pstn, **args)
        reload = asyncio.Event()

        async def drive(parts: RunningService) -> None:
            await parts.connection.wait_ready()
            await server.stream(work.frames[:cut])
            await _settled(parts, db, 4)
            config(path, marker="OLD", **args)  # the default trunk contexts: from-trunk*
            reload.set()
            assert parts.reloader is not None
            await _until(lambda: parts.reloader.applied == 1, "the reload")
            await server.stream(work.frames[cut:])
            await _settled(parts, db, 8)

        await _serve(path, reload, drive)
    rows = query(db, "SELECT caller_number, direction FROM calls")
    direction = {number[-10:]: d for number, d in rows}
    assert [direction[work.numbers[i]] for i in range(8)] == ["outbound"] * 4 + ["inbound"] * 4
    assert sorted(t.to[-10:] for t in gateway.texts) == sorted(work.numbers[i] for i in range(4, 8))


async def test_changed_agi_settings_restart_the_fastagi_listener(tmp_path: Path) -> None:
    """A new ``agi.port``: the old listener closes, the new one listens; no other change."""
    db = tmp_path / "t.db"
    await upgrade(sqlite_url(db))
    path = tmp_path / "textback.toml"
    first, second = _free_port(), _free_port()
    async with BodyGateway() as gateway, AmiServer({AMI_USER: AMI_SECRET}) as server:
        args = {"ami_port": server.port, "gateway_url": gateway.url, "database_url": sqlite_url(db)}
        config(path, marker="OLD", extra=f"\n[agi]\nenabled = true\nport = {first}\n", **args)
        reload = asyncio.Event()

        async def drive(parts: RunningService) -> None:
            await parts.connection.wait_ready()
            old = parts.agi
            assert old.port == first
            link = parts.connection
            config(path, marker="OLD", extra=f"\n[agi]\nenabled = true\nport = {second}\n", **args)
            reload.set()
            assert parts.reloader is not None
            await _until(lambda: parts.reloader.applied == 1, "the reload")
            assert str(old.state) == "closed"
            assert parts.agi is not old
            assert parts.agi.port == second
            _, writer = await asyncio.open_connection("127.0.0.1", second)
            writer.close()
            await writer.wait_closed()
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection("127.0.0.1", first)
            assert parts.connection is link
            assert link.stats.logins == 1

        await _serve(path, reload, drive)


def test_systemd_unit_reloads_with_sighup() -> None:
    """``systemctl reload`` sends the SIGHUP that ``run`` handles."""
    unit = (
        Path(__file__).resolve().parents[2] / "contrib" / "asterisk-textback.service"
    ).read_text()
    lines = [line.strip() for line in unit.splitlines()]
    assert "ExecReload=/bin/kill -HUP $MAINPID" in lines


async def test_settings_read_at_start_only_are_named_and_the_link_is_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``[dispatch]`` and ``pbx.cdr_timezone`` changed: a warning each, no AMI reconnect."""
    db = tmp_path / "t.db"
    await upgrade(sqlite_url(db))
    path = tmp_path / "textback.toml"
    async with BodyGateway() as gateway, AmiServer({AMI_USER: AMI_SECRET}) as server:
        args = {"ami_port": server.port, "gateway_url": gateway.url, "database_url": sqlite_url(db)}
        config(path, marker="OLD", **args)
        reload = asyncio.Event()

        async def drive(parts: RunningService) -> None:
            await parts.connection.wait_ready()
            link = parts.connection
            text = path.read_text().replace("poll_seconds = 0.2", "poll_seconds = 0.3")
            text = text.replace("[pbx]\n", '[pbx]\ncdr_timezone = "America/New_York"\n')
            path.write_text(text)
            reload.set()
            assert parts.reloader is not None
            await _until(lambda: parts.reloader.applied == 1, "the reload")
            assert parts.connection is link
            assert link.stats.logins == 1

        with caplog.at_level(logging.WARNING, logger="asterisk_textback.app.reload"):
            await _serve(path, reload, drive)
    warned = sorted(r.getMessage() for r in caplog.records if r.name.endswith("reload"))
    assert warned == [
        "config reload: [dispatch] changed; it applies after a restart",
        "config reload: pbx.cdr_* changed; it applies after a restart",
    ]
    assert len(server.connection_times) == 1
