"""The ``[dispatch]`` section: how many workers drain the outbox, and how they retry."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DispatchSettings"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DispatchSettings(_Frozen):
    """How the outbox is drained."""

    workers: int = Field(default=2, ge=1, le=64)
    batch_size: int = Field(default=20, ge=1, le=1000)
    #: Retry a transient failure after this many seconds, doubling up to ``retry_max``.
    retry_min_seconds: float = Field(default=5.0, gt=0)
    retry_max_seconds: float = Field(default=300.0, gt=0)
    #: How often the dispatcher looks for texts that became due (deferred or retried).
    poll_seconds: float = Field(default=1.0, gt=0)
    #: With tenants (one process hosting many businesses): the idle polls of all the tenants'
    #: dispatcher workers together, per second (each still every ``poll_seconds`` at least).
    #: Texts queued in the process wake their dispatcher at once and retries or deferred
    #: texts go out when due; the poll only finds texts queued by another process.
    idle_polls_per_second: float = Field(default=20.0, gt=0)
    #: This instance's name in ``claimed_by`` (default: the host name). Instances sharing a
    #: PostgreSQL database need distinct names: on start each recovers only its own texts.
    instance: str | None = Field(default=None, min_length=1, max_length=40)
    #: A text claimed longer ago than this by an instance that never finished it is
    #: recovered by any instance (the other one died and did not come back).
    claim_lease_seconds: float = Field(default=600.0, gt=0)
    #: How often queued texts past their max age are expired.
    expire_every_seconds: float = Field(default=30.0, gt=0)
