"""AmiConnection against a real AmiServer over loopback TCP (and TLS)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from asterisk_textback.ami.connection import AmiConnection
from asterisk_textback.ami.framing import FrameParser
from asterisk_textback.ami.sim.accounts import AmiAccount
from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import clone, interleave, read_trace
from asterisk_textback.ami.types import AmiEvent, ConnectionState, EventBatch, QueueItem, Resync
from asterisk_textback.errors import AmiError, AmiLoginError, AmiPermissionError
from tests.ami.conftest import fast_settings
from tests.ami.test_framing import NAME_FRAME
from tests.conftest import TRACES


async def eventually(predicate: Callable[[], bool]) -> None:
    """Poll ``predicate`` for up to 3 s (for counters that have no event to wait on)."""
    for _ in range(3000):
        if predicate():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition not reached within 3 s")


class Collector:
    """Runs the connection's consumer and records what it delivers."""

    def __init__(self, conn: AmiConnection) -> None:
        self.conn = conn
        self.events: list[AmiEvent] = []
        self.resyncs: list[Resync] = []
        self.changed = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(conn.run_consumer(self.handle))

    def handle(self, item: QueueItem) -> None:
        """Record one queue item."""
        if isinstance(item, EventBatch):
            self.events.extend(item.events)
        else:
            self.resyncs.append(item)
        self.changed.set()

    async def wait_for(self, predicate: object) -> None:
        """Wait (at most 3 s) until ``predicate()`` is true."""
        assert callable(predicate)
        async with asyncio.timeout(3):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def conn(ami_server: AmiServer) -> AsyncIterator[AmiConnection]:
    """A ready connection to ``ami_server``."""
    connection = AmiConnection(fast_settings(ami_server), jitter=0.0)
    async with asyncio.timeout(5):
        await connection.start()
        await connection.wait_ready()
    yield connection
    await connection.close()


def expected_events(frames: list[bytes]) -> list[AmiEvent]:
    """What the connection must deliver for these frames (default skip set applied)."""
    return FrameParser().feed(b"".join(frames))[0]


async def test_events_arrive_in_wire_order(ami_server: AmiServer, conn: AmiConnection) -> None:
    frames = interleave(
        [
            *clone(read_trace(TRACES / "queue-answered.ami"), 3, spacing=0.2),
            read_trace(TRACES / "ringgroup-voicemail-left.ami"),
        ]
    )
    collector = Collector(conn)
    await collector.wait_for(lambda: collector.events)  # FullyBooted
    collector.events.clear()
    await ami_server.stream(frames)
    want = expected_events(frames)
    await collector.wait_for(lambda: len(collector.events) >= len(want))
    assert collector.events == want
    assert conn.stats.frames_skipped > 0
    assert conn.version == "9.0.0"


async def test_caller_name_split_at_every_byte_offset(
    ami_server: AmiServer, conn: AmiConnection
) -> None:
    collector = Collector(conn)
    for k in range(1, len(NAME_FRAME)):
        frame = NAME_FRAME.replace(b"1795756586.1\r\n", f"1795756586.{k}\r\n".encode())
        received = conn.stats.bytes_received
        await ami_server.write_raw(frame[:k])
        # Wait until the first piece was read on its own, so the pieces are separate reads.
        await eventually(lambda: conn.stats.bytes_received >= received + k)  # noqa: B023
        await ami_server.write_raw(frame[k:])
    await collector.wait_for(
        lambda: sum(e["Event"] == "Newchannel" for e in collector.events) == len(NAME_FRAME) - 1
    )
    names = [e for e in collector.events if e["Event"] == "Newchannel"]
    assert all(e["CallerIDName"] == "Jürgen Müller" for e in names)
    assert [e["Uniqueid"] for e in names] == [f"1795756586.{k}" for k in range(1, len(NAME_FRAME))]


async def test_garbage_truncated_and_oversized_frames_are_skipped(
    ami_server: AmiServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = fast_settings(ami_server, max_frame_bytes=1024)
    async with AmiConnection(settings, jitter=0.0) as conn:
        collector = Collector(conn)
        with caplog.at_level(logging.WARNING):
            await ami_server.write_raw(b"GARBAGE LINE\r\nmore garbage\r\n\r\n")
            await ami_server.write_raw(b"Event: Huge\r\nData: " + b"z" * 5000 + b"\r\n\r\n")
            await ami_server.write_raw(NAME_FRAME)
            await collector.wait_for(
                lambda: any(e["Event"] == "Newchannel" for e in collector.events)
            )
            await ami_server.write_raw(b"Event: Newchannel\r\nUniqueid: 1.2\r\nCallerIDNa")
            await asyncio.sleep(0.05)
            ami_server.drop_connections()  # the frame above never completes
            await ami_server.wait_logged_in()
            await ami_server.write_raw(NAME_FRAME)
            await collector.wait_for(
                lambda: sum(e["Event"] == "Newchannel" for e in collector.events) == 2
            )
        assert [e["Uniqueid"] for e in collector.events if e["Event"] == "Newchannel"] == [
            "1795756586.1",
            "1795756586.1",
        ]
        assert conn.stats.parser.garbage == 1
        assert conn.stats.parser.oversized == 1
        assert "without Event or Response" in caplog.text
        assert "larger than 1024 bytes" in caplog.text
        assert "truncated frame discarded" in caplog.text


async def test_login_failure_raises_and_does_not_retry(ami_server: AmiServer) -> None:
    conn = AmiConnection(fast_settings(ami_server, secret="nope"))
    await conn.start()
    with pytest.raises(AmiLoginError, match=r"'textback' on 127\.0\.0\.1:\d+: Authentication"):
        async with asyncio.timeout(3):
            await conn.wait_ready()
    assert conn.state is ConnectionState.CLOSED
    with pytest.raises(AmiLoginError):
        await conn.run_consumer(lambda item: None)
    assert len(ami_server.connection_times) == 1
    await conn.close()


async def test_permission_denied_raises_permission_error() -> None:
    accounts = {"textback": AmiAccount("secret", read=frozenset({"call"}), write=frozenset())}
    async with AmiServer(accounts) as server, AmiConnection(fast_settings(server)) as conn:
        with pytest.raises(AmiPermissionError, match=r"CoreShowChannels.*'system' or 'reporting'"):
            await conn.core_show_channels()
        with pytest.raises(AmiPermissionError, match="CoreShowChannels"):
            await conn.send_action({"Action": "CoreShowChannels"})
        assert (await conn.send_action({"Action": "Ping"}))["Ping"] == "Pong"


async def test_reconnect_with_backoff_and_resync(ami_server: AmiServer) -> None:
    states: list[ConnectionState] = []
    settings = fast_settings(ami_server, reconnect_min=0.05, reconnect_max=0.2)
    async with AmiConnection(settings, on_state_change=states.append, jitter=0.0) as conn:
        collector = Collector(conn)
        frames = read_trace(TRACES / "direct-answered.ami")
        half = len(frames) // 2
        await ami_server.stream(frames[:half])
        alive = frozenset(ami_server.live_channels)
        assert alive
        states.clear()
        ami_server.accept_connections = False
        ami_server.drop_connections()
        await eventually(lambda: len(ami_server.connection_times) >= 4)
        ami_server.accept_connections = True
        await collector.wait_for(lambda: collector.resyncs)
        assert collector.resyncs[0].alive_uniqueids == alive
        assert states[:2] == [ConnectionState.DISCONNECTED, ConnectionState.CONNECTING]
        assert states[-1] is ConnectionState.READY
        gaps = [
            b - a
            for a, b in zip(
                ami_server.connection_times[1:], ami_server.connection_times[2:], strict=False
            )
        ]
        # 0.05 after the drop, then 0.1, 0.2, 0.2 (capped): each retry waits at least as long.
        assert gaps[0] >= 0.09
        assert gaps[1] >= 0.18
        assert all(g < 0.5 for g in gaps)
        assert conn.stats.reconnects == 1
        # The rest of the call still arrives, after the Resync.
        await ami_server.stream(frames[half:])
        await collector.wait_for(lambda: any(e["Event"] == "Hangup" for e in collector.events))


async def test_watchdog_reconnects_a_half_open_connection(ami_server: AmiServer) -> None:
    settings = fast_settings(ami_server, ping_interval=0.05, ping_timeout=0.1)
    async with AmiConnection(settings, jitter=0.0) as conn:
        ami_server.pause_pings()
        await eventually(lambda: conn.stats.pings_missed > 0)
        ami_server.resume_pings()
        await eventually(lambda: conn.state is ConnectionState.READY and conn.stats.reconnects > 0)
        assert len(ami_server.connection_times) >= 2


async def test_handler_exception_is_logged_and_later_events_arrive(
    ami_server: AmiServer, conn: AmiConnection, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    async def handler(item: QueueItem) -> None:
        assert isinstance(item, EventBatch)
        for event in item.events:
            if event.get("CallerIDName") == "Boom":
                raise RuntimeError("handler bug")
            seen.append(event["Event"])

    task = asyncio.get_running_loop().create_task(conn.run_consumer(handler))
    with caplog.at_level(logging.ERROR):
        await ami_server.write_raw(NAME_FRAME.replace(b"J\xc3\xbcrgen M\xc3\xbcller", b"Boom"))
        await asyncio.sleep(0.05)
        await ami_server.write_raw(b"Event: Hangup\r\nUniqueid: 1.1\r\n\r\n")
        await eventually(lambda: "Hangup" in seen)
    assert "handler failed" in caplog.text
    assert "Boom" in caplog.text
    assert conn.stats.handler_errors == 1
    await conn.close()
    async with asyncio.timeout(1):
        await task  # close() ends the consumer cleanly


def make_cert(tmp_path: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (openssl CLI)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("TLS test needs the openssl CLI (or the cryptography package)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_tls_login(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    async with AmiServer({"textback": "secret"}, ssl_context=context) as server:
        settings = fast_settings(server, tls=True, tls_ca_file=str(cert))
        async with AmiConnection(settings) as conn:
            assert conn.state is ConnectionState.READY
            assert (await conn.send_action({"Action": "Ping"}))["Response"] == "Success"
        insecure = fast_settings(server, tls=True, tls_verify=False)
        async with AmiConnection(insecure) as conn:
            assert conn.state is ConnectionState.READY
        untrusted = AmiConnection(fast_settings(server, tls=True))
        await untrusted.start()
        with pytest.raises(AmiError, match="does not verify"):
            async with asyncio.timeout(3):
                await untrusted.wait_ready()
        await untrusted.close()


async def test_close_is_clean_and_idempotent(ami_server: AmiServer) -> None:
    conn = AmiConnection(fast_settings(ami_server))
    await conn.start()
    async with asyncio.timeout(3):
        await conn.wait_ready()
    await conn.close()
    await conn.close()
    assert conn.state is ConnectionState.CLOSED
    await conn.run_consumer(lambda item: None)  # returns at once: closed


async def test_core_show_channels_lists_live_channels(
    ami_server: AmiServer, conn: AmiConnection
) -> None:
    """Also with no channel at all: the answer is the whole EventList, not its first frame."""
    assert await conn.core_show_channels() == frozenset()
    frames = read_trace(TRACES / "direct-answered.ami")
    cut = next(i for i, f in enumerate(frames) if f.startswith(b"Event: DialBegin"))
    await ami_server.stream(frames[:cut])
    assert await conn.core_show_channels() == frozenset({"1795756462.8", "1795756462.9"})
