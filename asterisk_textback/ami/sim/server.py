"""A small but real AMI server: tests, ``asterisk-textback replay`` and benchmarks talk to it.

It speaks the wire protocol like Asterisk 22 does for the actions we use (Login, Ping,
Logoff, CoreShowChannels, ShowDialPlan, MessageSend, GetConfig of manager.conf), streams
recorded frames to every logged-in client, filtered by each user's read classes, and can be
told to misbehave (drop connections, refuse them, ignore pings) to exercise recovery.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asterisk_textback.ami.framing import parse_frame
from asterisk_textback.ami.sim.accounts import (
    CORESHOWCHANNELS_CLASSES,
    AmiAccount,
    encode,
    get_config,
    privilege,
)
from asterisk_textback.ami.sim.cdrwriter import CdrWriter
from asterisk_textback.ami.sim.tracefile import frame_timestamp

__all__ = ["AmiServer"]

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/9.0.0\r\n"
_CHUNK_BYTES = 64 * 1024
_CHANNEL_FIELDS = (
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
)

#: Called after frame ``index`` of a ``stream`` was handed to the transports at epoch ``t``.
OnWritten = Callable[[int, float], None]


@dataclass(eq=False, slots=True)
class _Client:
    transport: asyncio.Transport
    account: AmiAccount | None = None
    can_write: asyncio.Event = field(default_factory=asyncio.Event)


class _ServerProtocol(asyncio.Protocol):
    def __init__(self, server: AmiServer) -> None:
        self._server = server
        self._buf = b""
        self._client: _Client | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._server.connection_times.append(time.monotonic())
        if not self._server.accept_connections:
            transport.abort()
            return
        self._client = _Client(transport)
        self._client.can_write.set()
        self._server._clients.add(self._client)
        transport.write(BANNER)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._client is not None:
            self._server._clients.discard(self._client)
            self._client.can_write.set()  # never leave a streamer waiting on a dead client

    def pause_writing(self) -> None:
        if self._client is not None:
            self._client.can_write.clear()

    def resume_writing(self) -> None:
        if self._client is not None:
            self._client.can_write.set()

    def data_received(self, data: bytes) -> None:
        self._buf += data.replace(b"\r\n", b"\n")
        *frames, self._buf = self._buf.split(b"\n\n")
        for raw in frames:
            if raw.strip() and self._client is not None:
                action = parse_frame(raw.decode("utf-8", "replace").strip("\n"), "\n")
                self._server._handle_action(self._client, action)


class AmiServer:
    """An asyncio TCP (optionally TLS) server speaking enough AMI for our client."""

    def __init__(
        self,
        accounts: Mapping[str, AmiAccount | str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        cdr_csv: str | Path | None = None,
    ) -> None:
        """``cdr_csv``: append each call played to this ``Master.csv`` (:mod:`.cdrwriter`)."""
        self.accounts: dict[str, AmiAccount] = {
            user: acct if isinstance(acct, AmiAccount) else AmiAccount(acct)
            for user, acct in (accounts or {"textback": "secret"}).items()
        }
        self.host = host
        self._port = port
        self._ssl = ssl_context
        self._server: asyncio.Server | None = None
        self._clients: set[_Client] = set()
        self._login_seen = asyncio.Event()
        #: Set False to stop answering Ping (simulates a half-open connection).
        self.answer_pings = True
        #: Seconds this PBX's clock is ahead (negative: behind), as its Ping replies show.
        self.clock_offset = 0.0
        #: Set False to abort every new connection right away (simulates a PBX restarting).
        self.accept_connections = True
        #: ``time.monotonic()`` of every TCP connection accepted (or refused).
        self.connection_times: list[float] = []
        #: Channels alive per the Newchannel/Hangup frames streamed so far, by Uniqueid.
        self.live_channels: dict[str, dict[str, str]] = {}
        #: Every MessageSend accepted (headers as received), in order.
        self.messages: list[dict[str, str]] = []
        #: When set, MessageSend to a PJSIP endpoint outside it fails like Asterisk does.
        self.message_endpoints: frozenset[str] | None = None
        #: Contexts ShowDialPlan lists (the lab PBX's, by default).
        self.dialplan_contexts: set[str] = {"from-trunk", "from-internal", "ext-local"}
        self.cdr = None if cdr_csv is None else CdrWriter(cdr_csv)
        #: The most clients logged in at once (reset it to watch a stretch of time).
        self.max_logged_in = 0

    @property
    def port(self) -> int:
        """The bound TCP port (useful with ``port=0``)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("AmiServer is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def logged_in(self) -> int:
        """How many clients are currently logged in."""
        return sum(1 for c in self._clients if c.account is not None)

    async def start(self) -> None:
        """Start listening."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _ServerProtocol(self), self.host, self._port, ssl=self._ssl
        )

    async def stop(self) -> None:
        """Disconnect every client and stop listening."""
        if self._server is None:
            return
        self._server.close()
        self.drop_connections()
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> AmiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def drop_connections(self) -> None:
        """Abort every client connection (the client sees a reset)."""
        for client in list(self._clients):
            client.transport.abort()
        self._clients.clear()

    def pause_pings(self) -> None:
        """Stop answering Ping until :meth:`resume_pings`."""
        self.answer_pings = False

    def resume_pings(self) -> None:
        """Answer Ping again."""
        self.answer_pings = True

    async def wait_logged_in(self, count: int = 1) -> None:
        """Wait until at least ``count`` clients are logged in (bound it with asyncio.timeout)."""
        while self.logged_in < count:
            self._login_seen.clear()
            await self._login_seen.wait()

    async def write_raw(self, data: bytes) -> None:
        """Send raw bytes to every logged-in client as they are (garbage, split frames...)."""
        for client in self._ready_clients():
            client.transport.write(data)
        await self._drain()

    async def stream(
        self,
        frames: Sequence[bytes],
        *,
        pace: bool | float = False,
        on_written: OnWritten | None = None,
    ) -> None:
        """Send frames to every logged-in client, filtered by each user's read classes.

        ``pace=False`` writes as fast as the clients read (large chunks, honouring
        backpressure); ``True`` replays at the recorded ``Timestamp`` pace; a float is a speed
        factor (2.0 = twice as fast).
        """
        if pace is False:
            for start in range(0, len(frames), 256):
                await self._send(frames, start, min(start + 256, len(frames)), on_written)
            return
        speed = 1.0 if pace is True else float(pace)
        if speed <= 0:
            raise ValueError("pace must be positive")
        loop = asyncio.get_running_loop()
        origin: float | None = None
        began = loop.time()
        i = 0
        while i < len(frames):
            ts = frame_timestamp(frames[i])
            if ts is not None:
                origin = ts if origin is None else origin
                delay = began + (ts - origin) / speed - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            j = i + 1
            # Frames stamped with the same instant go out in one write.
            while j < len(frames) and frame_timestamp(frames[j]) in (None, ts):
                j += 1
            await self._send(frames, i, j, on_written)
            i = j

    async def _send(
        self, frames: Sequence[bytes], start: int, stop: int, on_written: OnWritten | None
    ) -> None:
        batch = frames[start:stop]
        for frame in batch:
            self._track_channel(frame)
            if self.cdr is not None:
                self.cdr.feed(frame)
        clients = self._ready_clients()
        joined = b"".join(batch)
        privileges: list[frozenset[str] | None] | None = None
        for client in clients:
            assert client.account is not None
            if "all" in client.account.read:
                client.transport.write(joined)
                continue
            if privileges is None:
                privileges = [privilege(f) for f in batch]
            acct = client.account
            data = b"".join(f for f, p in zip(batch, privileges, strict=True) if acct.may_read(p))
            client.transport.write(data)
        if on_written is not None:
            now = time.time()
            for index in range(start, stop):
                on_written(index, now)
        await self._drain()

    async def _drain(self) -> None:
        for client in self._ready_clients():
            if not client.can_write.is_set():
                await client.can_write.wait()
        await asyncio.sleep(0)  # let clients' reads and actions interleave with the stream

    def _ready_clients(self) -> list[_Client]:
        return [c for c in self._clients if c.account is not None and not c.transport.is_closing()]

    def _track_channel(self, frame: bytes) -> None:
        if frame.startswith(b"Event: Newchannel\r\n"):
            headers = parse_frame(frame.decode("utf-8", "replace").rstrip("\r\n"))
            uniqueid = headers.get("Uniqueid")
            if uniqueid:
                self.live_channels[uniqueid] = {
                    k: headers[k] for k in _CHANNEL_FIELDS if k in headers
                }
        elif frame.startswith(b"Event: Hangup\r\n"):
            headers = parse_frame(frame.decode("utf-8", "replace").rstrip("\r\n"))
            self.live_channels.pop(headers.get("Uniqueid", ""), None)

    def _handle_action(self, client: _Client, action: dict[str, str]) -> None:
        name = action.get("Action", "").lower()
        reply: dict[str, str] = {"Response": "Error"}
        if "ActionID" in action:
            reply["ActionID"] = action["ActionID"]
        if name == "login":
            self._login(client, action, reply)
            return
        if client.account is None:
            reply["Message"] = "Permission denied"
        elif name == "ping":
            if not self.answer_pings:
                return
            now = time.time() + self.clock_offset
            reply.update(Response="Success", Ping="Pong", Timestamp=f"{now:.6f}")
        elif name == "logoff":
            reply.update(Response="Goodbye", Message="Thanks for all the fish.")
            client.transport.write(encode(reply))
            client.transport.close()
            return
        elif name == "coreshowchannels":
            self._core_show_channels(client, reply)
            return
        elif name == "messagesend":
            self._message_send(client, action, reply)
        elif name == "showdialplan":
            self._show_dialplan(client, reply)
            return
        elif name == "getconfig":
            self._get_config(client, action, reply)
        else:
            reply["Message"] = "Invalid/unknown command"
        client.transport.write(encode(reply))

    def _show_dialplan(self, client: _Client, reply: dict[str, str]) -> None:
        """ShowDialPlan (write class config or reporting): one ListDialplan per context."""
        assert client.account is not None
        if not client.account.write & {"config", "reporting", "all"}:
            reply["Message"] = "Permission denied"
            client.transport.write(encode(reply))
            return
        action_id = {"ActionID": reply["ActionID"]} if "ActionID" in reply else {}
        reply.update(Response="Success", EventList="start", Message="DialPlan list will follow")
        out = [encode(reply)]
        for context in sorted(self.dialplan_contexts):
            item = {"Event": "ListDialplan", **action_id, "Context": context, "Extension": "s"}
            out.append(encode({**item, "Priority": "1", "Application": "NoOp"}))
        done = {"Event": "ShowDialPlanComplete", **action_id, "EventList": "Complete"}
        out.append(encode({**done, "ListItems": str(len(self.dialplan_contexts))}))
        client.transport.write(b"".join(out))

    def _get_config(self, client: _Client, action: dict[str, str], reply: dict[str, str]) -> None:
        assert client.account is not None
        get_config(client.account, action, reply, self.accounts)

    def _message_send(self, client: _Client, action: dict[str, str], reply: dict[str, str]) -> None:
        """MessageSend needs write class ``message``; replies as manager.c does."""
        assert client.account is not None
        if not client.account.write & {"message", "all"}:
            reply["Message"] = "Permission denied"
            return
        destination = action.get("Destination") or action.get("To", "")
        tech, _, rest = destination.partition(":")
        endpoint = rest.split("/", 1)[0]
        if not destination or not ("Body" in action or "Base64Body" in action):
            reply["Message"] = "No destination or body specified"
        elif tech != "pjsip" or (
            self.message_endpoints is not None and endpoint not in self.message_endpoints
        ):
            reply["Message"] = "Message failed to send."
        else:
            self.messages.append(dict(action))
            reply.update(Response="Success", Message="Message successfully sent")

    def _login(self, client: _Client, action: dict[str, str], reply: dict[str, str]) -> None:
        account = self.accounts.get(action.get("Username", ""))
        if account is None or account.secret != action.get("Secret"):
            reply["Message"] = "Authentication failed"
            client.transport.write(encode(reply))
            client.transport.close()  # Asterisk hangs up on a failed login
            return
        client.account = account
        self.max_logged_in = max(self.max_logged_in, self.logged_in)
        reply.update(Response="Success", Message="Authentication accepted")
        booted = {"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted"}
        # manager.c's action_login sends FullyBooted only to sessions that read "system".
        extra = encode(booted) if account.may_read(frozenset({"system"})) else b""
        client.transport.write(encode(reply) + extra)
        self._login_seen.set()

    def _core_show_channels(self, client: _Client, reply: dict[str, str]) -> None:
        assert client.account is not None
        write = client.account.write
        if "all" not in write and not write & CORESHOWCHANNELS_CLASSES:
            reply["Message"] = "Permission denied"
            client.transport.write(encode(reply))
            return
        action_id = {"ActionID": reply["ActionID"]} if "ActionID" in reply else {}
        reply.update(Response="Success", EventList="start", Message="Channels will follow")
        out = [encode(reply)]
        for channel in self.live_channels.values():
            out.append(encode({"Event": "CoreShowChannel", **action_id, **channel}))
        done = {"Event": "CoreShowChannelsComplete", **action_id, "EventList": "Complete"}
        out.append(encode({**done, "ListItems": str(len(self.live_channels))}))
        client.transport.write(b"".join(out))
