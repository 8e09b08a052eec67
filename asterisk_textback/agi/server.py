"""FastAGI: the dialplan asks for a text ("press 1 for our booking link"), gets a status back.

``AGI(agi://127.0.0.1:4573/textback?template=booking&to=${CALLERID(num)}&delay=60)`` —
``template`` is required and must name a template that exists (``booking`` is not built in:
define ``[templates.booking]``; an unknown one answers ``error`` and is logged); ``to``
defaults to the channel's caller ID, ``delay`` (seconds) to 0, ``did`` (which line's sender
number to text from) to the channel's DNID. The answer
is the channel variable ``TEXTBACK_STATUS``: ``queued``, ``suppressed:<reason>`` or ``error``.

The request goes through the same decide → render step as a missed call, under a policy
without what only judges a missed call (:mod:`.texter`); one channel gets one such text, ever.

panoramisk is confined to this module (and ``ami/``). Its ``Application`` and ``Request``
(command/reply, ``100 Trying``, ``HANGUP``) are used as they are; its ``handler`` is
replaced, because it loops forever on a connection closed before the blank line, reads
without a size or time limit, routes on the script *with* its ``?query``, lets undecodable
bytes escape and leaves the socket open, and its constructor calls ``get_event_loop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from panoramisk import fast_agi

from asterisk_textback.agi.request import parse_request
from asterisk_textback.agi.settings import AgiSettings
from asterisk_textback.agi.texter import (
    ERROR,
    QUEUED,
    AgiTexter,
    error,
)
from asterisk_textback.errors import listen_error

__all__ = [
    "STATUS_VARIABLE",
    "AgiServer",
    "AgiState",
    "AgiStats",
    "read_environment",
]

log = logging.getLogger(__name__)

STATUS_VARIABLE: Final = "TEXTBACK_STATUS"

_KEY: Final = re.compile(r"^agi_[a-z0-9_]+$")
# Asterisk sends about 25 lines plus one per AGI() argument; more is not Asterisk.
_MAX_ENV_LINES: Final = 128
_MAX_LINE_BYTES: Final = 4096


async def read_environment(reader: asyncio.StreamReader, seconds: float) -> dict[str, str]:
    """Read the ``agi_*: value`` lines up to the blank line; ValueError or EOFError if not.

    A malformed block is still read to its end, so that the status we answer with is the
    next thing the peer reads, and closing leaves no unread bytes (which would reset it).
    """
    env: dict[str, str] = {}
    problem: str | None = None
    async with asyncio.timeout(seconds):
        for _ in range(_MAX_ENV_LINES):
            try:
                raw = await reader.readline()
            except ValueError:  # longer than the reader's limit
                raise ValueError(f"an AGI line over {_MAX_LINE_BYTES} bytes") from None
            if not raw:
                raise EOFError("connection closed before the end of the AGI environment")
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                if problem is not None:
                    raise ValueError(problem)
                if not env:
                    raise ValueError("empty AGI environment")
                return env
            key, sep, value = line.partition(":")
            if not sep or not _KEY.match(key):
                problem = problem or f"not an AGI variable line: {line[:60]!r}"
            else:
                env[key] = value.strip()
    raise ValueError(f"AGI environment longer than {_MAX_ENV_LINES} lines")


class AgiState(StrEnum):
    """The FastAGI listener's state, for /healthz."""

    STOPPED = "stopped"
    LISTENING = "listening"
    CLOSED = "closed"


@dataclass(slots=True)
class AgiStats:
    """Counters since start: sessions, and how each ended."""

    sessions: int = 0
    queued: int = 0
    suppressed: int = 0
    errors: int = 0


#: Called with panoramisk's Request and the environment, or why it is unusable.
Endpoint = Callable[[Any, "dict[str, str] | str"], Awaitable[None]]


class _Application(fast_agi.Application):  # type: ignore[misc]  # panoramisk is untyped
    """panoramisk's FastAGI application with a handler that is bounded and cannot raise."""

    def __init__(self, endpoint: Endpoint, timeout: float) -> None:
        # An explicit loop: panoramisk's default calls the deprecated get_event_loop().
        super().__init__(loop=asyncio.get_running_loop())
        self._endpoint = endpoint
        self._timeout = timeout

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read the environment, hand a panoramisk Request to the endpoint, then close."""
        try:
            env: dict[str, str] | str
            try:
                env = await read_environment(reader, self._timeout)
            except (EOFError, OSError) as exc:
                # The channel is gone (or never was): nobody to tell the status to.
                log.warning("FastAGI connection dropped: %s", str(exc) or type(exc).__name__)
                return
            except (ValueError, TimeoutError) as exc:
                env = str(exc) or type(exc).__name__
            request = fast_agi.Request(self, env if isinstance(env, dict) else {}, reader, writer)
            await self._endpoint(request, env)
        except Exception:
            log.exception("FastAGI session failed")
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class AgiServer:
    """The FastAGI listener: one short session per ``AGI()`` call in the dialplan."""

    def __init__(self, settings: AgiSettings, texter: AgiTexter) -> None:
        self._settings = settings
        self._texter = texter
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[Any]] = set()
        self.state = AgiState.STOPPED
        self.stats = AgiStats()

    @property
    def port(self) -> int:
        """The port listened on (the real one when ``agi.port`` is 0)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the FastAGI server is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Listen on ``agi.host:agi.port``."""
        if self.state is not AgiState.STOPPED:
            raise RuntimeError(f"the FastAGI server is {self.state}")
        app = _Application(self._serve, self._settings.timeout_seconds)
        self._server = await asyncio.start_server(
            lambda r, w: self._track(app.handler(r, w)),
            self._settings.host,
            self._settings.port,
            limit=_MAX_LINE_BYTES,
        )
        self.state = AgiState.LISTENING
        host = self._settings.host
        with contextlib.suppress(ValueError):
            if not ipaddress.ip_address(host).is_loopback:
                log.warning("FastAGI on %s: anyone who can reach it can queue texts", host)
        log.info(
            "FastAGI listening on %s:%d (dialplan: AGI(agi://%s:%d/%s?template=…))",
            host,
            self.port,
            host,
            self.port,
            self._settings.scripts[0],
        )

    async def __aenter__(self) -> AgiServer:
        """Listen (:meth:`start`); StartupError naming the fix if the address is taken."""
        try:
            await self.start()
        except OSError as exc:
            raise listen_error(exc, "agi", self._settings.host, self._settings.port) from None
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop as :meth:`stop` says (sessions in progress finish first)."""
        await self.stop()

    async def _track(self, session: Awaitable[None]) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            await session
        finally:
            self._sessions.discard(task)

    async def stop(self) -> None:
        """Stop listening; let sessions in progress finish (up to the timeout), then close."""
        if self._server is None or self.state is AgiState.CLOSED:
            self.state = AgiState.CLOSED
            return
        self._server.close()
        self.state = AgiState.CLOSED
        pending = set(self._sessions)
        if pending:
            _, late = await asyncio.wait(pending, timeout=self._settings.timeout_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, agi: Any, env: dict[str, str] | str) -> None:
        self.stats.sessions += 1
        if isinstance(env, str):
            outcome = error(env)
        else:
            try:
                request = parse_request(env, self._settings)
            except ValueError as exc:
                outcome = error(str(exc))
            else:
                outcome = await self._texter.text(request)
        if outcome.status == QUEUED:
            self.stats.queued += 1
        elif outcome.status == ERROR:
            self.stats.errors += 1
        else:
            self.stats.suppressed += 1
        where = env.get("agi_channel", "?") if isinstance(env, dict) else "?"
        level = logging.WARNING if outcome.status == ERROR else logging.INFO
        log.log(level, "AGI %s: %s=%s (%s)", where, STATUS_VARIABLE, outcome.status, outcome.detail)
        await self._set_status(agi, outcome.status)

    async def _set_status(self, agi: Any, status: str) -> None:
        command = f'SET VARIABLE {STATUS_VARIABLE} "{status}"'
        try:
            async with asyncio.timeout(self._settings.timeout_seconds):
                reply: dict[str, Any] = await agi.send_command(command)
        except (OSError, ValueError, TimeoutError) as exc:
            # panoramisk's reply parser raises ValueError on EOF: the channel is gone.
            log.warning("could not set %s=%s: %r", STATUS_VARIABLE, status, exc)
            return
        if reply.get("status_code") != 200 or "error" in reply:
            log.warning("%s=%s refused by Asterisk: %s", STATUS_VARIABLE, status, reply)
