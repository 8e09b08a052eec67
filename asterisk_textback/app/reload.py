"""``SIGHUP`` (``systemctl reload``): re-read ``textback.toml`` without a restart.

Order is what makes a reload safe: the new config is loaded and validated, and everything
it needs is built (provider, AMI connections logged in, web app), before anything running
is touched; a failure anywhere refuses the whole reload with the key named, and the old
config keeps running. Then the parts read per call and per text (policy, templates, the
provider, trunk contexts) are swapped with no ``await`` in between; each call is decided
wholly by the config in force when it ended. Last, listeners whose settings changed
are restarted one at a time: an AMI link is closed (every event it had delivered is still
consumed) and its replacement resyncs from CoreShowChannels, so the tracker keeps its open
calls; the old provider is closed once its requests in flight have finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from functools import partial

import aiohttp
from aiohttp import web

from asterisk_textback.agi.server import AgiServer
from asterisk_textback.agi.texter import AgiTexter
from asterisk_textback.ami.connection import AmiConnection
from asterisk_textback.ami.framing import TRACKED_VARIABLES
from asterisk_textback.ami.settings import PbxSettings
from asterisk_textback.app.lifecycle import background
from asterisk_textback.app.parts import RunningService
from asterisk_textback.app.web_port import WebPort
from asterisk_textback.config import Settings
from asterisk_textback.errors import AmiError, ConfigError
from asterisk_textback.policy import window_opens
from asterisk_textback.sms.base import Provider
from asterisk_textback.sms.lookup import LineLookup
from asterisk_textback.sms.registry import Resources, build_lookup, build_provider
from asterisk_textback.sms.swap import SwappableProvider
from asterisk_textback.textback.loading import PreparedConfig

log = logging.getLogger(__name__)

#: Sections read once at start-up: a changed one is named in a warning and waits for a restart.
RESTART_ONLY = ("database", "dispatch", "crm")
#: PBX settings of the CDR catch-up, not of the AMI link: read at start-up only.
CATCHUP_FIELDS = frozenset({"cdr_csv", "cdr_db_url_env", "cdr_timezone"})
#: Sections the web app (webhooks, inbox, dashboard, bookings) is built from.
WEB_SECTIONS = ("web", "provider", "consent", "forwarding", "bookings", "business", "kpi")


class Reloader:
    """Applies a re-read config to the running service; see the module docstring."""

    def __init__(
        self,
        loaded: PreparedConfig,
        parts: RunningService,
        *,
        load_config: Callable[[], PreparedConfig],
        provider: SwappableProvider,
        lookup: LineLookup | None,
        texter: AgiTexter,
        web_listener: WebPort,
        web_app: Callable[[PreparedConfig], web.Application],
        http: aiohttp.ClientSession,
        environ: Mapping[str, str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.current = loaded
        self._parts = parts
        self._load = load_config
        self._provider = provider
        self._lookup = lookup
        self._texter = texter
        self._web = web_listener
        self._web_app = web_app
        self._http = http
        self._env = environ
        self._clock = clock
        self._retiring: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        #: Reloads applied / refused since start (``/healthz``).
        self.applied = 0
        self.refused = 0

    async def run(self, requested: asyncio.Event) -> None:
        """Reload each time ``requested`` is set (SIGHUP), one at a time, until :meth:`stop`.

        A reload under way when stop() is called is finished first, and old providers still
        finishing their requests are closed before this returns.
        """
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            while True:
                asked = asyncio.ensure_future(requested.wait())
                await asyncio.wait({asked, stopping}, return_when=asyncio.FIRST_COMPLETED)
                asked.cancel()
                if self._stopping.is_set():
                    break
                requested.clear()
                await self.reload()
        finally:
            stopping.cancel()
            if self._retiring:
                await asyncio.gather(*self._retiring, return_exceptions=True)

    @contextlib.asynccontextmanager
    async def watching(self, requested: asyncio.Event) -> AsyncIterator[None]:
        """:meth:`run` while inside; on leaving, a reload under way is finished first."""
        async with background("reload", lambda: self.run(requested), self.stop):
            yield

    def health(self) -> dict[str, int]:
        """Reloads applied and refused since start (``/healthz``)."""
        return {"applied": self.applied, "refused": self.refused}

    def stop(self) -> None:
        """Take no more reloads: :meth:`run` returns once the one under way is done."""
        self._stopping.set()

    async def rebuild_web(self) -> None:
        """Serve a freshly built web app for the config in force (web.enabled only)."""
        s = self.current.settings
        if s.web.enabled:
            await self._restart_web(self._web_app(self.current), s)

    async def reload(self) -> bool:
        """Re-read the config and apply it; False (logged at ERROR) if it was refused."""
        old = self.current.settings
        try:
            # Parsing and trial-rendering take a while: off the loop, so calls keep flowing.
            new = await asyncio.to_thread(self._load)
            relinks, app = await self._swap(new)
        except ConfigError as exc:
            self.refused += 1
            log.error("config reload refused, the previous config keeps running: %s", exc)
            return False
        except Exception as exc:  # a bug must not end the service; the old config stays
            self.refused += 1
            log.error("config reload failed, the previous config keeps running: %r", exc)
            return False
        # Then the listeners whose settings changed, one at a time.
        try:
            for index, conn in relinks.items():
                await self._relink(index, conn)
            s = new.settings
            if app is not None or (old.web.enabled and not s.web.enabled):
                await self._restart_web(app, s)
            if old.agi != s.agi:
                await self._restart_agi(s)
        except Exception as exc:
            log.error("config reloaded, but restarting a listener failed: %r", exc)
        self.applied += 1  # counted once done: a test or probe may then look at the listeners
        return True

    async def _swap(
        self, new: PreparedConfig
    ) -> tuple[dict[int, AmiConnection], web.Application | None]:
        """Build what the new config needs, then swap it in; what remains to restart."""
        old, s = self.current.settings, new.settings
        changed = [name for name in type(s).model_fields if getattr(old, name) != getattr(s, name)]
        for section in RESTART_ONLY:
            if section in changed:
                log.warning("config reload: [%s] changed; it applies after a restart", section)
        relinks = await self._new_links(old, s)
        # Everything that can fail is built before anything running is touched.
        first = relinks.get(0, self._parts.pbxes[0].connection)
        provider: Provider | None = None
        lookup = self._lookup
        try:
            if "provider" in changed or 0 in relinks:
                provider = build_provider(s.provider, Resources(self._http, self._env, first))
                lookup = build_lookup(s.provider, Resources(self._http, self._env, first))
            app = None
            # The dashboard names the A/B variants: a templates change rebuilds it too.
            dashboard = "templates" in changed and s.web.dashboard.enabled
            if s.web.enabled and (dashboard or any(x in changed for x in WEB_SECTIONS)):
                app = self._web_app(new)
        except BaseException:
            for conn in relinks.values():
                await conn.close()
            if provider is not None:
                await provider.close()
            raise
        # The swap: no await from here to the end of it, so a call sees one config.
        self._parts.recorder.use(new, lookup)
        self._texter.use(new)
        for link in self._parts.pbxes:
            link.tracker.use_settings(s.tracker)
        self._parts.dispatcher.use_provider_settings(s.provider)
        self._parts.dispatcher.quiet.use(partial(window_opens, config=s))
        if provider is not None:
            retired = self._provider.swap(provider)
            task = asyncio.create_task(self._provider.retire(retired))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)
        self._lookup = lookup
        self.current = new
        log.info("config reloaded; changed: %s", ", ".join(changed) or "nothing")
        return relinks, app

    async def _new_links(self, old: Settings, s: Settings) -> dict[int, AmiConnection]:
        """Logged-in replacements for the links whose settings changed, by index."""
        before = [p.name for p in old.all_pbxes]
        after = [p.name for p in s.all_pbxes]
        if before != after:
            log.warning(
                "config reload: PBXes added, removed or renamed (%s -> %s); that applies "
                "after a restart",
                ", ".join(before),
                ", ".join(after),
            )
        closed_at = self._clock()
        relinks: dict[int, AmiConnection] = {}
        for index, link in enumerate(self._parts.pbxes):
            pbx = next((p for p in s.all_pbxes if p.name == link.name), None)
            if pbx is None:
                continue
            key = "pbx" if index == 0 else f"pbxes[{index - 1}]"
            now, was = pbx.model_dump(), link.connection.settings.model_dump()
            if any(now[f] != was[f] for f in CATCHUP_FIELDS):
                log.warning("config reload: %s.cdr_* changed; it applies after a restart", key)
            if all(now[f] == was[f] for f in now if f not in CATCHUP_FIELDS):
                continue
            try:
                await _probe(pbx, self._connection(pbx, None), key)
            except BaseException:
                for conn in relinks.values():
                    await conn.close()
                raise
            relinks[index] = self._connection(pbx, closed_at)
        return relinks

    def _connection(self, pbx: PbxSettings, resync_from: float | None) -> AmiConnection:
        return AmiConnection(
            pbx, environ=self._env, keep_variables=TRACKED_VARIABLES, resync_from=resync_from
        )

    async def _relink(self, index: int, conn: AmiConnection) -> None:
        link = self._parts.pbxes[index]
        # Install the replacement first: the consumer moves on to it when the old one ends.
        self._parts.pbxes[index] = replace(link, connection=conn)
        await link.connection.close()
        await conn.start()
        with contextlib.suppress(TimeoutError, AmiError):
            async with asyncio.timeout(conn.settings.connect_timeout + 1.0):
                await conn.wait_ready()
        log.info("config reload: AMI link %r restarted with its new settings", link.name)

    async def _restart_web(self, app: web.Application | None, s: Settings) -> None:
        if app is None:
            await self._web.stop()
            log.info("config reload: web listener stopped (web.enabled = false)")
            return
        try:
            await self._web.start(app, s.web.host, s.web.port)
        except OSError as exc:
            log.error(
                "config reload: web cannot listen on %s:%d (%s); still on the old address",
                s.web.host,
                s.web.port,
                exc,
            )

    async def _restart_agi(self, s: Settings) -> None:
        await self._parts.agi.stop()
        self._parts.agi = AgiServer(s.agi, self._texter)
        if s.agi.enabled:
            try:
                await self._parts.agi.start()
            except OSError as exc:
                log.error(
                    "config reload: FastAGI cannot listen on %s:%d: %s", s.agi.host, s.agi.port, exc
                )
        log.info("config reload: FastAGI listener restarted")


async def _probe(pbx: PbxSettings, probe: AmiConnection, key: str) -> None:
    """Log in once with new AMI settings; ConfigError naming ``key`` if that fails."""
    try:
        async with asyncio.timeout(pbx.connect_timeout + 1.0):
            async with probe:
                pass
    except (TimeoutError, AmiError, OSError) as exc:
        await probe.close()
        detail = str(exc) or type(exc).__name__
        raise ConfigError(
            f"{key}: cannot log in to AMI at {pbx.host}:{pbx.port} with the new settings ({detail})"
        ) from None
