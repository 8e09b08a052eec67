"""AmiServer speaks AMI like Asterisk for the actions we use; checked with raw sockets."""

from __future__ import annotations

import asyncio
import time

from asterisk_textback.ami.framing import FrameParser
from asterisk_textback.ami.sim.accounts import AmiAccount
from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import read_trace, strip_headers
from tests.conftest import TRACES


class RawClient:
    """A bare asyncio stream speaking AMI by hand."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = FrameParser(skip_events=frozenset(), expect_banner=True)
        self.frames: list[dict[str, str]] = []

    @classmethod
    async def connect(cls, server: AmiServer) -> RawClient:
        """Open a TCP connection to ``server``."""
        return cls(*await asyncio.open_connection("127.0.0.1", server.port))

    async def send(self, **headers: str) -> None:
        """Send one action frame."""
        self.writer.write("".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n")
        await self.writer.drain()

    async def next(self) -> dict[str, str]:
        """The next frame (event or response) in wire order."""
        async with asyncio.timeout(2):
            while not self.frames:
                data = await self.reader.read(65536)
                assert data, "server closed the connection"
                events, replies = self.parser.feed(data)
                merged: list[dict[str, str]] = list(events)
                for pos, reply in reversed(replies):
                    merged.insert(pos, reply)
                self.frames.extend(merged)
        return self.frames.pop(0)

    async def login(self, user: str = "textback", secret: str = "secret") -> dict[str, str]:
        """Log in and return the response."""
        await self.send(Action="Login", ActionID="L1", Username=user, Secret=secret)
        return await self.next()

    async def close(self) -> None:
        """Close the socket."""
        self.writer.close()
        await self.writer.wait_closed()


async def test_banner_login_and_fully_booted(ami_server: AmiServer) -> None:
    client = await RawClient.connect(ami_server)
    reply = await client.login()
    assert client.parser.banner == "Asterisk Call Manager/9.0.0"
    assert reply == {"Response": "Success", "ActionID": "L1", "Message": "Authentication accepted"}
    assert (await client.next())["Event"] == "FullyBooted"
    assert ami_server.logged_in == 1
    await client.close()


async def test_login_failure_answers_error_and_hangs_up(ami_server: AmiServer) -> None:
    client = await RawClient.connect(ami_server)
    reply = await client.login(secret="wrong")
    assert reply["Response"] == "Error"
    assert reply["Message"] == "Authentication failed"
    assert await client.reader.read() == b""
    await client.close()


async def test_ping_unknown_action_and_logoff(ami_server: AmiServer) -> None:
    client = await RawClient.connect(ami_server)
    await client.login()
    await client.next()
    await client.send(Action="Ping", ActionID="p1")
    pong = await client.next()
    assert (pong["Response"], pong["Ping"], pong["ActionID"]) == ("Success", "Pong", "p1")
    assert abs(float(pong["Timestamp"]) - time.time()) < 5
    await client.send(Action="Frobnicate", ActionID="f1")
    assert await client.next() == {
        "Response": "Error",
        "ActionID": "f1",
        "Message": "Invalid/unknown command",
    }
    ami_server.pause_pings()
    await client.send(Action="Ping", ActionID="p2")
    await client.send(Action="Logoff", ActionID="bye")
    assert (await client.next())["Response"] == "Goodbye"  # the paused Ping got no answer
    await client.close()


async def test_core_show_channels_follows_the_stream(ami_server: AmiServer) -> None:
    frames = read_trace(TRACES / "direct-answered.ami")
    client = await RawClient.connect(ami_server)
    await client.login()
    await ami_server.stream(frames[:20])
    live = dict(ami_server.live_channels)
    assert live
    await client.send(Action="CoreShowChannels", ActionID="c1")
    while (frame := await client.next()).get("ActionID") != "c1":
        pass
    assert frame["EventList"] == "start"
    items = []
    while (frame := await client.next())["Event"] == "CoreShowChannel":
        assert frame["ActionID"] == "c1"
        items.append(frame)
    assert frame["Event"] == "CoreShowChannelsComplete"
    assert frame["ListItems"] == str(len(live))
    assert {i["Uniqueid"] for i in items} == set(live)
    assert all(i["Linkedid"] and i["Channel"] and i["Context"] for i in items)
    await ami_server.stream(frames[20:])
    assert ami_server.live_channels == {}
    await client.close()


async def test_least_privilege_account() -> None:
    accounts = {"lp": AmiAccount("pw", read=frozenset({"call"}), write=frozenset({"originate"}))}
    async with AmiServer(accounts) as server:
        frames = read_trace(TRACES / "direct-answered.ami")
        client = await RawClient.connect(server)
        await client.login("lp", "pw")  # no FullyBooted: it is class system
        await server.stream(frames)
        await client.send(Action="CoreShowChannels", ActionID="c1")
        got = []
        while "Response" not in (frame := await client.next()):
            got.append(frame)
        assert frame == {"Response": "Error", "ActionID": "c1", "Message": "Permission denied"}
        assert got
        assert all("call" in f["Privilege"].split(",") for f in got)
        assert len(got) == sum(1 for f in frames if b"Privilege: call," in f)
        await client.close()


async def test_paced_stream_follows_timestamps_and_reports_writes(ami_server: AmiServer) -> None:
    frames = read_trace(TRACES / "direct-caller-hangup-ringing.ami")
    span = frame_span(frames)
    written: list[tuple[int, float]] = []
    speed = span / 0.3  # replay the whole call in about 0.3 s
    started = time.monotonic()
    await ami_server.stream(frames, pace=speed, on_written=lambda i, t: written.append((i, t)))
    elapsed = time.monotonic() - started
    assert 0.25 < elapsed < 2.0
    assert [i for i, _ in written] == list(range(len(frames)))
    untimed = strip_headers(frames, {"Timestamp"})
    started = time.monotonic()
    await ami_server.stream(untimed, pace=True)
    assert time.monotonic() - started < 0.2  # nothing to pace by: as fast as possible


def frame_span(frames: list[bytes]) -> float:
    """Seconds between the first and last Timestamp."""
    stamps = [float(f.split(b"Timestamp: ")[1].split(b"\r\n")[0]) for f in frames]
    return stamps[-1] - stamps[0]


async def test_refused_connections_are_recorded(ami_server: AmiServer) -> None:
    ami_server.accept_connections = False
    client = await RawClient.connect(ami_server)
    assert await client.reader.read() == b""
    assert len(ami_server.connection_times) == 1
    client.writer.close()
