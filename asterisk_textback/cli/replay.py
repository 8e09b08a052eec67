"""``asterisk-textback replay``: recorded traces through the live code path over TCP.

A real :class:`AmiServer` on a loopback port streams the frames; the same
:class:`AmiConnection`, :class:`CallListener` and :class:`CallTracker` as the live service
receive them. A ``UserEvent`` after the last frame tells the consumer the replay is over.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from pathlib import Path

from asterisk_textback.ami.connection import AmiConnection
from asterisk_textback.ami.framing import TRACKED_VARIABLES
from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import read_trace
from asterisk_textback.ami.types import AmiEvent
from asterisk_textback.calls.listener import CallListener, OnCall
from asterisk_textback.calls.state import TrackerStats
from asterisk_textback.calls.tracker import CallTracker
from asterisk_textback.config import Settings

END_MARKER = "TextbackReplayEnd"
_END_FRAME = f"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: {END_MARKER}\r\n\r\n".encode()


def load_frames(paths: Sequence[Path]) -> list[bytes]:
    """All frames of the given traces, one file after the other."""
    frames: list[bytes] = []
    for path in paths:
        frames.extend(read_trace(path))
    return frames


async def replay(
    frames: Sequence[bytes],
    settings: Settings,
    on_call: OnCall,
    *,
    pace: bool | float = False,
) -> TrackerStats:
    """Stream ``frames`` through a loopback AMI server into the live listener path."""
    secret = secrets.token_hex(16)
    done = asyncio.get_running_loop().create_future()

    def on_event(event: AmiEvent) -> None:
        if event.get("UserEvent") == END_MARKER and not done.done():
            done.set_result(None)

    tracker = CallTracker(settings.tracker, pbx=settings.pbx.name)
    listener = CallListener(tracker, on_call, on_event=on_event)
    async with AmiServer({"replay": secret}) as server:
        pbx = settings.pbx.model_copy(
            update={
                "host": "127.0.0.1",
                "port": server.port,
                "username": "replay",
                "secret": secret,
                "secret_env": None,
                "tls": False,
            }
        )
        async with AmiConnection(pbx, environ={}, keep_variables=TRACKED_VARIABLES) as conn:
            consumer = asyncio.create_task(conn.run_consumer(listener.handle))
            try:
                await conn.wait_ready()
                await server.wait_logged_in()
                await server.stream([*frames, _END_FRAME], pace=pace)
                await asyncio.wait({done, consumer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                await conn.close()
                await consumer
    return tracker.stats
