"""One watched PBX as the running service holds it: connection, tracker, listener.

Its own module so that ``reload`` (which swaps a link's connection) and ``service`` (which
builds the links and the reloader) do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from asterisk_textback.ami.connection import AmiConnection
from asterisk_textback.calls.listener import CallListener
from asterisk_textback.calls.tracker import CallTracker

__all__ = ["PbxLink"]


@dataclass(frozen=True, slots=True)
class PbxLink:
    """One watched PBX: its AMI connection, its tracker, and the consumer gluing them."""

    name: str
    connection: AmiConnection
    tracker: CallTracker
    listener: CallListener
