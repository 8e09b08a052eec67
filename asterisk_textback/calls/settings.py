"""The ``[tracker]`` section: which contexts mean trunk or phone, and the memory bounds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DEFAULT_INTERNAL_CONTEXTS", "DEFAULT_TRUNK_CONTEXTS", "TrackerSettings"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


#: Contexts an inbound call from a carrier starts in: FreePBX trunks and plain-Asterisk habits.
DEFAULT_TRUNK_CONTEXTS: tuple[str, ...] = (
    "from-trunk*",
    "from-pstn*",
    "from-did-direct*",
    "ext-did*",
    "from-sip-external",
    "from-external*",
    "from-provider*",
    "incoming*",
    "inbound*",
)
#: Contexts the PBX's own phones start in (FreePBX and plain Asterisk).
DEFAULT_INTERNAL_CONTEXTS: tuple[str, ...] = (
    "from-internal*",
    "ext-local*",
    "from-queue*",
    "from-phones*",
    "phones*",
    "internal*",
    "default",
)


class TrackerSettings(_Frozen):
    """How calls are classified: which contexts mean trunk / phone, and memory bounds."""

    trunk_contexts: tuple[str, ...] = DEFAULT_TRUNK_CONTEXTS
    internal_contexts: tuple[str, ...] = DEFAULT_INTERNAL_CONTEXTS
    #: A call with no hangup after this many seconds is evicted (outcome ``unknown``).
    call_ttl_seconds: float = Field(default=6 * 3600.0, gt=0)
    #: Hard cap on calls followed at once; the oldest are evicted beyond it.
    max_open_calls: int = Field(default=50_000, ge=10)
    #: How many ended Linkedids/Uniqueids are remembered to ignore late events.
    remember_ended: int = Field(default=20_000, ge=10)

    @field_validator("trunk_contexts", "internal_contexts")
    @classmethod
    def _not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or any(not c.strip() for c in value):
            raise ValueError("must be a non-empty list of context names or globs")
        return value
