"""The running service's parts, as tests, the demo, ``/healthz`` and a reload see them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.agi.server import AgiServer
from asterisk_textback.ami.connection import AmiConnection
from asterisk_textback.calls.listener import CallListener
from asterisk_textback.calls.tracker import CallTracker
from asterisk_textback.outbox.dispatcher import Dispatcher
from asterisk_textback.textback.handler import CallHandler
from asterisk_textback.textback.loading import PreparedConfig
from asterisk_textback.textback.startup_catchup import StartupCatchUp


@dataclass(frozen=True, slots=True)
class PbxLink:
    """One watched PBX: its AMI connection, its tracker, and the consumer gluing them."""

    name: str
    connection: AmiConnection
    tracker: CallTracker
    listener: CallListener


class ReloadCounts(Protocol):
    """What the running service shows of its reloader (:class:`.reload.Reloader`)."""

    applied: int
    refused: int
    #: The config in force (the last one applied).
    current: PreparedConfig

    def health(self) -> dict[str, int]:
        """Reloads applied and refused since start."""

    async def rebuild_web(self) -> None:
        """Serve a freshly built web app (a tenant host moving it behind its dispatcher)."""


@dataclass(slots=True)
class RunningService:
    """The running pieces, for tests, the demo and /healthz.

    ``pbxes[i]`` and ``agi`` are replaced by a reload that restarts them: read them from here
    each time, never keep one.
    """

    pbxes: list[PbxLink]
    recorder: CallHandler
    dispatcher: Dispatcher
    agi: AgiServer
    startup: StartupCatchUp | None = None
    #: Applies SIGHUP reloads (set once serve() has built it).
    reloader: ReloadCounts | None = None
    #: The service's database sessions (its tenant's schema or file).
    sessions: async_sessionmaker[AsyncSession] | None = None

    @property
    def connection(self) -> AmiConnection:
        """The first (``[pbx]``) PBX's AMI connection."""
        return self.pbxes[0].connection

    @property
    def tracker(self) -> CallTracker:
        """The first PBX's tracker."""
        return self.pbxes[0].tracker
