"""Optional line-type lookup before a number's first text (is it a mobile at all?)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LineInfo:
    """What a lookup said: the line type, and whether it can take texts (None: can't tell)."""

    line_type: str | None
    sms_capable: bool | None


#: Looks up one E.164 number; raises a ProviderError subclass when the lookup fails.
LineLookup = Callable[[str], Awaitable[LineInfo]]
