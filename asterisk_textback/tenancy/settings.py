"""The ``[tenant]``, ``[tenants]`` and ``[cluster]`` sections.

``[tenant]`` is written in a tenant file (``tenants.d/<id>.toml``): what it is called and,
on a PBX shared with other tenants, the DIDs that are its own. ``[tenants]`` and
``[cluster]`` belong to the main config only: where the tenant files are, and how several
``run`` instances sharing one PostgreSQL database divide the PBX links between them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["ClusterSettings", "TenantSettings", "TenantsSettings"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TenantSettings(_Frozen):
    """Who this tenant is, in its own file."""

    #: The business's name as the integrator console shows it (default: the tenant id).
    name: str | None = Field(default=None, min_length=1, max_length=80)
    #: On a PBX shared with other tenants: the DIDs (as the trunk delivers them, any
    #: format) whose inbound calls are this tenant's. Empty: every inbound call its
    #: ``tracker.trunk_contexts`` see (a PBX of its own, or a context per client).
    dids: tuple[str, ...] = ()

    @field_validator("dids")
    @classmethod
    def _digits(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for index, did in enumerate(value):
            if sum(ch.isdigit() for ch in did) < 3:
                raise ValueError(f"[{index}]: {did!r} is not a phone number")
        return value


class TenantsSettings(_Frozen):
    """Where the tenant files are (main config only)."""

    #: Folder of ``<id>.toml`` files; relative to the main config file's folder.
    directory: str = "tenants.d"
    #: The main config is a business too (the ``default`` tenant, served at ``/``). False:
    #: it only holds the install's settings and the defaults the tenant files start from.
    main_business: bool = True


class ClusterSettings(_Frozen):
    """Several ``run`` instances on one PostgreSQL database (main config only)."""

    #: Take a lease on each PBX link before connecting to it, so that exactly one instance
    #: watches each link; needs a ``postgresql+asyncpg`` database.
    enabled: bool = False
    #: A link whose owner has not renewed its lease for this long is taken by another
    #: instance (the owner died or lost the database).
    lease_seconds: float = Field(default=15.0, ge=3.0, le=300.0)
    #: How often each instance renews its leases and looks for free links.
    renew_seconds: float = Field(default=5.0, ge=0.5, le=100.0)

    @model_validator(mode="after")
    def _renew_within_lease(self) -> ClusterSettings:
        if self.renew_seconds * 2 > self.lease_seconds:
            raise ValueError(
                "renew_seconds: must be at most half of lease_seconds, so that one late "
                "renewal does not lose a link"
            )
        return self
