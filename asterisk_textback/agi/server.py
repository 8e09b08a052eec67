"""FastAGI: the dialplan asks for a text ("press 1 for our booking link"), gets a status back.

``AGI(agi://127.0.0.1:4573/textback?template=booking&to=${CALLERID(num)}&delay=60)`` —
``template`` is required and must name a template that exists (``booking`` is not built in:
define ``[templates.booking]``; an unknown one answers ``error`` and is logged); ``to``
defaults to the channel's caller ID, ``delay`` (seconds) to 0, ``did`` (which line's sender
number to text from) to the channel's DNID. The answer
is the channel variable ``TEXTBACK_STATUS``: ``queued``, ``suppressed:<reason>`` or ``error``.

The request goes through the same ``policy.decide`` as a missed call, minus what only judges
a missed call. Kept: the number checks (anonymous — also when caller ID presentation is
restricted —, short code, invalid, country, blocked number types), opt-out, known landline,
the per-number daily cap (caller ID can be spoofed: nobody gets pressed into a text storm)
and the global and per-prefix rates (SMS pumping). Dropped: the call checks and ``[[rules]]``
(the dialplan chose the template), "handled since" and the cooldown (the caller is on the
line asking for it) and quiet hours (same). Retries are idempotent: the outbox key is the
PBX, the channel's uniqueid and the template, so one channel gets one such text, ever.

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
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final

from panoramisk import fast_agi
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.agi.settings import AgiSettings, TextRequest, parse_request
from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason
from asterisk_textback.calls.utc import utc
from asterisk_textback.config import Settings
from asterisk_textback.logs.mask import phone
from asterisk_textback.policy import NO_HISTORY, PolicySettings, RuleSettings, decide, parse_caller
from asterisk_textback.store import caps, history, outbox
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.templates.compose import compose
from asterisk_textback.textback.loading import PreparedConfig

__all__ = [
    "ERROR",
    "MESSAGE_KIND",
    "QUEUED",
    "STATUS_VARIABLE",
    "AgiServer",
    "AgiState",
    "AgiStats",
    "AgiTexter",
    "TextOutcome",
    "TextRequest",
    "explicit_policy",
    "parse_request",
    "read_environment",
]

log = logging.getLogger(__name__)

STATUS_VARIABLE: Final = "TEXTBACK_STATUS"
QUEUED: Final = "queued"
ERROR: Final = "error"
#: ``messages.kind`` of texts asked for by the dialplan (missed-call texts are "textback").
MESSAGE_KIND: Final = "agi"

_KEY: Final = re.compile(r"^agi_[a-z0-9_]+$")
# Asterisk sends about 25 lines plus one per AGI() argument; more is not Asterisk.
_MAX_ENV_LINES: Final = 128
_MAX_LINE_BYTES: Final = 4096


@dataclass(frozen=True, slots=True)
class TextOutcome:
    """What became of a request: the ``TEXTBACK_STATUS`` value and why."""

    status: str
    detail: str
    message_id: int | None = None


def _error(detail: str) -> TextOutcome:
    return TextOutcome(ERROR, detail)


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


def explicit_policy(settings: Settings, template: str, delay: float) -> PolicySettings:
    """The policy for a text the caller asked for: one rule, no cooldown, no quiet hours."""
    rule = RuleSettings(name="agi", template=template, send_delay_seconds=delay)
    suppression = settings.suppression.model_copy(
        update={"cooldown_hours": 0.0, "quiet_hours": None}
    )
    return PolicySettings(business=settings.business, rules=(rule,), suppression=suppression)


class AgiTexter:
    """Turns a :class:`TextRequest` into an outbox row or a suppression; never raises."""

    def __init__(
        self,
        loaded: PreparedConfig,
        sessions: async_sessionmaker[AsyncSession],
        *,
        on_queued: Callable[[], None],
        pbx: str = "default",
        clock: Callable[[], float] = time.time,
        tracking_secret: str = "",
    ) -> None:
        self._loaded = loaded
        self._sessions = sessions
        self._on_queued = on_queued
        self._pbx = pbx
        self._clock = clock
        self._tracking_secret = tracking_secret

    def use(self, loaded: PreparedConfig) -> None:
        """Serve requests arriving from now on with a reloaded config (``SIGHUP``)."""
        self._loaded = loaded

    async def text(self, request: TextRequest) -> TextOutcome:
        """Decide, render and commit the text ``request`` asks for."""
        try:
            return await self._text(request)
        except Exception:
            log.exception("AGI request %s (%s) failed", request.uniqueid, request.template)
            return _error("internal error (logged)")

    def _key(self, request: TextRequest) -> str:
        return outbox.idempotency_key(
            self._pbx, request.uniqueid, f"{MESSAGE_KIND}:{request.template}"
        )

    async def _text(self, request: TextRequest) -> TextOutcome:
        loaded, settings = self._loaded, self._loaded.settings
        if request.template not in loaded.renderer:
            return _error(f"no template named {request.template!r}")
        key = self._key(request)
        now = self._clock()
        async with self._sessions() as session:
            # A retried AGI (same channel, same template) is answered before the policy
            # runs again: its own first text would otherwise count against the caps.
            existing = await outbox.id_for_key(session, key)
        if existing is not None:
            return TextOutcome(QUEUED, "already queued for this channel", existing)
        # A stand-in for the call so that decide() and compose() apply unchanged.
        call = CallEnded(
            linkedid=request.uniqueid,
            direction=Direction.INBOUND,
            outcome=Outcome.MISSED_NO_VOICEMAIL,
            reason=Reason.NO_ANSWER,
            caller_number=request.to,
            caller_name=request.caller_name,
            did=request.did,
            queue=None,
            mailbox=None,
            started_at=now,
            ended_at=now,
            ring_seconds=0.0,
            pbx=self._pbx,
        )
        number = parse_caller(request.to, settings.business.default_region)
        hist = NO_HISTORY
        if number.e164 is not None:
            async with self._sessions() as session:
                hist = await history.history_for_policy(
                    session, number, settings.suppression, now=utc(now)
                )
            hist = replace(hist, last_handled_at=None)  # the caller is on the line, asking
        policy = explicit_policy(settings, request.template, request.delay)
        decision = decide(call, hist, policy, now)
        if not decision.send:
            return TextOutcome(f"suppressed:{decision.reason}", decision.detail)
        draft = compose(
            call,
            decision,
            settings,
            loaded.renderer,
            first_contact=hist.last_texted_at is None,
            tracking_secret=self._tracking_secret,
        )
        new = outbox.NewMessage(
            to_e164=draft.to,
            sender=draft.sender,
            body=draft.body,
            segments=draft.segments,
            encoding=draft.encoding,
            send_at=utc(draft.send_at),
            expires_at=None if draft.expires_at is None else utc(draft.expires_at),
            kind=MESSAGE_KIND,
            template=draft.template,
            variant=draft.variant,
            experiment=draft.experiment,
            provider=settings.provider.name,
        )
        limits, prefix = caps.Caps.of(policy.suppression), decision.rate_prefix
        async with unit_of_work(self._sessions) as session:  # the caps again, racing writers
            found = await caps.enqueue(session, new, limits, key=key, prefix=prefix, now=utc(now))
        message, created, slot = found
        if message is None:
            return TextOutcome(f"suppressed:{slot.reason}", slot.detail)
        if created:
            try:
                self._on_queued()
            except Exception:
                # The text is committed: the dispatcher's next poll sends it anyway.
                log.exception("waking the dispatcher failed")
        detail = f"to {phone(draft.to)}" if created else "already queued"  # a log line
        return TextOutcome(QUEUED, detail, message.id)


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
        log.info("FastAGI on agi://%s:%d/%s", host, self.port, self._settings.scripts[0])

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
            outcome = _error(env)
        else:
            try:
                request = parse_request(env, self._settings)
            except ValueError as exc:
                outcome = _error(str(exc))
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
