"""The running service's web app: /healthz, /metrics, provider callbacks, bookings, dashboard."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.ami.types import ConnectionState
from asterisk_textback.app.metrics_source import metrics_source
from asterisk_textback.app.parts import RunningService
from asterisk_textback.bookings.webhook import BookingSecrets, BookingService, add_booking_routes
from asterisk_textback.crm.hooks import CrmHooks
from asterisk_textback.inbound.forwarding import Forwarder, ForwardingSecrets
from asterisk_textback.inbound.inbox import Inbox
from asterisk_textback.sms.registry import Resources, build_webhooks
from asterisk_textback.templates.settings import experiment_labels
from asterisk_textback.textback.loading import PreparedConfig
from asterisk_textback.web.base_path import BASE_PATH
from asterisk_textback.web.console.auth import ConsoleAuth
from asterisk_textback.web.dashboard.app import DashboardDeps
from asterisk_textback.web.dashboard.mount import add_dashboard
from asterisk_textback.web.health import add_health_route
from asterisk_textback.web.metrics import add_metrics_route
from asterisk_textback.web.networks import parse_networks
from asterisk_textback.web.webhooks import webhook_app

__all__ = ["health", "service_app"]


def health(parts: RunningService) -> tuple[bool, dict[str, Any]]:
    """Healthy when every AMI link is logged in and sending is not paused; and the counters."""
    ready = all(p.connection.state is ConnectionState.READY for p in parts.pbxes)
    ok = ready and parts.dispatcher.paused is None
    ami = {
        p.name: {
            "state": str(p.connection.state),
            "since": p.connection.stats.state_since,
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


def service_app(
    loaded: PreparedConfig,
    parts: RunningService,
    sessions: async_sessionmaker[AsyncSession],
    resources: Resources,
    clock: Callable[[], float],
    hooks: CrmHooks,
    booking_secrets: BookingSecrets,
    base_path: str = "",
    console: ConsoleAuth | None = None,
) -> web.Application:
    """/healthz plus the provider's callbacks (delivery reports, replies, STOP).

    ``base_path``: where the app is mounted ("" at the root, ``/t/<id>`` for a tenant).
    ``console``: the integrator console's sign-in, which the dashboard lets in too.
    """
    settings = loaded.settings
    wake = parts.dispatcher.wake
    forwarder = None
    if settings.forwarding.enabled:
        secrets = ForwardingSecrets.from_env(settings.forwarding, resources.environ)
        forwarder = Forwarder.build(
            settings.forwarding,
            sessions,
            resources.http,
            secrets,
            clock=clock,
            on_queued=wake,
            business_zone=settings.business.zone,
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
    app[BASE_PATH] = base_path  # set first: the parts mounted below build their links on it
    add_health_route(app, lambda: health(parts))
    add_metrics_route(app, metrics_source(parts, sessions))
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
            kpi=settings.kpi,
            health=lambda: health(parts),
            api_token=board.api_token(resources.environ),
            labels=experiment_labels(settings.templates),
            clock=clock,
            zone=settings.business.zone,
            trusted_proxies=parse_networks(settings.web.trusted_proxies),
            staff_numbers=settings.forwarding.sms_to,
            sender_for=settings.provider.sender_for,
            on_queued=wake,
            console=console,
        )
        add_dashboard(app, deps)
    return app
