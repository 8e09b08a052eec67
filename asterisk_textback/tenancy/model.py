"""A loaded tenant, and one whose file was refused."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from asterisk_textback.textback.loading import PreparedConfig

__all__ = ["RefusedTenant", "Tenant"]


@dataclass(frozen=True, slots=True)
class Tenant:
    """One business: its id, its prepared settings and the file they came from."""

    id: str
    loaded: PreparedConfig
    #: ``tenants.d/<id>.toml``; None for the main config's own business.
    path: Path | None

    @property
    def name(self) -> str:
        """The business's name as the console shows it."""
        return self.loaded.settings.tenant.name or self.id


@dataclass(frozen=True, slots=True)
class RefusedTenant:
    """A tenant file that did not load: kept out, the others run."""

    id: str
    path: Path
    #: One line naming the file, the key and the problem.
    reason: str
