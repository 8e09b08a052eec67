"""Optional line-type lookup before a number's first text (is it a mobile at all?)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class LineInfo:
    """What a lookup said: the line type, and whether it can take texts (None: can't tell)."""

    line_type: str | None
    sms_capable: bool | None


#: Looks up one E.164 number; raises a ProviderError subclass when the lookup fails.
LineLookup = Callable[[str], Awaitable[LineInfo]]


class LineAnswer(Protocol):
    """A vendor's own lookup record, of which the handler needs two fields."""

    @property
    def line_type(self) -> str | None:
        """The vendor's line type."""
        ...

    @property
    def sms_capable(self) -> bool | None:
        """Whether the line can take texts (None: the vendor cannot tell)."""
        ...


def line_lookup(ask: Callable[[str], Awaitable[LineAnswer]]) -> LineLookup:
    """A vendor's lookup call as the :data:`LineLookup` the handler calls."""

    async def lookup(e164: str) -> LineInfo:
        found = await ask(e164)
        return LineInfo(found.line_type, found.sms_capable)

    return lookup
