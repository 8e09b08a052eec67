"""One supervised AMI connection (panoramisk is imported only here, in protocol and in agi).

panoramisk's ``Manager`` keeps the action bookkeeping (ActionIDs, futures, EventList
collection); we replace what it gets wrong for a listener that must not lose calls: the
per-read decoding (see ``framing``), event delivery (one queue instead of regex dispatch into
fire-and-forget tasks), a ping that never checks the answer, and fixed-delay reconnects.

Failure policy: a refused login (wrong username/secret) or a TLS certificate that does not
verify is a configuration problem, so it is raised from :meth:`AmiConnection.wait_ready` and
:meth:`AmiConnection.run_consumer` and the connection closes; network errors, resets and
missed pings are retried forever with capped exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from panoramisk import Manager
from panoramisk.actions import Action

from asterisk_textback.ami.framing import DEFAULT_SKIP_EVENTS
from asterisk_textback.ami.protocol import (
    AmiProtocol,
    channel_uniqueids,
    client_ssl_context,
    wait_future,
)
from asterisk_textback.ami.reasons import connect_failure, in_phase, not_ami, tls_verify_fix
from asterisk_textback.ami.replies import describe, reply_error
from asterisk_textback.ami.settings import PbxSettings
from asterisk_textback.ami.stats import ConnectionStats
from asterisk_textback.ami.types import ConnectionState, EventBatch, QueueItem, Resync
from asterisk_textback.errors import (
    AmiConnectError,
    AmiError,
    AmiLoginError,
    AmiNotConnectedError,
    AmiPermissionError,
)

__all__ = ["AmiConnection", "Handler"]

log = logging.getLogger(__name__)

Handler = Callable[[QueueItem], Awaitable[None] | None]
"""What :meth:`AmiConnection.run_consumer` calls for each queued item, in order."""


class _FatalError(AmiConnectError):
    """Internal marker: retrying cannot help."""


class AmiConnection:
    """A supervised AMI client delivering events in wire order through one queue."""

    def __init__(
        self,
        settings: PbxSettings,
        *,
        environ: Mapping[str, str] | None = None,
        skip_events: frozenset[str] = DEFAULT_SKIP_EVENTS,
        keep_variables: frozenset[str] | None = None,
        on_state_change: Callable[[ConnectionState], None] | None = None,
        jitter: float = 0.1,
        rng: random.Random | None = None,
        resync_from: float | None = None,
        retry: bool = True,
    ) -> None:
        """``resync_from``: this connection replaces one closed at that epoch (a reload),
        so its first login resyncs too, blind since then. ``retry=False`` (``check``): one
        attempt, its failure raised from :meth:`wait_ready` and logged at DEBUG only."""
        self.settings = settings
        self.skip_events = skip_events
        #: VarSet events are delivered only for these variables (None: every VarSet); pass
        #: ``framing.TRACKED_VARIABLES`` when the consumer is a CallTracker.
        self.keep_variables = keep_variables
        self.stats = ConnectionStats()
        self._secret = settings.resolved_secret(os.environ if environ is None else environ)
        self._on_state_change = on_state_change
        self._jitter = jitter
        self._rng = rng or random.Random()
        self._state = ConnectionState.DISCONNECTED
        self._ready = asyncio.Event()
        # None wakes the consumer up to stop (closed, or a fatal error to raise).
        self._queue: asyncio.Queue[QueueItem | None] = asyncio.Queue()
        self._manager: Any = None
        self._protocol: AmiProtocol | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._fatal: AmiError | None = None
        self._last_batch_at: float | None = None
        self._blind_since: float | None = resync_from
        self._resync_first = resync_from is not None
        self._retry = retry
        #: Set when an action was refused for lack of a class (e.g. the resync).
        self.permission_error: AmiPermissionError | None = None

    @property
    def state(self) -> ConnectionState:
        """disconnected / connecting / ready / closed."""
        return self._state

    @property
    def version(self) -> str | None:
        """The AMI protocol version from the banner of the current connection."""
        return None if self._protocol is None else self._protocol.version

    @property
    def queue_size(self) -> int:
        """Items waiting for the consumer."""
        return self._queue.qsize()

    @property
    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _set_state(self, state: ConnectionState) -> None:
        if state is self._state:
            return
        log.info("AMI %s: %s -> %s", self._where, self._state, state)
        self._state, self.stats.state_since = state, time.time()
        if state is ConnectionState.READY:
            self._ready.set()
        else:
            self._ready.clear()
        if self._on_state_change is not None:
            try:
                self._on_state_change(state)
            except Exception:
                log.exception("AMI state-change callback failed")

    async def start(self) -> None:
        """Start connecting in the background (idempotent); see :meth:`wait_ready`."""
        if self._state is ConnectionState.CLOSED:
            raise AmiError(f"AMI connection to {self._where} is closed")
        if self._supervisor is None:
            loop = asyncio.get_running_loop()
            self._manager = Manager(
                loop=loop, host=self.settings.host, port=self.settings.port, log=log
            )
            self._supervisor = loop.create_task(self._supervise(), name=f"ami {self._where}")

    async def wait_ready(self) -> None:
        """Wait until logged in; raise the fatal error (e.g. AmiLoginError) if it gave up.

        Retries of network errors are endless: bound the wait with ``asyncio.timeout``.
        """
        if self._supervisor is None:
            raise AmiError(f"AMI connection to {self._where} was not started")
        waiter = asyncio.ensure_future(self._ready.wait())
        try:
            await asyncio.wait({waiter, self._supervisor}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
        if self._fatal is not None:
            raise self._fatal
        if self._state is not ConnectionState.READY:
            raise AmiError(f"AMI connection to {self._where} is {self._state}")

    async def __aenter__(self) -> AmiConnection:
        await self.start()
        try:
            await self.wait_ready()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop reconnecting, close the socket and wake the consumer; safe to call twice."""
        if self._state is not ConnectionState.CLOSED:
            self._set_state(ConnectionState.CLOSED)
            self._queue.put_nowait(None)
        task, self._supervisor = self._supervisor, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop_protocol()

    async def _drop_protocol(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None:
            protocol.close()
            # Let the transport finish closing so no socket is left for the GC to warn about.
            with contextlib.suppress(TimeoutError, ConnectionError):
                await wait_future(protocol.lost, 1.0, "close")

    def _put(self, batch: EventBatch) -> None:
        self.stats.events += len(batch.events)
        if batch.events:
            self.stats.last_event_at = time.time()
        self.stats.batches += 1
        self._last_batch_at = batch.received_at
        self._queue.put_nowait(batch)

    def _resync_done(self, result: Any, now: float) -> None:
        if isinstance(result, list):
            self.stats.resyncs += 1
            since = self._blind_since if self._blind_since is not None else now
            self._queue.put_nowait(Resync(channel_uniqueids(result), now, since))
            return
        try:
            self._check_reply("CoreShowChannels", result.raw)
        except AmiError as exc:
            log.error("AMI %s: cannot resync after reconnect: %s", self._where, exc)

    async def run_consumer(self, handler: Handler) -> None:
        """Feed every queued item to ``handler`` in order until closed.

        An exception in the handler is logged with the item and the next item is delivered.
        Returns after :meth:`close`; raises the fatal error if the connection gave up.
        """
        queue = self._queue
        while True:
            item = await queue.get()
            if item is None:
                if self._fatal is not None:
                    raise self._fatal
                return
            try:
                result = handler(item)
                if result is not None:
                    await result
            except Exception:
                self.stats.handler_errors += 1
                log.exception("AMI event handler failed on %s", describe(item))

    async def send_action(self, action: Mapping[str, str]) -> dict[str, str]:
        """Send an action and return the response headers; raise AmiError on an Error reply.

        Unanswered after ``connect_timeout`` seconds, or cut by a disconnect: AmiError.
        """
        name = action.get("Action", "?")
        result = await self._request(dict(action))
        headers: dict[str, str] = (result[0] if isinstance(result, list) else result).raw
        self._check_reply(name, headers)
        return headers

    async def core_show_channels(self) -> frozenset[str]:
        """Uniqueids of the channels alive now; also a check of the needed write class."""
        result = await self._request({"Action": "CoreShowChannels"})
        if not isinstance(result, list):
            self._check_reply("CoreShowChannels", result.raw)
            raise AmiError(f"CoreShowChannels on {self._where}: unexpected answer {result.raw}")
        self._check_reply("CoreShowChannels", result[0].raw)
        return channel_uniqueids(result)

    async def dialplan_contexts(self) -> frozenset[str]:
        """Every dialplan context the PBX has loaded (``ShowDialPlan``; for ``check``)."""
        result = await self._request({"Action": "ShowDialPlan"})
        if not isinstance(result, list):
            self._check_reply("ShowDialPlan", result.raw)
            return frozenset()
        self._check_reply("ShowDialPlan", result[0].raw)
        return frozenset(m.raw["Context"] for m in result if m.raw.get("Event") == "ListDialplan")

    def _check_reply(self, name: str, headers: Mapping[str, str]) -> None:
        exc = reply_error(name, headers, self.settings.username, self._where)
        if exc is None:
            return
        if isinstance(exc, AmiPermissionError):
            self.permission_error = exc
        raise exc

    async def _request(self, action: dict[str, str]) -> Any:
        protocol = self._protocol
        if protocol is None or self._state is not ConnectionState.READY:
            raise AmiNotConnectedError(f"AMI {self._where} is not connected ({self._state})")
        name = action.get("Action", "?")
        try:
            # as_list=None: let the reply's EventList decide (panoramisk's default False would
            # resolve CoreShowChannels with its first frame, before any channel is listed).
            sent = protocol.send(action, as_list=None)
            return await wait_future(sent, self.settings.connect_timeout, name)
        except (TimeoutError, ConnectionResetError) as exc:
            raise AmiError(f"AMI {self._where}: {exc}") from None

    async def _login(self) -> AmiProtocol:
        s = self.settings
        loop = asyncio.get_running_loop()
        ctx = client_ssl_context(s)
        try:
            async with asyncio.timeout(s.connect_timeout):
                _, protocol = await loop.create_connection(
                    lambda: AmiProtocol(self, loop),
                    s.host,
                    s.port,
                    ssl=ctx,
                    server_hostname=s.host if ctx else None,
                )
        except ssl.SSLCertVerificationError as exc:
            raise _FatalError(
                f"TLS certificate of AMI {self._where} does not verify: {exc.verify_message}",
                tls_verify_fix(s),
            ) from None
        except (OSError, TimeoutError) as exc:
            raise connect_failure(exc, s, "connect") from None
        self._protocol = protocol
        self._manager.protocol = protocol
        banner = await in_phase(wait_future(protocol.banner, s.connect_timeout, "AMI banner"), s)
        if not banner:
            raise not_ami(s)
        login = {"Action": "Login", "Username": s.username, "Secret": self._secret}
        sent = self._manager.send_action({**login, "Events": "on"})
        reply = await in_phase(wait_future(sent, s.connect_timeout, "Login"), s, "login")
        if reply.raw.get("Response") != "Success":
            why = reply.raw.get("Message", "no reason given")
            raise AmiLoginError(
                f"AMI login refused for user {s.username!r} on {self._where}: {why}"
            )
        return protocol

    def _backoff(self, delay: float) -> float:
        return delay * (1.0 + self._jitter * self._rng.random())

    async def _supervise(self) -> None:
        s = self.settings
        delay = s.reconnect_min
        while True:
            self._set_state(ConnectionState.CONNECTING)
            try:
                protocol = await self._login()
            except (AmiLoginError, _FatalError) as exc:
                await self._give_up(exc)
                return
            except (OSError, TimeoutError, AmiError) as exc:
                if not self._retry:
                    await self._give_up(exc if isinstance(exc, AmiError) else AmiError(str(exc)))
                    return
                log.warning("AMI %s: connect failed (%s); retry in %.2f s", self._where, exc, delay)
                await self._drop_protocol()
                self._set_state(ConnectionState.DISCONNECTED)
                await asyncio.sleep(self._backoff(delay))
                delay = min(delay * 2, s.reconnect_max)
                continue
            delay = s.reconnect_min  # reset only once a login succeeded
            self.stats.logins += 1
            if self.stats.logins > 1 or self._resync_first:
                self.stats.reconnects += 1
                protocol.resync_action = Action({"Action": "CoreShowChannels"})
                self._manager.send_action(protocol.resync_action)
            self._set_state(ConnectionState.READY)
            watchdog = asyncio.get_running_loop().create_task(self._watchdog(protocol))
            try:
                await protocol.lost
            finally:
                watchdog.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watchdog
            self._protocol = None
            # Blind from the last thing we heard until the resync: the CDR catch-up window.
            self._blind_since = self._last_batch_at or time.time()
            self._set_state(ConnectionState.DISCONNECTED)
            log.warning("AMI %s: connection lost; reconnecting in %.2f s", self._where, delay)
            await asyncio.sleep(self._backoff(delay))
            delay = min(delay * 2, s.reconnect_max)

    async def _give_up(self, exc: AmiError) -> None:
        level = logging.ERROR if self._retry else logging.DEBUG
        log.log(level, "AMI %s: giving up: %s", self._where, exc)
        self._fatal = exc
        await self._drop_protocol()
        self._set_state(ConnectionState.CLOSED)
        self._queue.put_nowait(None)

    async def _watchdog(self, protocol: AmiProtocol) -> None:
        s = self.settings
        while not protocol.closed:
            await asyncio.sleep(s.ping_interval)
            try:
                reply = await wait_future(protocol.send({"Action": "Ping"}), s.ping_timeout, "Ping")
            except TimeoutError:
                self.stats.pings_missed += 1
                log.warning(
                    "AMI %s: no answer to Ping within %g s; closing the half-open connection",
                    self._where,
                    s.ping_timeout,
                )
                protocol.transport.abort()
                return
            except ConnectionResetError:
                return
            if reply.raw.get("Response") != "Success":
                log.warning("AMI %s: unexpected answer to Ping: %.200r", self._where, reply.raw)
