"""One row of the console per tenant: its live health and its last 30 days in five figures.

The figures are the Overview's headline (missed calls, texted, replied, booked, revenue)
read with the same store queries the KPI report uses, one read transaction per tenant,
several tenants at a time but never more than ``bound`` (a hundred tenants must not take a
hundred connections from the pool the running services share).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from asterisk_textback.calls.utc import utc
from asterisk_textback.kpi.definitions import minor_exponent
from asterisk_textback.kpi.periods import Period, parse_period
from asterisk_textback.store import kpi_queries
from asterisk_textback.store.sqlite_file import DatabaseFileError
from asterisk_textback.store.tenant_scope import STORAGE_ERRORS
from asterisk_textback.store.uow import reading
from asterisk_textback.tenancy.directory import TenantView

__all__ = ["PERIOD", "Figures", "Link", "TenantRow", "tenant_rows"]

log = logging.getLogger(__name__)

#: The console's period: the Overview's default.
PERIOD = "30d"


@dataclass(frozen=True, slots=True)
class Link:
    """One AMI link as the console shows it."""

    name: str
    state: str
    #: Epoch seconds since the link is in ``state`` (None: never changed).
    since: float | None
    events: int
    #: Epoch seconds of the last AMI event received (None: none yet).
    last_event: float | None = None


@dataclass(frozen=True, slots=True)
class Figures:
    """A tenant's headline for the period (revenue in major units of ``currency``)."""

    missed: int
    texted: int
    replied: int
    booked: int
    revenue: float
    currency: str


@dataclass(frozen=True, slots=True)
class TenantRow:
    """What the console's table shows of one tenant."""

    id: str
    name: str
    base_path: str
    links: tuple[Link, ...]
    #: Why sending is paused (None: sending).
    paused: str | None
    texts_failed: int
    reloads_refused: int
    #: None when its database could not be read (``error`` says why).
    figures: Figures | None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping for ``/console/api/tenants``."""
        figures = self.figures
        return {
            "id": self.id,
            "name": self.name,
            "dashboard": self.base_path + "/",
            "ami": [
                {
                    "name": x.name,
                    "state": x.state,
                    "since": x.since,
                    "events": x.events,
                    "last_event": x.last_event,
                }
                for x in self.links
            ],
            "sending_paused": self.paused,
            "errors": {"texts_failed": self.texts_failed, "reloads_refused": self.reloads_refused},
            "period": PERIOD,
            "kpis": None
            if figures is None
            else {
                "missed_calls": figures.missed,
                "texted": figures.texted,
                "replied": figures.replied,
                "booked": figures.booked,
                "revenue": figures.revenue,
                "currency": figures.currency,
            },
            "error": self.error,
        }


async def _figures(view: TenantView, period: Period) -> Figures:
    kpi = view.loaded.settings.kpi
    currency = kpi.currency.upper()
    async with reading(view.sessions) as session:
        counts = await kpi_queries.call_counts(session, period, None, kpi.qualified_min_chars)
        texts = await kpi_queries.text_counts(session, period, None)
        booked, minor = await kpi_queries.booking_totals(session, period, None, currency)
    revenue = minor / 10 ** minor_exponent(currency)
    return Figures(int(counts[1]), int(texts[0]), int(counts[3]), booked, revenue, currency)


def _row(view: TenantView, figures: Figures | None, error: str | None) -> TenantRow:
    parts = view.parts
    links = tuple(
        Link(
            p.name,
            str(p.connection.state),
            stats.state_since,
            stats.events,
            stats.last_event_at,
        )
        for p in parts.pbxes
        for stats in (p.connection.stats,)
    )
    return TenantRow(
        id=view.id,
        name=view.name,
        base_path=view.base_path,
        links=links,
        paused=parts.dispatcher.paused,
        texts_failed=parts.dispatcher.stats.failed,
        reloads_refused=0 if parts.reloader is None else parts.reloader.refused,
        figures=figures,
        error=error,
    )


async def tenant_rows(
    views: Sequence[TenantView], clock: Callable[[], float], *, bound: int = 8
) -> list[TenantRow]:
    """Every tenant's row, in ``views``' order, at most ``bound`` databases read at once."""
    gate = asyncio.Semaphore(bound)
    now = utc(clock())

    async def one(view: TenantView) -> TenantRow:
        period = parse_period(PERIOD, now, view.loaded.settings.business.zone)
        async with gate:
            try:
                return _row(view, await _figures(view, period), None)
            except STORAGE_ERRORS as exc:
                # One tenant's broken database must not hide the others' rows.
                log.warning("console: tenant %s: figures unreadable: %s", view.id, exc)
                # Our own errors are one readable line; a driver's may quote SQL: its kind only.
                why = str(exc) if isinstance(exc, DatabaseFileError) else type(exc).__name__
                return _row(view, None, f"figures unreadable: {why}")

    return list(await asyncio.gather(*(one(view) for view in views)))
