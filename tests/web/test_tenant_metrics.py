"""``/cluster/metrics``: two real running tenants, one scrape, each tenant's own numbers.

Two ``serve()`` pipelines run side by side (each its own simulated PBX and SQLite file, as
two tenants of one host would); the calls streamed to each differ, and the scrape is read
with a strict parser of the Prometheus text format (``prometheus_client`` is not a
dependency): every line is a HELP, a TYPE or a sample of the family just declared, no
series twice, every sample labelled with its tenant, buckets cumulative.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import read_trace
from asterisk_textback.ami.sim.workload import call_stream
from asterisk_textback.app.parts import RunningService
from asterisk_textback.app.service import serve
from asterisk_textback.config import settings_from_mapping
from asterisk_textback.errors import ProviderAuthError, ProviderTransientError
from asterisk_textback.outbox.dispatcher import retry_cause
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.schema import upgrade
from asterisk_textback.tenancy.directory import TenantView
from asterisk_textback.tenancy.model import RefusedTenant
from asterisk_textback.textback.loading import PreparedConfig, prepare
from asterisk_textback.web.tenant_metrics import (
    RETRY_CAUSES,
    add_cluster_metrics_route,
    render_tenant_metrics,
)

_HELP = re.compile(r"# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (\S.*)")
_TYPE = re.compile(r"# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)")
_SAMPLE = re.compile(
    r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})?'
    r" (-?[0-9]+(?:\.[0-9]+)?|\+Inf|NaN)"
)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "counter": ("",), "gauge": ("",)}

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(body: str) -> tuple[Series, dict[str, str]]:
    """The samples by (name, labels) and each family's HELP; AssertionError on any misstep."""
    assert body.endswith("\n")
    series: Series = {}
    helps: dict[str, str] = {}
    kinds: dict[str, str] = {}
    current: str | None = None
    for number, line in enumerate(body[:-1].split("\n"), 1):
        if match := _HELP.fullmatch(line):
            assert match[1] not in helps, f"line {number}: second HELP for {match[1]}"
            helps[match[1]], current = match[2], None
        elif match := _TYPE.fullmatch(line):
            assert match[1] in helps, f"line {number}: TYPE before HELP: {line}"
            assert match[1] not in kinds, f"line {number}: second TYPE: {line}"
            kinds[match[1]], current = match[2], match[1]
        elif match := _SAMPLE.fullmatch(line):
            assert current is not None, f"line {number}: sample outside a family: {line}"
            suffix = match[1].removeprefix(current)
            assert match[1].startswith(current), f"line {number}: not of {current}: {line}"
            assert suffix in _SUFFIXES[kinds[current]], f"line {number}: bad suffix: {line}"
            labels = tuple(_LABEL.findall(match[2] or ""))
            assert labels, f"line {number}: no labels: {line}"
            assert labels[0][0] == "tenant", f"line {number}: no tenant label first"
            key = (match[1], labels)
            assert key not in series, f"line {number}: series twice: {line}"
            series[key] = float(match[3])
        else:
            raise AssertionError(f"line {number} is not in the text format: {line!r}")
    _check_histograms(series, kinds)
    return series, helps


def _check_histograms(series: Series, kinds: dict[str, str]) -> None:
    for name in (n for n, kind in kinds.items() if kind == "histogram"):
        tenants = {dict(labels)["tenant"] for (n, labels) in series if n == f"{name}_count"}
        for tenant in tenants:
            buckets = [
                v
                for (n, labels), v in series.items()
                if n == f"{name}_bucket" and dict(labels)["tenant"] == tenant
            ]
            assert buckets == sorted(buckets), f"{name} buckets of {tenant} not cumulative"
            assert buckets[-1] == series[(f"{name}_count", (("tenant", tenant),))]


def value(series: Series, name: str, **labels: str) -> float:
    """One sample, its labels given in any order (the tenant's first)."""
    for (n, have), v in series.items():
        if n == name and dict(have) == labels:
            return v
    raise KeyError(f"{name}{labels}")


def _settings(url: str, port: int) -> PreparedConfig:
    data = {
        "pbx": {"port": port, "secret": "pw"},
        "database": {"url": url},
        "web": {"enabled": False},
        "suppression": {"quiet_hours": False},
    }
    return prepare(settings_from_mapping(data))


@asynccontextmanager
async def _tenant(tmp: Path, tenant: str) -> AsyncIterator[tuple[AmiServer, TenantView]]:
    """One running pipeline (its own PBX and SQLite file) seen as tenant ``tenant``."""
    url = f"sqlite+aiosqlite:///{tmp / (tenant + '.db')}"
    await upgrade(url)
    engine = create_engine(url)
    stop, ready = asyncio.Event(), asyncio.Event()
    async with AmiServer({"textback": "pw"}) as pbx:
        loaded = _settings(url, pbx.port)
        found: list[RunningService] = []

        async def on_ready(parts: RunningService) -> None:
            found.append(parts)
            ready.set()

        task = asyncio.create_task(serve(loaded, stop, environ={}, on_ready=on_ready))
        try:
            await asyncio.wait_for(ready.wait(), 20)
            await found[0].connection.wait_ready()
            sessions = create_session_factory(engine)
            yield pbx, TenantView(tenant, tenant, f"/t/{tenant}", loaded, sessions, found[0])
        finally:
            stop.set()
            await task
            await engine.dispose()


async def _until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(15):
        while not check():  # noqa: ASYNC110 - the pipeline's counters have no event
            await asyncio.sleep(0.02)


async def _drive(pbx: AmiServer, parts: RunningService, names: Sequence[str], traces: Path) -> None:
    frames = call_stream(
        [read_trace(traces / f"{n}.ami") for n in names],
        len(names),
        rate=10,
        start_at=time.time() - 40,
    )
    await pbx.stream(frames)
    missed = sum(1 for n in names if "voicemail-left" in n)
    await _until(lambda: sum(parts.recorder.outcomes.values()) == len(names))
    await _until(lambda: parts.dispatcher.stats.sent == missed)


async def test_two_running_tenants_each_show_their_own_numbers(
    tmp_path: Path, traces_dir: Path
) -> None:
    async with (
        _tenant(tmp_path, "default") as (pbx_a, main),
        _tenant(tmp_path, "acme") as (pbx_b, acme),
    ):
        vm, answered = "direct-voicemail-left", "direct-answered"
        await _drive(pbx_a, main.parts, [vm, vm, answered], traces_dir)
        await _drive(pbx_b, acme.parts, [vm], traces_dir)
        series, helps = parse(await render_tenant_metrics([main, acme]))
        folded, folded_helps = parse(await render_tenant_metrics([main, acme, acme], 1))

    calls = "textback_calls_total"
    assert value(series, calls, tenant="default", outcome="missed_voicemail") == 2
    assert value(series, calls, tenant="default", outcome="answered") == 1
    assert value(series, calls, tenant="acme", outcome="missed_voicemail") == 1
    # The fixed set: an outcome acme never had is there, at 0.
    assert value(series, calls, tenant="acme", outcome="answered") == 0
    assert value(series, calls, tenant="acme", outcome="unknown") == 0
    texts = "textback_texts_total"
    assert value(series, texts, tenant="default", status="sent") == 2
    assert value(series, texts, tenant="acme", status="sent") == 1
    outbox = "textback_outbox_messages"
    assert value(series, outbox, tenant="default", status="sent") == 2
    assert value(series, outbox, tenant="acme", status="sent") == 1
    assert value(series, outbox, tenant="acme", status="queued") == 0
    latency = "textback_send_latency_seconds_count"
    assert value(series, latency, tenant="default") == 2
    assert value(series, latency, tenant="acme") == 1
    assert value(series, "textback_ami_up", tenant="acme", pbx="default", state="ready") == 1
    assert value(series, "textback_outbox_readable", tenant="acme") == 1
    for cause in RETRY_CAUSES:
        assert value(series, "textback_send_retries_total", tenant="acme", cause=cause) == 0
    # The same set of series for each tenant: cardinality does not grow with traffic.
    per_tenant = [
        {(n, tuple(kv for kv in labels if kv[0] != "tenant")) for (n, labels) in series
         if dict(labels)["tenant"] == t}
        for t in ("default", "acme")
    ]  # fmt: skip
    assert per_tenant[0] == per_tenant[1]
    assert '"_other"' in helps["textback_calls_total"]

    # max_tenants=1: the second and third tenants (acme twice) are summed as "_other".
    assert {dict(labels)["tenant"] for (_, labels) in folded} == {"default", "_other"}
    assert value(folded, calls, tenant="_other", outcome="missed_voicemail") == 2
    assert value(folded, texts, tenant="_other", status="sent") == 2
    assert value(folded, latency, tenant="_other") == 2
    assert value(folded, "textback_ami_up", tenant="_other", pbx="_other", state="ready") == 2
    assert value(folded, calls, tenant="default", outcome="missed_voicemail") == 2
    assert "first 1 are summed" in folded_helps["textback_texts_total"]


async def test_an_unreadable_outbox_is_shown_and_the_other_tenants_still_scrape(
    tmp_path: Path, traces_dir: Path
) -> None:
    async with _tenant(tmp_path, "default") as (pbx, main):
        await _drive(pbx, main.parts, ["direct-voicemail-left"], traces_dir)
        # A tenant whose database was never migrated: its outbox query fails.
        broken_engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
        broken = TenantView(
            "broken", "broken", "/t/broken", main.loaded, create_session_factory(broken_engine),
            main.parts,
        )  # fmt: skip
        try:
            series, _ = parse(await render_tenant_metrics([main, broken]))
        finally:
            await broken_engine.dispose()
    assert value(series, "textback_outbox_readable", tenant="broken") == 0
    assert value(series, "textback_outbox_messages", tenant="broken", status="sent") == 0
    assert value(series, "textback_outbox_readable", tenant="default") == 1
    assert value(series, "textback_outbox_messages", tenant="default", status="sent") == 1


async def test_no_tenants_is_an_empty_scrape_and_max_tenants_below_one_is_refused() -> None:
    assert await render_tenant_metrics([]) == "\n"
    with pytest.raises(ValueError, match="max_tenants must be 1 or more"):
        await render_tenant_metrics([], 0)


def test_every_retry_cause_the_dispatcher_names_is_in_the_fixed_set() -> None:
    causes = {
        retry_cause(ProviderAuthError("no")),
        retry_cause(ProviderTransientError("slow", retry_after=1.0)),
        retry_cause(ProviderTransientError("5xx")),
    }
    linked = ProviderTransientError("reset")
    linked.__cause__ = OSError("reset")
    causes.add(retry_cause(linked))
    assert causes == set(RETRY_CAUSES)


class _Directory:
    def __init__(self, views: Sequence[TenantView]) -> None:
        self._views = views

    def views(self) -> Sequence[TenantView]:
        return self._views

    def refused(self) -> Sequence[RefusedTenant]:
        return ()


async def test_the_route_serves_the_scrape(tmp_path: Path, traces_dir: Path) -> None:
    async with _tenant(tmp_path, "acme") as (pbx, acme):
        await _drive(pbx, acme.parts, ["direct-voicemail-left"], traces_dir)
        app = web.Application()
        add_cluster_metrics_route(app, _Directory([acme]))
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/cluster/metrics")
            body = await response.text()
            missing = await client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    series, _ = parse(body)
    assert value(series, "textback_texts_total", tenant="acme", status="sent") == 1
    assert missing.status == 404
