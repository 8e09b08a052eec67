"""What the tracker reads from ``[tracker]``, as a Protocol, and its defaults as a plain value.

The tracker is pure and must not import pydantic: it takes any object with these fields
(``calls.settings.TrackerSettings`` validates the TOML into one), and falls back to
:class:`TrackerDefaults`, which is also where the settings take their defaults from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "DEFAULT_INTERNAL_CONTEXTS",
    "DEFAULT_TRUNK_CONTEXTS",
    "TrackerConfig",
    "TrackerDefaults",
]

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


class TrackerConfig(Protocol):
    """The ``[tracker]`` fields the tracker reads."""

    @property
    def trunk_contexts(self) -> tuple[str, ...]:
        """Context globs an inbound call from a carrier starts in."""

    @property
    def internal_contexts(self) -> tuple[str, ...]:
        """Context globs the PBX's own phones start in."""

    @property
    def call_ttl_seconds(self) -> float:
        """A call with no hangup after this long is evicted (outcome ``unknown``)."""

    @property
    def max_open_calls(self) -> int:
        """Hard cap on calls followed at once; the oldest are evicted beyond it."""

    @property
    def remember_ended(self) -> int:
        """How many ended Linkedids/Uniqueids are remembered to ignore late events."""


@dataclass(frozen=True, slots=True)
class TrackerDefaults:
    """The tracker's defaults (``[tracker]`` left out), as a plain frozen value."""

    trunk_contexts: tuple[str, ...] = DEFAULT_TRUNK_CONTEXTS
    internal_contexts: tuple[str, ...] = DEFAULT_INTERNAL_CONTEXTS
    call_ttl_seconds: float = 6 * 3600.0
    max_open_calls: int = 50_000
    remember_ended: int = 20_000
