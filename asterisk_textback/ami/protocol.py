"""panoramisk's ``AMIProtocol`` with our framing and a direct path into the event queue.

It keeps panoramisk's action bookkeeping (``send``, ``responses``, ``handle_message``) and
replaces the rest: reads are parsed by :class:`FrameParser` (loss-free UTF-8), events go to
the owning connection (:class:`ProtocolOwner`) in wire order, and pending actions are failed, never
re-sent, when the connection closes. Also the transport-level helpers the connection uses:
the TLS context and waiting on a protocol future.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from typing import Any, Protocol

from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from asterisk_textback.ami.framing import FrameParser, Reply
from asterisk_textback.ami.settings import PbxSettings
from asterisk_textback.ami.stats import ConnectionStats
from asterisk_textback.ami.types import AmiEvent, EventBatch

__all__ = [
    "AmiProtocol",
    "ProtocolOwner",
    "channel_uniqueids",
    "client_ssl_context",
    "wait_future",
]

log = logging.getLogger(__name__)


async def wait_future(fut: asyncio.Future[Any], limit: float, what: str) -> Any:
    """Await a protocol future: TimeoutError after ``limit`` s, ConnectionResetError if lost."""
    # asyncio.wait instead of ``await fut`` under asyncio.timeout: a future cancelled because
    # the connection died must not look like a cancellation of the awaiting task.
    done, _ = await asyncio.wait({fut}, timeout=limit)
    if not done:
        fut.cancel()
        raise TimeoutError(f"{what}: no answer within {limit:g} s")
    if fut.cancelled():
        raise ConnectionResetError(f"{what}: connection lost")
    return fut.result()


def client_ssl_context(settings: PbxSettings) -> ssl.SSLContext | None:
    """The TLS context for connecting to the PBX, or None for plain TCP."""
    if not settings.tls:
        return None
    ctx = ssl.create_default_context(cafile=settings.tls_ca_file)
    if not settings.tls_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def channel_uniqueids(messages: list[Any]) -> frozenset[str]:
    """The Uniqueids listed in a CoreShowChannels answer (panoramisk messages)."""
    return frozenset(m.raw["Uniqueid"] for m in messages if m.raw.get("Event") == "CoreShowChannel")


def _message(headers: AmiEvent) -> Any:
    message = Message(headers)
    message.raw = headers  # keep our exact dict: Message adds a "content" key of its own
    return message


class ProtocolOwner(Protocol):
    """What the protocol needs from the connection that owns it (``AmiConnection``).

    A Protocol rather than an import, so that connection and protocol do not import each
    other.
    """

    settings: PbxSettings
    skip_events: frozenset[str]
    keep_variables: frozenset[str] | None
    stats: ConnectionStats
    _manager: Any

    def _put(self, batch: EventBatch) -> None:
        """Queue a batch of events for the consumer, in wire order."""

    def _resync_done(self, result: Any, now: float) -> None:
        """Take the answer to the CoreShowChannels sent after a reconnect."""


class AmiProtocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol with our framing and a direct path into the queue."""

    def __init__(self, conn: ProtocolOwner, loop: asyncio.AbstractEventLoop) -> None:
        self._conn = conn
        self.parser = FrameParser(
            max_frame_bytes=conn.settings.max_frame_bytes,
            skip_events=conn.skip_events,
            keep_variables=conn.keep_variables,
            expect_banner=True,
            stats=conn.stats.parser,
        )
        self.banner: asyncio.Future[str] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.resync_action: Any = None
        self.closed = False
        self.responses: dict[str, Any] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.factory = self._conn._manager
        self.encoding = "utf-8"

    def data_received(self, data: bytes) -> None:
        conn = self._conn
        conn.stats.bytes_received += len(data)
        events, replies = self.parser.feed(data)
        if not self.banner.done() and self.parser.banner is not None:
            self.version = self.parser.banner.partition("/")[2]
            self.banner.set_result(self.parser.banner)
        now = time.time()
        if replies:
            self._route(events, replies, now)
        elif events:
            conn._put(EventBatch(events, now))

    def _route(self, events: list[AmiEvent], replies: list[Reply], now: float) -> None:
        """Hand replies to panoramisk's futures without reordering them among the events."""
        conn = self._conn
        start = 0
        for pos, headers in replies:
            if pos > start:
                conn._put(EventBatch(events[start:pos], now))
                start = pos
            action_id = headers.get("ActionID")
            if action_id is not None and action_id in self.responses:
                self.handle_message(_message(headers))
                resync = self.resync_action
                if resync is not None and resync.future.done():
                    self.resync_action = None
                    conn._resync_done(resync.future.result(), now)
            elif "Event" in headers:
                conn._put(EventBatch([headers], now))  # an event answering nobody: keep it
            else:
                log.debug("AMI response to no pending action: %.200r", headers)
        if start < len(events):
            conn._put(EventBatch(events[start:], now))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.parser.buffered:
            log.warning(
                "AMI connection lost mid-frame: %d bytes of a truncated frame discarded",
                self.parser.buffered,
            )
        self.close()
        if not self.banner.done():
            self.banner.cancel()
        if not self.lost.done():
            self.lost.set_result(None)

    def close(self) -> None:
        # Unlike panoramisk, never re-send pending actions on the next connection: fail them.
        for action in list(self.responses.values()):
            if not action.future.done():
                action.future.cancel()
        self.responses.clear()
        if not self.closed:
            self.closed = True
            self.transport.close()
