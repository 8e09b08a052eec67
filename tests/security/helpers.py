"""Run the real service against the in-repo AMI server over TCP and read what it stored."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.app.service import RunningService, serve
from asterisk_textback.config import settings_from_mapping
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.models import Call, Message
from asterisk_textback.store.schema import upgrade
from asterisk_textback.textback.loading import prepare

Until = Callable[[RunningService], bool]


@dataclass
class Outcome:
    """What one run stored, and the parts to read counters from."""

    calls: list[Call]
    texts: list[Message]
    parts: RunningService


async def run_service(
    tmp_path: Path,
    frames: Sequence[bytes],
    until: Until,
    *,
    pbx: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    server: AmiServer | None = None,
    before: Callable[[RunningService], Awaitable[None]] | None = None,
) -> Outcome:
    """Stream ``frames`` to a running service, stop once ``until(parts)``, return the rows."""
    url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    await upgrade(url)
    own = server is None
    ami = server or AmiServer({"tb": "pw"})
    if own:
        await ami.start()
    seen: list[RunningService] = []
    try:
        values: dict[str, Any] = {
            "pbx": {"port": ami.port, "username": "tb", "secret": "pw", **(pbx or {})},
            "database": {"url": url},
            "web": {"enabled": False},
            "suppression": {"quiet_hours": False},
            **(extra or {}),
        }
        stop = asyncio.Event()

        async def drive(parts: RunningService) -> None:
            seen.append(parts)
            await parts.connection.wait_ready()
            if before is not None:
                await before(parts)
            await ami.stream(frames)
            async with asyncio.timeout(10):
                while not until(parts):  # noqa: ASYNC110 - counters of the running parts
                    await asyncio.sleep(0.02)
            stop.set()

        await serve(prepare(settings_from_mapping(values)), stop, environ={}, on_ready=drive)
    finally:
        if own:
            await ami.stop()
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            calls = list((await session.scalars(select(Call))).all())
            texts = list((await session.scalars(select(Message))).all())
    finally:
        await engine.dispose()
    return Outcome(calls, texts, seen[0])
