"""``/cluster/metrics``: every tenant's ``/metrics`` series in one scrape, labelled by tenant.

The series are those of one business's ``/metrics`` (:func:`web.metrics.families`), each
sample with ``tenant="<id>"`` first among its labels. Cardinality is bounded twice over:
every tenant shows a fixed set of series (each outcome, text status, retry cause and outbox
status, at 0 when none happened; its own PBX links), and the tenants past ``max_tenants``
(in the directory's order, the default tenant first) are summed into ``tenant="_other"``,
whose AMI gauge counts links per state under ``pbx="_other"``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiohttp import web

from asterisk_textback.app.metrics_source import metrics_source
from asterisk_textback.calls.model import Outcome
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store.tenant_scope import STORAGE_ERRORS
from asterisk_textback.tenancy.directory import TenantDirectory, TenantView
from asterisk_textback.web.metrics import Family, Labels, Sample, exposition, outbox_family
from asterisk_textback.web.metrics import running_families as parts_families

__all__ = [
    "OTHER",
    "RETRY_CAUSES",
    "add_cluster_metrics_route",
    "render_tenant_metrics",
]

log = logging.getLogger(__name__)

#: The tenant label of the tenants past ``max_tenants``, summed.
OTHER = "_other"
#: What ``outbox.dispatcher.retry_cause`` can answer.
RETRY_CAUSES = ("auth", "connection", "throttled", "transient")
#: Family -> (label, the values every tenant shows, at 0 when it has none).
_FIXED: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "textback_calls_total": ("outcome", tuple(str(o) for o in Outcome)),
    "textback_send_retries_total": ("cause", RETRY_CAUSES),
    "textback_outbox_messages": ("status", tuple(str(s) for s in MessageStatus)),
}
#: Labels whose values a tenant's config chooses: folded into ``_other`` with the tenants.
_OPEN_LABELS = frozenset({"pbx"})
_READABLE = Family(
    "textback_outbox_readable",
    "gauge",
    "1 when the tenant's outbox could be read for this scrape (its outbox series are 0 otherwise).",
    (),
)
#: Outbox queries in flight at once: they share the one PostgreSQL pool with the texting.
_CONCURRENT_READS = 4


@dataclass(frozen=True, slots=True)
class _Scraped:
    tenant: str
    families: list[Family]


def _filled(family: Family) -> Family:
    fixed = _FIXED.get(family.name)
    if fixed is None:
        return family
    label, values = fixed
    present = {dict(s.labels).get(label) for s in family.samples}
    zeros = tuple(Sample("", ((label, v),), 0) for v in values if v not in present)
    samples = sorted((*family.samples, *zeros), key=lambda s: s.labels)
    return Family(family.name, family.kind, family.help, tuple(samples))


async def _scrape(view: TenantView, reads: asyncio.Semaphore) -> _Scraped:
    source = metrics_source(view.parts, view.sessions)
    families = parts_families(source)
    readable = 1
    try:
        async with reads:
            depth = dict(await source.outbox_depth())
    except STORAGE_ERRORS as exc:
        log.warning("metrics: tenant %s: outbox not readable: %s", view.id, exc)
        depth, readable = {}, 0
    families.append(outbox_family(depth))
    families.append(
        Family(_READABLE.name, _READABLE.kind, _READABLE.help, (Sample("", (), readable),))
    )
    return _Scraped(view.id, [_filled(f) for f in families])


def _labelled(tenant: str, sample: Sample) -> Sample:
    return Sample(sample.suffix, (("tenant", tenant), *sample.labels), sample.value)


def _folded(scraped: Sequence[_Scraped]) -> _Scraped | None:
    """The tenants in ``scraped`` summed sample by sample (PBX names become ``_other``)."""
    if not scraped:
        return None
    sums: dict[str, dict[tuple[str, Labels], int | float]] = {}
    shapes: dict[str, Family] = {}
    for one in scraped:
        for family in one.families:
            shapes.setdefault(family.name, family)
            into = sums.setdefault(family.name, {})
            for s in family.samples:
                labels = tuple((k, OTHER if k in _OPEN_LABELS else v) for k, v in s.labels)
                into[(s.suffix, labels)] = into.get((s.suffix, labels), 0) + s.value
    families = [
        Family(
            name,
            shape.kind,
            shape.help,
            tuple(Sample(suffix, labels, value) for (suffix, labels), value in sums[name].items()),
        )
        for name, shape in shapes.items()
    ]
    return _Scraped(OTHER, families)


async def render_tenant_metrics(views: Sequence[TenantView], max_tenants: int = 1000) -> str:
    """Every tenant's series with a ``tenant`` label; those past ``max_tenants`` as ``_other``."""
    if max_tenants < 1:
        raise ValueError(f"max_tenants must be 1 or more, not {max_tenants}")
    reads = asyncio.Semaphore(_CONCURRENT_READS)
    scraped = list(await asyncio.gather(*(_scrape(view, reads) for view in views)))
    shown: list[_Scraped] = scraped[:max_tenants]
    other = _folded(scraped[max_tenants:])
    if other is not None:
        shown.append(other)
    order: dict[str, Family] = {}
    samples: dict[str, list[Sample]] = {}
    for one in shown:
        for family in one.families:
            order.setdefault(family.name, family)
            samples.setdefault(family.name, []).extend(
                _labelled(one.tenant, s) for s in family.samples
            )
    note = (
        f' Tenants past the first {max_tenants} are summed as tenant="{OTHER}" '
        f'(PBX names there are "{OTHER}").'
    )
    return exposition(
        Family(name, f.kind, f.help + note, tuple(samples[name])) for name, f in order.items()
    )


CLUSTER_DIRECTORY: web.AppKey[TenantDirectory] = web.AppKey("cluster_directory")
CLUSTER_MAX_TENANTS: web.AppKey[int] = web.AppKey("cluster_max_tenants")


async def cluster_metrics(request: web.Request) -> web.Response:
    """``GET /cluster/metrics``."""
    views = request.app[CLUSTER_DIRECTORY].views()
    body = await render_tenant_metrics(views, request.app[CLUSTER_MAX_TENANTS])
    return web.Response(text=body, content_type="text/plain", charset="utf-8")


def add_cluster_metrics_route(
    app: web.Application,
    directory: TenantDirectory,
    *,
    path: str = "/cluster/metrics",
    max_tenants: int = 1000,
) -> None:
    """Serve every tenant's series (:func:`render_tenant_metrics`) at ``path`` on ``app``."""
    app[CLUSTER_DIRECTORY] = directory
    app[CLUSTER_MAX_TENANTS] = max_tenants
    app.router.add_get(path, cluster_metrics)
