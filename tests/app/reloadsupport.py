"""Shared by the reload tests: a gateway that keeps each text's body, and config files."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.pipeline.support import write_config

#: The built-in templates a missed call can use; each test overrides them all.
TEMPLATE_NAMES = ("missed_voicemail", "missed_no_voicemail", "after_hours", "busy", "queue_abandon")


@dataclass(frozen=True, slots=True)
class Text:
    """One request the gateway got."""

    key: str
    to: str
    body: str
    at: float


class BodyGateway:
    """A local HTTP SMS gateway (the ``webhook`` provider's peer) that keeps every text."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self.texts: list[Text] = []
        self.arrived = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        payload: dict[str, Any] = await request.json()
        key = request.headers.get("Idempotency-Key", "")
        self.texts.append(Text(key, str(payload["to"]), str(payload["body"]), time.time()))
        self.arrived.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.json_response({"id": f"gw-{len(self.texts)}"})

    async def __aenter__(self) -> BodyGateway:
        app = web.Application()
        app.router.add_post("/sms", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/sms"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def templates_toml(marker: str) -> str:
    """Every missed-call template overridden with a body starting with ``marker``."""
    return "".join(
        f'\n[[templates.{name}.variants]]\nname = "only"\nbody = "{marker} from '
        '{{ business_name }}"\n'
        for name in TEMPLATE_NAMES
    )


def config(
    path: Path,
    *,
    ami_port: int,
    gateway_url: str,
    database_url: str,
    marker: str,
    web_port: int | None = None,
    extra: str = "",
) -> Path:
    """A ``textback.toml`` texting every missed caller at once, ``marker`` in every text."""
    write_config(
        path,
        ami_port=ami_port,
        gateway_url=gateway_url,
        database_url=database_url,
        web_port=web_port,
    )
    path.write_text(path.read_text() + extra + templates_toml(marker))
    return path
