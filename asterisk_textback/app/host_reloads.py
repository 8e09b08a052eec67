"""The host's SIGHUPs: re-read every tenant off the loop and apply them one at a time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from asterisk_textback.errors import ConfigError, StartupError
from asterisk_textback.tenancy.files import TenantSet


class Host(Protocol):
    """What a reload changes of the host (:class:`.host.Host`)."""

    async def refuse_main(self, exc: ConfigError) -> None:
        """The main config did not load: every tenant keeps running as it was."""

    async def apply(self, new: TenantSet) -> None:
        """Start, reload and stop tenants as ``new`` says."""


__all__ = ["apply_reloads"]

log = logging.getLogger("asterisk_textback.app.host")


async def apply_reloads(
    host: Host,
    requested: asyncio.Event,
    load_tenants: Callable[[], TenantSet] | None,
    closing: asyncio.Event,
) -> None:
    """Apply each SIGHUP, one at a time, until ``closing`` (a reload under way finishes)."""
    while True:
        asked = asyncio.ensure_future(requested.wait())
        closed = asyncio.ensure_future(closing.wait())
        try:
            await asyncio.wait({asked, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            asked.cancel()
            closed.cancel()
        if closing.is_set():
            return
        requested.clear()
        if load_tenants is not None:
            await _reload(host, load_tenants)


async def _reload(host: Host, load_tenants: Callable[[], TenantSet]) -> None:
    """One SIGHUP: read everything again (off the loop) and apply it."""
    try:
        new = await asyncio.to_thread(load_tenants)
    except ConfigError as exc:
        await host.refuse_main(exc)
        return
    except Exception as exc:  # a bug must not end the host; every tenant keeps running
        log.error("config reload failed, every tenant keeps running as it was: %r", exc)
        return
    try:
        await host.apply(new)
    except StartupError as exc:
        log.error("config reload: %s", exc)
