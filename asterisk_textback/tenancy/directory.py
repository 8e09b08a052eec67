"""What the integrator console and ``/metrics`` see of the tenants running in this instance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.tenancy.model import RefusedTenant
from asterisk_textback.textback.loading import PreparedConfig

if TYPE_CHECKING:
    from asterisk_textback.app.parts import RunningService

__all__ = ["TenantDirectory", "TenantView"]


@dataclass(frozen=True, slots=True)
class TenantView:
    """One running tenant: who it is, where its pages are, its data and its running parts."""

    id: str
    name: str
    #: Its dashboard, API and webhooks live under this path ("" for the default tenant).
    base_path: str
    loaded: PreparedConfig
    sessions: async_sessionmaker[AsyncSession]
    parts: RunningService


class TenantDirectory(Protocol):
    """The tenants of this instance, as they are now (a reload changes them)."""

    def views(self) -> Sequence[TenantView]:
        """Every running tenant, the default one (if the main config is a business) first."""

    def refused(self) -> Sequence[RefusedTenant]:
        """Tenant files that did not load at the last start or reload, with why."""
