"""Fold the CDR rows of ``Local/…;2`` channels into the call that dialled them.

Ring groups, follow-me and queues that dial ``Local/1001@ext-local`` give each member its own
``Local/…;2`` channel with its own ``uniqueid``; it runs dialplan and writes its own Dial rows
(``dcontext`` ``ext-local`` or ``from-queue``, an extension as ``dst``). Without a ``linkedid``
column (``cdr_csv`` without ``newcdrcolumns``) those rows look like separate internal calls.
The dialling call's row names the other half, ``Local/…;1``, as its ``dstchannel``: a leg
belongs to the call whose row names its peer and whose time span holds the leg's start.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final, Protocol, TypeVar

__all__ = ["LegRow", "fold_local_legs", "local_peer"]


class LegRow(Protocol):
    """The CDR columns folding needs (``model.CdrRow`` has them; ``model`` imports us)."""

    @property
    def start(self) -> datetime:
        """When the row's channel started."""

    @property
    def end(self) -> datetime | None:
        """When it ended, if known."""

    @property
    def uniqueid(self) -> str:
        """The row's own channel id."""

    @property
    def channel(self) -> str:
        """The row's channel name (``Local/…;2`` for a leg)."""

    @property
    def dstchannel(self) -> str:
        """The channel it dialled (``Local/…;1`` names a leg's peer)."""


#: Any row type with the columns above; folding hands back the rows it was given.
Row = TypeVar("Row", bound=LegRow)

#: Rows are written with whole-second times; a leg may start a moment before its parent row.
_SLACK: Final = timedelta(seconds=2)
#: Local chains deeper than this (a loop in bad data) stop being followed.
_MAX_DEPTH: Final = 16


def local_peer(channel: str) -> str | None:
    """``Local/1001@ext-local-0000000a;1`` for ``…;2`` and back; None for other channels."""
    if not channel.lower().startswith("local/"):
        return None
    base, sep, half = channel.rpartition(";")
    if not sep or half not in ("1", "2"):
        return None
    return f"{base};{'1' if half == '2' else '2'}"


def _span(rows: list[Row]) -> tuple[datetime, datetime]:
    start = min(row.start for row in rows)
    return start, max((row.end or row.start for row in rows), default=start)


def _parent(
    key: str,
    rows: list[Row],
    dialled_by: Mapping[str, list[str]],
    spans: Mapping[str, tuple[datetime, datetime]],
) -> str | None:
    """The key of the call that dialled this Local leg, or None."""
    peer = local_peer(rows[0].channel)
    if peer is None:
        return None
    start = spans[key][0]
    best: tuple[timedelta, str] | None = None
    for candidate in dialled_by.get(peer, ()):
        if candidate == key:
            continue
        low, high = spans[candidate]
        if low - _SLACK <= start <= high + _SLACK:
            distance = abs(start - low)
            if best is None or distance < best[0]:
                best = (distance, candidate)
    return None if best is None else best[1]


def _origin_first(key: str, rows: list[Row]) -> list[Row]:
    """Rows of the call's first channel first, Local legs last (file order otherwise kept)."""

    def rank(row: Row) -> int:
        if row.uniqueid == key:
            return 0
        return 2 if local_peer(row.channel) is not None else 1

    return sorted(rows, key=rank)


def fold_local_legs(calls: dict[str, list[Row]]) -> dict[str, list[Row]]:
    """The calls with each Local leg's rows appended to its dialling call, the call's own
    first channel's rows first (a ``linkedid`` group lists the legs, written first, first)."""
    calls = {key: _origin_first(key, rows) for key, rows in calls.items()}
    dialled_by: dict[str, list[str]] = {}
    for key, rows in calls.items():
        for row in rows:
            if row.dstchannel.lower().startswith("local/"):
                dialled_by.setdefault(row.dstchannel, []).append(key)
    if not dialled_by:
        return calls
    spans = {key: _span(rows) for key, rows in calls.items()}
    parents: dict[str, str] = {}
    for key, rows in calls.items():
        parent = _parent(key, rows, dialled_by, spans)
        if parent is not None:
            parents[key] = parent

    def root(key: str) -> str:
        seen = {key}
        top = key
        while top in parents:
            top = parents[top]
            if top in seen or len(seen) > _MAX_DEPTH:
                return key  # a loop in bad data: leave the leg on its own
            seen.add(top)
        return top

    targets = {key: root(key) for key in calls}
    legs: dict[str, list[Row]] = {}
    for key, rows in calls.items():
        if targets[key] != key:
            legs.setdefault(targets[key], []).extend(rows)
    # The dialling call's own rows stay first: its first row names the caller, DID and context.
    return {key: [*rows, *legs.get(key, ())] for key, rows in calls.items() if targets[key] == key}
