"""The ``[tracker]`` section: which contexts mean trunk or phone, and the memory bounds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from asterisk_textback.calls.trackerconfig import TrackerDefaults

__all__ = ["TrackerSettings"]

_DEFAULTS = TrackerDefaults()


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TrackerSettings(_Frozen):
    """How calls are classified: which contexts mean trunk / phone, and memory bounds."""

    trunk_contexts: tuple[str, ...] = _DEFAULTS.trunk_contexts
    internal_contexts: tuple[str, ...] = _DEFAULTS.internal_contexts
    #: A call with no hangup after this many seconds is evicted (outcome ``unknown``).
    call_ttl_seconds: float = Field(default=_DEFAULTS.call_ttl_seconds, gt=0)
    #: Hard cap on calls followed at once; the oldest are evicted beyond it.
    max_open_calls: int = Field(default=_DEFAULTS.max_open_calls, ge=10)
    #: How many ended Linkedids/Uniqueids are remembered to ignore late events.
    remember_ended: int = Field(default=_DEFAULTS.remember_ended, ge=10)

    @field_validator("trunk_contexts", "internal_contexts")
    @classmethod
    def _not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or any(not c.strip() for c in value):
            raise ValueError("must be a non-empty list of context names or globs")
        return value
