"""Helpers for the FastAGI tests: Asterisk's side of a session, settings, the harness."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.agi.server import AgiServer
from asterisk_textback.config import Settings
from asterisk_textback.store.models import Message

Sessions = async_sessionmaker[AsyncSession]

#: 03:00 in New York: inside the default quiet hours of a 212 number.
NOW = datetime(2024, 6, 4, 7, 0, tzinfo=UTC).timestamp()
BOOKING_BODY = "Book with {{ business_name }}: {{ booking_link }}"


def environment(
    script: str = "textback?template=booking",
    *,
    uniqueid: str = "1717484400.17",
    callerid: str = "2125550147",
    callingpres: int = 0,
) -> bytes:
    """The environment Asterisk 22 sends on a FastAGI connection (res_agi.c order)."""
    lines = [
        "agi_network: yes",
        f"agi_network_script: {script}",
        f"agi_request: agi://127.0.0.1:4573/{script}",
        "agi_channel: PJSIP/trunk-00000001",
        "agi_language: en",
        "agi_type: PJSIP",
        f"agi_uniqueid: {uniqueid}",
        "agi_version: 22.0.0",
        f"agi_callerid: {callerid}",
        "agi_calleridname: JORDAN SMITH",
        f"agi_callingpres: {callingpres}",
        "agi_callingani2: 0",
        "agi_callington: 0",
        "agi_callingtns: 0",
        "agi_dnid: 2125550100",
        "agi_rdnis: unknown",
        "agi_context: ivr-3",
        "agi_extension: 1",
        "agi_priority: 2",
        "agi_enhanced: 0.0",
        "agi_accountcode: ",
        "agi_threadid: 139872001234560",
    ]
    return ("\n".join(lines) + "\n\n").encode()


@dataclass(slots=True)
class Session:
    """What Asterisk saw during one FastAGI session."""

    commands: list[str] = field(default_factory=list)
    #: True when the service closed the connection with a FIN (no reset, no hang).
    closed_cleanly: bool = False


async def play_asterisk(port: int, data: bytes, *, eof: bool = False) -> Session:
    """Act as Asterisk: send ``data``, answer every command ``200 result=1``, until closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    seen = Session()
    try:
        writer.write(data)
        await writer.drain()
        if eof:
            writer.write_eof()
        async with asyncio.timeout(5):
            while True:
                line = await reader.readline()
                if not line:
                    seen.closed_cleanly = True
                    break
                seen.commands.append(line.decode().rstrip("\n"))
                if not eof:
                    writer.write(b"200 result=1\n")
                    await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()
    return seen


@dataclass(slots=True)
class Harness:
    """A listening AgiServer on a free port, with its database and dispatcher wake-ups."""

    server: AgiServer
    sessions: Sessions
    woken: list[int]

    async def call(self, data: bytes, *, eof: bool = False) -> Session:
        """One FastAGI session against the server."""
        return await play_asterisk(self.server.port, data, eof=eof)

    async def messages(self) -> list[Message]:
        """Every outbox row."""
        async with self.sessions() as db:
            return list((await db.scalars(select(Message).order_by(Message.id))).all())


StartAgi = Callable[..., Awaitable[Harness]]


def textback_settings(**suppression: Any) -> Settings:
    """Settings with a ``booking`` template and the given ``[suppression]`` values."""
    return Settings.model_validate(
        {
            "business": {
                "name": "Acme Plumbing",
                "timezone": "America/New_York",
                "booking_link": "https://example.com/book",
            },
            "templates": {"booking": {"variants": [{"name": "link", "body": BOOKING_BODY}]}},
            "suppression": suppression,
        }
    )
