"""``asterisk-textback run``: listener + tracker + recorder + dispatcher + /healthz.

Every long-lived part is an async context manager entered on one ``AsyncExitStack``
(:mod:`.lifecycle`): start order sets stop order, and a part that cannot start (web or
FastAGI port in use, database unreadable) stops every part started before it; ``run``
then exits 1 with one line naming the problem and the fix.

Shutdown order (SIGTERM/SIGINT) is what makes it lose nothing: stop taking AMI events,
record every call already finished, let the dispatcher finish the text in hand and put
the rest of its batch back in the queue, then close the provider and the database. In
full, the reverse of the start order in :func:`serve`: the reloader (a reload under way is
finished first), the AMI links (every event delivered is consumed), the FastAGI listener
(texts it queued while stopping still go out), the outage catch-ups, the recorder (every
call handed over is recorded), the start-up catch-up's marks, the dispatcher, the CRM hooks
and poster, the web listener, the provider, the HTTP session, the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from asterisk_textback.agi.server import AgiServer
from asterisk_textback.agi.texter import AgiTexter
from asterisk_textback.ami.connection import AmiConnection
from asterisk_textback.ami.framing import TRACKED_VARIABLES
from asterisk_textback.app import heap
from asterisk_textback.app.dids import for_dids
from asterisk_textback.app.lifecycle import (
    ami_failure,
    database,
    evicting,
    fastagi,
    pbx_links,
    running,
)
from asterisk_textback.app.parts import PbxLink, RunningService
from asterisk_textback.app.reload import Reloader
from asterisk_textback.app.tenant_db import tenant_engine
from asterisk_textback.app.web_listener import WebListener
from asterisk_textback.app.web_port import WebPort
from asterisk_textback.app.webapp import service_app
from asterisk_textback.bookings.webhook import BookingSecrets
from asterisk_textback.calls.listener import CallListener
from asterisk_textback.calls.tracker import CallTracker
from asterisk_textback.config import Settings
from asterisk_textback.crm.hooks import CrmDispatcher, CrmHooks, CrmSecrets
from asterisk_textback.errors import AmiError, ConfigError
from asterisk_textback.outbox.dispatcher import Dispatcher
from asterisk_textback.outbox.pacing import PollBudget
from asterisk_textback.policy import window_opens
from asterisk_textback.sms.registry import Resources, build_lookup, build_provider
from asterisk_textback.sms.swap import SwappableProvider
from asterisk_textback.store.engine import (
    create_session_factory,
    with_password,
    without_password,
)
from asterisk_textback.tenancy.ids import DEFAULT_TENANT
from asterisk_textback.tenancy.leases import LinkGate, cluster_gate
from asterisk_textback.textback.catchup import CdrCatchUp
from asterisk_textback.textback.handler import CallHandler, OnDecided, both_decided
from asterisk_textback.textback.loading import PreparedConfig
from asterisk_textback.textback.startup_catchup import MarkedLink, StartupCatchUp
from asterisk_textback.web.base_path import tenant_base_path
from asterisk_textback.web.console.auth import ConsoleAuth

__all__ = [
    "PbxLink",
    "RunningService",
    "database_url",
    "install_signal_handlers",
    "serve",
]

log = logging.getLogger(__name__)


def database_url(loaded: PreparedConfig, environ: Mapping[str, str]) -> str:
    """The database URL, with the password from ``database.password_env`` merged in."""
    db = loaded.settings.database
    if not db.password_env:
        return db.url
    try:
        password = environ[db.password_env]
    except KeyError:
        raise ConfigError(
            f"database.password_env: environment variable {db.password_env!r} is not set"
        ) from None
    return with_password(db.url, password)


async def serve(
    loaded: PreparedConfig,
    stop: asyncio.Event,
    *,
    environ: Mapping[str, str] | None = None,
    on_decided: OnDecided | None = None,
    on_ready: Callable[[RunningService], Awaitable[None]] | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    settle_heap: bool = False,
    reload: asyncio.Event | None = None,
    load_config: Callable[[], PreparedConfig] | None = None,
    web_listener: WebPort | None = None,
    tenant: str = DEFAULT_TENANT,
    engine: AsyncEngine | None = None,
    http: aiohttp.ClientSession | None = None,
    link_gate: LinkGate | None = None,
    console: ConsoleAuth | None = None,
    poll_budget: PollBudget | None = None,
) -> RunningService:
    """Run the whole service until ``stop`` is set; return its parts (for their counters).

    ``reload`` (set by SIGHUP) re-reads the config with ``load_config`` (:mod:`.reload`).

    ``link_gate``: when this instance may watch each PBX link (``[cluster]``); None: a
    :class:`LeaseKeeper` of its own when ``cluster.enabled``, else every link.

    ``web_listener``: the one to listen with (``demo --web`` reads its URL); a new one
    otherwise; a host of several tenants hands each its stand-in (:mod:`.tenant_mount`).

    ``tenant``: whose business this is (its web app is mounted under its base path).
    ``engine``: the host's one PostgreSQL engine, seen through the tenant's schema; None
    opens the tenant's own (SQLite: each tenant has its own file). ``http``: the host's one
    HTTP session; None opens one. ``link_gate``: the cluster's PBX link leases.
    ``console``: the integrator console's sign-in, admitted by the tenant's dashboard.
    ``poll_budget``: the host's idle outbox polls, shared by its tenants' dispatchers.

    ``settle_heap``: once everything is built, and before the first AMI event, keep the
    start-up objects out of later garbage collections (:func:`heap.settle`). The ``run``
    command does; callers that serve many times in one process (tests) should not.

    Raises :class:`StartupError` (everything started is stopped again) if a part cannot
    start, or once stopped if a PBX refused the login.
    """
    settings = loaded.settings
    env = os.environ if environ is None else environ
    async with contextlib.AsyncExitStack() as stack:
        # Entered in start order; the stack stops them in the reverse (the module docstring).
        if engine is None:
            url = database_url(loaded, env)
            engine = await stack.enter_async_context(
                database(url, without_password(url), settings.database)
            )
        else:
            engine = await tenant_engine(engine, tenant)
        sessions = create_session_factory(engine)
        if http is None:
            http = await stack.enter_async_context(aiohttp.ClientSession())
        gate = link_gate or await stack.enter_async_context(
            cluster_gate(settings.cluster, engine, settings.dispatch.instance)
        )
        connections = [
            AmiConnection(pbx, environ=env, keep_variables=TRACKED_VARIABLES)
            for pbx in settings.all_pbxes
        ]
        # Texts over a SIP trunk leave through the first PBX's connection.
        resources = Resources(http, env, connections[0])
        provider = SwappableProvider(build_provider(settings.provider, resources))
        stack.push_async_callback(provider.close)
        lookup = build_lookup(settings.provider, resources)
        booking_secrets = BookingSecrets.from_env(settings.bookings, env)
        crm = CrmDispatcher(
            settings.crm, CrmSecrets.from_env(settings.crm, env), sessions, http, clock=clock
        )
        hooks = CrmHooks(settings.crm, sessions, clock=clock, on_queued=crm.wake)
        dispatcher = Dispatcher(
            sessions,
            provider,
            settings.dispatch,
            settings.provider,
            clock=clock,
            sleep=sleep,
            on_sent=hooks.texts_sent,
            worker_prefix=settings.dispatch.instance or socket.gethostname(),
            # A text-back's retry waits for the recipient's quiet-hours window too.
            window=partial(window_opens, config=settings),
            budget=poll_budget,
        )
        recorder = CallHandler(
            loaded,
            sessions,
            on_queued=dispatcher.wake,
            on_decided=both_decided(on_decided, hooks.on_decided),
            clock=clock,
            lookup=lookup,
            tracking_secret=booking_secrets.tracking,
        )
        links, catchups = _pbx_links(settings, connections, recorder, env, clock)
        texter = AgiTexter(
            loaded,
            sessions,
            on_queued=dispatcher.wake,
            pbx=settings.pbx.name,
            clock=clock,
            tracking_secret=booking_secrets.tracking,
        )
        agi = AgiServer(settings.agi, texter)
        startup = StartupCatchUp(
            sessions, catchups, recorder, settings.suppression, clock, gate=gate, tenant=tenant
        )
        parts = RunningService(links, recorder, dispatcher, agi, startup, sessions=sessions)
        mount = tenant_base_path(tenant)

        def web_app(current: PreparedConfig) -> web.Application:
            resources = Resources(http, env, parts.connection)
            return service_app(
                current,
                parts,
                sessions,
                resources,
                clock,
                hooks,
                booking_secrets,
                base_path=mount,
                console=console,
            )

        web_listener = web_listener or WebListener()
        parts.reloader = reloader = Reloader(
            loaded,
            parts,
            load_config=load_config or (lambda: loaded),
            provider=provider,
            lookup=lookup,
            texter=texter,
            web_listener=web_listener,
            web_app=web_app,
            http=http,
            environ=env,
            clock=clock,
        )
        if settings.web.enabled:
            await stack.enter_async_context(
                web_listener.listening(web_app(loaded), settings.web.host, settings.web.port)
            )
            _announce_webhooks(settings, web_listener.url, mount)
        else:
            stack.push_async_callback(web_listener.stop)  # a reload may enable it
        await stack.enter_async_context(running(crm))
        stack.push_async_callback(hooks.join)
        await stack.enter_async_context(running(dispatcher))
        # The marks move on only once the recorder (stopped before) has committed everything.
        await stack.enter_async_context(startup)
        await stack.enter_async_context(recorder)
        for marked in catchups:
            stack.push_async_callback(marked.catchup.drain)
        if settle_heap:
            heap.settle()
        await stack.enter_async_context(fastagi(parts, enabled=settings.agi.enabled))
        for pbx in settings.all_pbxes:
            tls = " (TLS)" if pbx.tls else ""
            log.info(
                "AMI: connecting to %s at %s:%d%s as %s",
                pbx.name,
                pbx.host,
                pbx.port,
                tls,
                pbx.username,
            )
        consumers = await stack.enter_async_context(
            pbx_links(parts, gate, tenant=tenant, environ=env)
        )
        await stack.enter_async_context(reloader.watching(reload or asyncio.Event()))
        await stack.enter_async_context(evicting([x.listener for x in links], clock))
        if on_ready is not None:
            await on_ready(parts)
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({stopper, *consumers}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        log.info("stopping: no new AMI events; recording and sending what is in hand")
    _raise_fatal(consumers)
    return parts


def _announce_webhooks(settings: Settings, url: str, mount: str) -> None:
    """The start-up line naming the URL to paste into the provider's console."""
    name = settings.provider.name
    if name == "log":
        return  # nothing calls back
    public = settings.web.webhooks.public_base_url
    base = public + mount if public else url.rstrip("/")
    note = "" if public else " (local; set web.webhooks.public_base_url to the public https URL)"
    log.info("webhooks at %s/webhooks/%s%s", base, name, note)


def _pbx_links(
    settings: Settings,
    connections: list[AmiConnection],
    recorder: CallHandler,
    env: Mapping[str, str],
    clock: Callable[[], float],
) -> tuple[list[PbxLink], list[MarkedLink]]:
    """Per PBX: tracker and listener on its connection, with the catch-up of its outages."""
    links, marked = [], []
    for pbx, conn in zip(settings.all_pbxes, connections, strict=True):
        tracker = CallTracker(settings.tracker, pbx=pbx.name)
        # On a PBX shared by several tenants, only inbound calls to this tenant's DIDs.
        catchup = CdrCatchUp(pbx, for_dids(settings.tenant.dids, recorder.submit), env, clock=clock)
        listener = CallListener(tracker, catchup.submit, on_resync=catchup.on_resync, pbx=pbx)
        links.append(PbxLink(pbx.name, conn, tracker, listener))
        marked.append(MarkedLink(pbx.name, listener, catchup))
    return links, marked


def _raise_fatal(consumers: list[asyncio.Task[None]]) -> None:
    """Once everything stopped: raise why an AMI link gave up, if one did."""
    for index, consumer in enumerate(consumers):
        failure = consumer.exception() if consumer.done() else None
        if isinstance(failure, AmiError):
            key = "pbx" if index == 0 else f"pbxes[{index - 1}]"
            raise ami_failure(failure, key) from failure  # e.g. a refused login
        if failure is not None:
            raise failure


def install_signal_handlers(stop: asyncio.Event, reload: asyncio.Event | None = None) -> None:
    """SIGTERM and SIGINT set ``stop`` (graceful shutdown); SIGHUP sets ``reload``."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    if reload is not None:
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGHUP, reload.set)
