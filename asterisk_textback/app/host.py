"""``run`` with tenants: one process hosting every tenant's :func:`.service.serve`.

The host opens what the tenants share (the PostgreSQL engine and its pool, the HTTP
session, the web listener: :mod:`.tenant_mount`) and runs each tenant's service as a task
with its own stop and reload events. A tenant that cannot start, or whose links give up,
is logged with its id and kept in :meth:`Host.refused`; the others keep running.

``SIGHUP`` re-reads the main config and every tenant file (``load_tenants``): an added
tenant starts, a removed one stops as a service does (calls in flight recorded, the text
in hand sent), a changed one reloads (its own :class:`.reload.Reloader`), and one whose
file no longer loads is refused while its running version goes on.

With no tenant files (one business) the host adds nothing: the default tenant's service
opens its own database and HTTP session and its app is the listener's, as always.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from asterisk_textback.app import heap, service
from asterisk_textback.app.host_reloads import apply_reloads
from asterisk_textback.app.lifecycle import background
from asterisk_textback.app.parts import RunningService
from asterisk_textback.app.shared import Shared
from asterisk_textback.app.tenant_mount import TenantMounts, root_app
from asterisk_textback.app.web_listener import WebListener
from asterisk_textback.app.webapp import health as service_health
from asterisk_textback.errors import ConfigError, TextbackError
from asterisk_textback.outbox.pacing import PollBudget
from asterisk_textback.tenancy.directory import TenantView
from asterisk_textback.tenancy.files import TenantSet
from asterisk_textback.tenancy.ids import DEFAULT_TENANT
from asterisk_textback.tenancy.leases import LinkGate, cluster_gate
from asterisk_textback.tenancy.model import RefusedTenant, Tenant
from asterisk_textback.textback.loading import PreparedConfig
from asterisk_textback.web.base_path import tenant_base_path
from asterisk_textback.web.console.mount import add_console, console_auth
from asterisk_textback.web.tenant_metrics import add_cluster_metrics_route

__all__ = ["Host", "serve_tenants"]

log = logging.getLogger(__name__)


def alone(tenants: TenantSet) -> bool:
    """One business and no tenant files: served exactly as a single-business install."""
    only = [t.id for t in tenants.tenants] == [DEFAULT_TENANT]
    return only and not tenants.refused


@dataclass(eq=False)
class _Slot:
    """One tenant's running service and the events that steer it."""

    tenant: Tenant
    #: What the tenant's next reload reads (a ConfigError: the main config did not load).
    pending: PreparedConfig | ConfigError
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    reload: asyncio.Event = field(default_factory=asyncio.Event)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    parts: RunningService | None = None
    task: asyncio.Task[RunningService] | None = None

    def load(self) -> PreparedConfig:
        """The tenant's ``load_config``: the config the host read for it at the SIGHUP."""
        if isinstance(self.pending, ConfigError):
            raise self.pending
        return self.pending

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()


class Host:
    """The tenants running in this process (a :class:`TenantDirectory`)."""

    def __init__(
        self,
        tenants: TenantSet,
        mounts: TenantMounts,
        shared: Shared,
        serve_kwargs: dict[str, Any],
        main_path: Path | None,
    ) -> None:
        self.main = tenants.main
        self._mounts = mounts
        self._shared = shared
        self._kwargs = serve_kwargs
        self._main_path = main_path or Path("textback.toml")
        self._slots: dict[str, _Slot] = {}
        self._file_refused = tenants.refused
        self._failed: dict[str, RefusedTenant] = {}
        self._single_failure: BaseException | None = None

    def views(self) -> Sequence[TenantView]:
        """Every running tenant, the default one first."""
        views = []
        for tenant_id, slot in self._slots.items():
            parts = slot.parts
            if parts is None or parts.sessions is None or not slot.running:
                continue
            current = parts.reloader.current if parts.reloader is not None else slot.tenant.loaded
            name = current.settings.tenant.name or tenant_id
            base = tenant_base_path(tenant_id)
            views.append(TenantView(tenant_id, name, base, current, parts.sessions, parts))
        return views

    def refused(self) -> Sequence[RefusedTenant]:
        """Tenant files refused at the last (re)load, then tenants that failed to run."""
        return [*self._file_refused, *self._failed.values()]

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Every tenant's ``/healthz``, and the refused ones: healthy when all of them are."""
        tenants: dict[str, Any] = {}
        ok = not self._failed
        for view in self.views():
            good, body = service_health(view.parts)
            tenants[view.id] = {"ok": good, "name": view.name, **body}
            ok = ok and good
        refused = [{"id": r.id, "path": str(r.path), "reason": r.reason} for r in self.refused()]
        return ok, {"tenants": tenants, "refused": refused}

    def parts(self, tenant_id: str) -> RunningService | None:
        """``tenant_id``'s running service (None: not running)."""
        slot = self._slots.get(tenant_id)
        return slot.parts if slot is not None and slot.running else None

    async def start(self, tenant: Tenant) -> None:
        """Start ``tenant``'s service and wait until it is ready (or failed)."""
        if not self._mounts.single:
            await self._shared.open(self.main)
        slot = _Slot(tenant, tenant.loaded)
        self._slots[tenant.id] = slot
        self._failed.pop(tenant.id, None)
        slot.task = asyncio.create_task(self._serve(slot), name=f"tenant {tenant.id}")
        await slot.ready.wait()

    async def _serve(self, slot: _Slot) -> RunningService:
        tenant = slot.tenant

        async def ready(parts: RunningService) -> None:
            slot.parts = parts
            slot.ready.set()

        single = self._mounts.single
        try:
            # Looked up when called: bench/pipeline_probe.py wraps ``service.serve``.
            return await service.serve(
                tenant.loaded,
                slot.stop,
                on_ready=ready,
                reload=slot.reload,
                load_config=slot.load,
                web_listener=self._mounts.port(tenant.id),
                tenant=tenant.id,
                engine=None if single else self._shared.engine,
                http=None if single else self._shared.http,
                **self._kwargs,
            )
        except Exception as exc:
            if not single:
                reason = str(exc) if isinstance(exc, TextbackError) else repr(exc)
                log.error(
                    "tenant %s stopped: %s; the other tenants keep running", tenant.id, reason
                )
                path = tenant.path or self._main_path
                self._failed[tenant.id] = RefusedTenant(tenant.id, path, reason)
            raise
        finally:
            slot.ready.set()

    async def stop(self, tenant_id: str) -> None:
        """Stop ``tenant_id``'s service as a shutdown does (what is in hand is finished)."""
        slot = self._slots.pop(tenant_id, None)
        self._failed.pop(tenant_id, None)
        if slot is None or slot.task is None:
            return
        slot.stop.set()
        try:
            await slot.task
        except Exception as exc:  # with tenant files it was logged when it happened
            if self._mounts.single and tenant_id == DEFAULT_TENANT:
                self._single_failure = exc

    async def stop_all(self) -> None:
        """Stop every tenant at once; each finishes what it has in hand."""
        await asyncio.gather(*(self.stop(tenant_id) for tenant_id in list(self._slots)))

    def failure(self) -> BaseException | None:
        """Why the one business stopped (single-business mode), if it failed."""
        if self._single_failure is not None:
            return self._single_failure
        task = self.failure_waiter()
        return task.exception() if task is not None and task.done() else None

    def failure_waiter(self) -> asyncio.Task[RunningService] | None:
        """The one business's service (single-business mode): the host ends with it."""
        slot = self._slots.get(DEFAULT_TENANT)
        return slot.task if self._mounts.single and slot is not None else None

    async def refuse_main(self, exc: ConfigError) -> None:
        """The main config did not load: every tenant keeps running as it was."""
        slot = self._slots.get(DEFAULT_TENANT)
        if slot is not None and slot.running:
            # The business's own reloader logs and counts the refusal, as it always did.
            slot.pending = exc
            slot.reload.set()
        else:
            log.error("config reload refused, every tenant keeps running as it was: %s", exc)

    async def apply(self, new: TenantSet) -> None:
        """Start added tenants, stop removed ones, reload changed ones (module docstring)."""
        self.main = new.main
        self._file_refused = new.refused
        wanted = {t.id: t for t in new.tenants}
        refused = {r.id for r in new.refused}
        for tenant_id in [t for t in self._slots if t not in wanted and t not in refused]:
            log.info("tenant %s removed: stopping it once what it has in hand is done", tenant_id)
            await self.stop(tenant_id)
        for refusal in new.refused:
            kept = refusal.id in self._slots and self._slots[refusal.id].running
            still = "; its previous config keeps running" if kept else ""
            log.error("tenant %s refused: %s%s", refusal.id, refusal.reason, still)
        if self._mounts.single and not alone(new):
            await self._leave_single()
        for tenant_id, tenant in wanted.items():
            slot = self._slots.get(tenant_id)
            if slot is None or not slot.running:
                log.info("tenant %s added: starting it", tenant_id)
                await self.start(tenant)
                continue
            current = slot.parts.reloader.current if slot.parts and slot.parts.reloader else None
            changed = current is None or current.settings != tenant.loaded.settings
            if tenant_id == DEFAULT_TENANT or changed:
                slot.tenant, slot.pending = tenant, tenant.loaded
                slot.reload.set()

    async def _leave_single(self) -> None:
        """The first tenant file: the listener's app becomes the root dispatching to each."""
        self._mounts.single = False
        await self._shared.open(self.main)
        default = self.parts(DEFAULT_TENANT)
        if default is not None and default.reloader is not None:
            await default.reloader.rebuild_web()  # now mounted behind the root app
        web = self.main.settings.web
        if web.enabled:
            await self._mounts.listener.start(self.root(), web.host, web.port)
        log.info("tenant files found: tenants served under /t/<id>/ from now on")

    def root(self) -> web.Application:
        """The listener's app once tenant files exist."""
        kwargs = self._kwargs
        console = self.main.settings.web.console

        def extra(root: web.Application) -> None:
            add_console(
                root, self, console, kwargs["environ"], kwargs["clock"], auth=kwargs["console"]
            )
            add_cluster_metrics_route(root, self)  # every tenant's series, labelled

        return root_app(
            self._mounts,
            self.health,
            extra=extra,
        )


async def serve_tenants(
    tenants: TenantSet,
    stop: asyncio.Event,
    *,
    environ: Mapping[str, str] | None = None,
    reload: asyncio.Event | None = None,
    load_tenants: Callable[[], TenantSet] | None = None,
    on_ready: Callable[[Host], Awaitable[None]] | None = None,
    web_listener: WebListener | None = None,
    clock: Callable[[], float] = time.time,
    link_gate: LinkGate | None = None,
    settle_heap: bool = False,
    main_path: Path | None = None,
) -> Host:
    """Run every tenant until ``stop`` is set; the host (its tenants' parts) once stopped.

    ``reload`` (SIGHUP) re-reads the tenants with ``load_tenants``. One business alone
    raises what :func:`.service.serve` raises; with tenant files a tenant that fails is
    logged and refused, and only the main config or the listener can stop the host.
    """
    env = os.environ if environ is None else environ
    single = alone(tenants)
    listener = web_listener or WebListener()
    mounts = TenantMounts(listener, single=single)
    console = console_auth(tenants.main.settings.web.console, env, clock)
    kwargs: dict[str, Any] = {
        "environ": env,
        "clock": clock,
        "link_gate": link_gate,
        "console": console,
    }
    if single:
        kwargs["settle_heap"] = settle_heap
    else:
        # Idle outbox polls spread over every tenant's dispatcher (outbox.pacing).
        kwargs["poll_budget"] = PollBudget(tenants.main.settings.dispatch.idle_polls_per_second)
    async with contextlib.AsyncExitStack() as stack:
        # Entered first, closed last: the tenants using them have all stopped by then.
        shared = await stack.enter_async_context(Shared(env))
        stack.push_async_callback(listener.stop)
        stack.push_async_callback(mounts.close)
        host = Host(tenants, mounts, shared, kwargs, main_path)
        web = tenants.main.settings.web
        if not single:
            await shared.open(tenants.main)
            if link_gate is None and shared.engine is not None:
                # One lease keeper for the whole host: every tenant's links compete through it.
                kwargs["link_gate"] = await stack.enter_async_context(
                    cluster_gate(
                        tenants.main.settings.cluster,
                        shared.engine,
                        tenants.main.settings.dispatch.instance,
                    )
                )
            if web.enabled:
                await stack.enter_async_context(listener.listening(host.root(), web.host, web.port))
        stack.push_async_callback(host.stop_all)  # first out: tenants finish, then the rest
        for tenant in tenants.tenants:
            await host.start(tenant)
        for refusal in tenants.refused:
            log.error("tenant %s refused: %s", refusal.id, refusal.reason)
        if host.failure() is None:
            if settle_heap and not single:
                heap.settle()
            closing = asyncio.Event()
            requested = reload or asyncio.Event()
            reloads = background(
                "tenant reloads",
                lambda: apply_reloads(host, requested, load_tenants, closing),
                closing.set,
            )
            async with reloads:
                if on_ready is not None:
                    await on_ready(host)
                await _stopped(host, stop)
    failure = host.failure()
    if failure is not None:
        raise failure
    return host


async def _stopped(host: Host, stop: asyncio.Event) -> None:
    """Until ``stop`` is set, or the one business (alone) ends on its own."""
    while not stop.is_set():
        stopping = asyncio.ensure_future(stop.wait())
        failure = host.failure_waiter()
        try:
            await asyncio.wait(
                {stopping} if failure is None else {stopping, failure},
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            stopping.cancel()
        if failure is not None and failure.done():
            return  # the one business ended (failed, or its last PBX link closed for good)
