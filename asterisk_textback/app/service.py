"""``asterisk-textback run``: listener + tracker + recorder + dispatcher + /healthz.

Shutdown order (SIGTERM/SIGINT) is what makes it lose nothing: stop taking AMI events,
record every call already finished, let the dispatcher finish the text in hand and put
the rest of its batch back in the queue, then close the provider and the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.agi.server import AgiServer, AgiTexter
from asterisk_textback.ami.connection import AmiConnection
from asterisk_textback.ami.framing import TRACKED_VARIABLES
from asterisk_textback.ami.types import ConnectionState
from asterisk_textback.app import heap
from asterisk_textback.app.reload import Reloader, WebListener, follow_link
from asterisk_textback.bookings.webhook import BookingSecrets, BookingService, add_booking_routes
from asterisk_textback.calls.listener import CallListener
from asterisk_textback.calls.tracker import CallTracker
from asterisk_textback.crm.hooks import CrmDispatcher, CrmHooks, CrmSecrets
from asterisk_textback.errors import ConfigError
from asterisk_textback.inbound.forwarding import Forwarder, ForwardingSecrets
from asterisk_textback.inbound.inbox import Inbox
from asterisk_textback.outbox.dispatcher import Dispatcher
from asterisk_textback.sms.registry import Resources, build_lookup, build_provider, build_webhooks
from asterisk_textback.sms.swap import SwappableProvider
from asterisk_textback.store import check_schema, create_engine, create_session_factory
from asterisk_textback.store.daily_series import status_counts
from asterisk_textback.store.engine import with_password
from asterisk_textback.store.uow import reading
from asterisk_textback.templates.settings import experiment_labels
from asterisk_textback.textback.catchup import CdrCatchUp
from asterisk_textback.textback.handler import CallHandler, OnDecided, both_decided
from asterisk_textback.textback.loading import PreparedConfig
from asterisk_textback.textback.startup_catchup import MarkedLink, StartupCatchUp
from asterisk_textback.web.clientaddr import parse_networks
from asterisk_textback.web.dashboard import DashboardDeps, add_dashboard
from asterisk_textback.web.health import add_health_route
from asterisk_textback.web.metrics import MetricsSource, add_metrics_route
from asterisk_textback.web.webhooks import webhook_app

log = logging.getLogger(__name__)

_EVICT_EVERY_SECONDS = 60.0


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


@dataclass(frozen=True, slots=True)
class PbxLink:
    """One watched PBX: its AMI connection, its tracker, and the consumer gluing them."""

    name: str
    connection: AmiConnection
    tracker: CallTracker
    listener: CallListener


@dataclass(slots=True)
class RunningService:
    """The running pieces, for tests, the demo and /healthz."""

    pbxes: list[PbxLink]
    recorder: CallHandler
    dispatcher: Dispatcher
    agi: AgiServer
    startup: StartupCatchUp | None = None
    #: Applies SIGHUP reloads (set once serve() has built it).
    reloader: Reloader | None = None

    @property
    def connection(self) -> AmiConnection:
        """The first (``[pbx]``) PBX's AMI connection."""
        return self.pbxes[0].connection

    @property
    def tracker(self) -> CallTracker:
        """The first PBX's tracker."""
        return self.pbxes[0].tracker


def _health(parts: RunningService) -> tuple[bool, dict[str, Any]]:
    ready = all(p.connection.state is ConnectionState.READY for p in parts.pbxes)
    ok = ready and parts.dispatcher.paused is None
    ami = {
        p.name: {
            "state": str(p.connection.state),
            "reconnects": p.connection.stats.reconnects,
            "events": p.connection.stats.events,
        }
        for p in parts.pbxes
    }
    return ok, {
        "ami": ami[parts.pbxes[0].name] if len(ami) == 1 else ami,
        "pbxes": ami,
        "calls_open": sum(p.tracker.open_calls for p in parts.pbxes),
        "calls_recorded": parts.recorder.recorded,
        "record_backlog": parts.recorder.backlog,
        "sending_paused": parts.dispatcher.paused,
        "config_reloads": None if parts.reloader is None else parts.reloader.health(),
        "agi": {"state": str(parts.agi.state), "queued": parts.agi.stats.queued},
        "catchup": parts.startup.health() if parts.startup is not None else {},
        "texts": {
            "sent": parts.dispatcher.stats.sent,
            "retried": parts.dispatcher.stats.retried,
            "failed": parts.dispatcher.stats.failed,
            "unknown": parts.dispatcher.stats.unknown,
        },
    }


async def serve(
    loaded: PreparedConfig,
    stop: asyncio.Event,
    *,
    environ: Mapping[str, str] | None = None,
    on_decided: OnDecided | None = None,
    on_ready: Callable[[RunningService], Awaitable[None]] | None = None,
    clock: Callable[[], float] = time.time,
    settle_heap: bool = False,
    reload: asyncio.Event | None = None,
    load_config: Callable[[], PreparedConfig] | None = None,
) -> RunningService:
    """Run the whole service until ``stop`` is set; return its parts (for their counters).

    ``reload`` (set by SIGHUP) re-reads the config with ``load_config`` (:mod:`.reload`).

    ``settle_heap``: once everything is built, and before the first AMI event, keep the
    start-up objects out of later garbage collections (:func:`heap.settle`). The ``run``
    command does; callers that serve many times in one process (tests) should not.
    """
    settings = loaded.settings
    env = os.environ if environ is None else environ
    engine = create_engine(database_url(loaded, env))
    try:
        await check_schema(engine)  # refuse to run on an old schema, with the fix named
        sessions = create_session_factory(engine)
        async with aiohttp.ClientSession() as http:
            connections = [
                AmiConnection(pbx, environ=env, keep_variables=TRACKED_VARIABLES)
                for pbx in settings.all_pbxes
            ]
            # Texts over a SIP trunk leave through the first PBX's connection.
            connection = connections[0]
            provider = SwappableProvider(
                build_provider(settings.provider, Resources(http, env, connection))
            )
            lookup = build_lookup(settings.provider, Resources(http, env, connection))
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
                on_sent=hooks.texts_sent,
                worker_prefix=settings.dispatch.instance or socket.gethostname(),
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
            links = []
            catchups = []
            for pbx, conn in zip(settings.all_pbxes, connections, strict=True):
                tracker = CallTracker(settings.tracker, pbx=pbx.name)
                catchup = CdrCatchUp(pbx, recorder.submit, env, clock=clock)
                listener = CallListener(
                    tracker, catchup.submit, on_resync=catchup.on_resync, pbx=pbx
                )
                links.append(PbxLink(pbx.name, conn, tracker, listener))
                catchups.append(MarkedLink(pbx.name, listener, catchup))
            texter = AgiTexter(
                loaded,
                sessions,
                on_queued=dispatcher.wake,
                pbx=settings.pbx.name,
                clock=clock,
                tracking_secret=booking_secrets.tracking,
            )
            agi = AgiServer(settings.agi, texter)
            startup = StartupCatchUp(sessions, catchups, recorder, settings.suppression, clock)
            parts = RunningService(links, recorder, dispatcher, agi, startup)

            def web_app(current: PreparedConfig) -> web.Application:
                resources = Resources(http, env, parts.connection)
                return _web_app(current, parts, sessions, resources, clock, hooks, booking_secrets)

            web_listener = WebListener()
            if settings.web.enabled:
                await web_listener.start(web_app(loaded), settings.web.host, settings.web.port)
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
            if settle_heap:
                heap.settle()
            consumers = []
            for index, link in enumerate(links):
                await link.connection.start()
                consumers.append(asyncio.create_task(follow_link(parts, index)))
            if settings.agi.enabled:
                await agi.start()
            recording = asyncio.create_task(recorder.run())
            startup.start()  # the start-up CDR catch-up, then the marks it needs next time
            sending = asyncio.create_task(dispatcher.run())
            crm_posting = asyncio.create_task(crm.run())
            evicting = asyncio.create_task(_evict_loop([x.listener for x in links], clock))
            reloading = asyncio.create_task(reloader.run(reload or asyncio.Event()))
            try:
                if on_ready is not None:
                    await on_ready(parts)
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait({stopper, *consumers}, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
            finally:
                log.info("stopping: no new AMI events; recording and sending what is in hand")
                evicting.cancel()
                reloader.stop()
                await reloading  # a reload under way is finished first
                for link in parts.pbxes:
                    await link.connection.close()
                for consumer in consumers:
                    with contextlib.suppress(Exception):
                        await consumer  # a fatal AMI error was logged by the connection
                await parts.agi.stop()  # texts it queued while stopping still go out below
                for marked in catchups:
                    await marked.catchup.drain()
                recorder.stop()
                await recording
                await startup.stop()  # everything handled is recorded: move the marks on
                dispatcher.stop()
                await sending
                await hooks.join()
                crm.stop()
                await crm_posting
                await provider.close()
                await web_listener.stop()
            for consumer in consumers:
                failure = consumer.exception() if consumer.done() else None
                if failure is not None:
                    raise failure  # e.g. AmiLoginError: the PBX refused our credentials
            return parts
    finally:
        await engine.dispose()


def _web_app(
    loaded: PreparedConfig,
    parts: RunningService,
    sessions: async_sessionmaker[AsyncSession],
    resources: Resources,
    clock: Callable[[], float],
    hooks: CrmHooks,
    booking_secrets: BookingSecrets,
) -> web.Application:
    """/healthz plus the provider's callbacks (delivery reports, replies, STOP)."""
    settings = loaded.settings
    wake = parts.dispatcher.wake
    forwarder = None
    if settings.forwarding.enabled:
        secrets = ForwardingSecrets.from_env(settings.forwarding, resources.environ)
        forwarder = Forwarder.build(
            settings.forwarding, sessions, resources.http, secrets, clock=clock, on_queued=wake
        )
    inbox = Inbox(
        sessions,
        settings.consent,
        business_name=settings.business.name,
        policy=settings,  # the default region, and the destination checks of auto-replies
        forwarder=forwarder,
        on_queued=wake,
        clock=clock,
        on_inbound=hooks.inbound_received,
    )
    adapters = build_webhooks(settings.provider, resources)
    app = webhook_app(adapters, inbox, settings.web.webhooks, clock=clock)
    add_health_route(app, lambda: _health(parts))
    add_metrics_route(app, _metrics_source(parts, sessions))
    business = settings.business
    add_booking_routes(
        app,
        BookingService(
            sessions,
            settings.bookings,
            booking_secrets,
            region=business.default_region,
            currency=settings.kpi.currency,
            window=timedelta(days=settings.kpi.attribution_window_days),
            clock=clock,
            on_booking=hooks.booking_recorded,
        ),
    )
    board = settings.web.dashboard
    if board.enabled:
        deps = DashboardDeps(
            settings=board,
            sessions=sessions,
            kpi=settings.kpi.to_kpi_settings(),
            health=lambda: _health(parts),
            api_token=board.api_token(resources.environ),
            labels=experiment_labels(settings.templates),
            clock=clock,
            zone=settings.business.zone,
            trusted_proxies=parse_networks(settings.web.trusted_proxies),
        )
        add_dashboard(app, deps)
    return app


def _metrics_source(
    parts: RunningService, sessions: async_sessionmaker[AsyncSession]
) -> MetricsSource:
    stats = parts.dispatcher.stats

    def texts() -> Counter[str]:
        return Counter(
            sent=stats.sent,
            retried=stats.retried,
            failed=stats.failed,
            unknown=stats.unknown,
            cancelled=stats.cancelled,
            expired=stats.expired,
        )

    async def depth() -> dict[str, int]:
        async with reading(sessions) as session:
            return await status_counts(session)

    return MetricsSource(
        calls_by_outcome=lambda: dict(parts.recorder.outcomes),
        texts_sent=texts,
        send_latency=parts.dispatcher.latency,
        ami_states=lambda: {p.name: str(p.connection.state) for p in parts.pbxes},
        outbox_depth=depth,
        send_retries=lambda: dict(stats.retries_by_cause),
    )


async def _evict_loop(listeners: list[CallListener], clock: Callable[[], float]) -> None:
    while True:
        await asyncio.sleep(_EVICT_EVERY_SECONDS)
        for listener in listeners:
            listener.evict(clock())


def install_signal_handlers(stop: asyncio.Event, reload: asyncio.Event | None = None) -> None:
    """SIGTERM and SIGINT set ``stop`` (graceful shutdown); SIGHUP sets ``reload``."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    if reload is not None:
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGHUP, reload.set)
