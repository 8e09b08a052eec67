"""Helpers for the attack tests: a settable clock, recorders, and callers by prefix."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason
from asterisk_textback.config import Settings
from asterisk_textback.policy import parse_caller
from asterisk_textback.policy.settings import SuppressionSettings
from asterisk_textback.store.models import Message
from asterisk_textback.textback.handler import CallHandler
from asterisk_textback.textback.loading import prepare

Sessions = async_sessionmaker[AsyncSession]
#: When every attack happens (2026-12-07 15:00 UTC, a Monday afternoon).
T0 = 1_796_655_600.0


class Clock:
    """A settable clock."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def settings(**suppression: object) -> Settings:
    """The example config's caps (60/min, 10/min per prefix, 3 a day), no quiet hours."""
    values: dict[str, object] = {"quiet_hours": None, **suppression}
    return Settings(suppression=SuppressionSettings.model_validate(values))


def recorder(sessions: Sessions, clock: Clock, config: Settings) -> CallHandler:
    """A recorder as ``run`` builds it (two lanes)."""
    return CallHandler(prepare(config), sessions, on_queued=lambda: None, clock=clock)


@functools.cache
def area_codes(count: int) -> tuple[str, ...]:
    """``count`` US area codes whose 555-01xx numbers are valid, textable numbers."""
    found: list[str] = []
    for npa in range(201, 990):
        number = parse_caller(f"{npa}5550147", "US")
        textable = str(number.line_type) == "fixed_line_or_mobile"
        if number.e164 is not None and number.region == "US" and textable:
            found.append(str(npa))
        if len(found) == count:
            return tuple(found)
    raise AssertionError(f"only {len(found)} area codes")


def missed(number: str, linkedid: str, now: float = T0) -> CallEnded:
    """A missed call from ``number`` that ended a second before ``now``."""
    return CallEnded(
        linkedid=linkedid,
        direction=Direction.INBOUND,
        outcome=Outcome.MISSED_NO_VOICEMAIL,
        reason=Reason.NO_ANSWER,
        caller_number=number,
        caller_name="",
        did="5550100",
        queue=None,
        mailbox=None,
        started_at=now - 30,
        ended_at=now - 1,
        ring_seconds=25.0,
    )


def spread(calls: int, prefixes: int) -> list[CallEnded]:
    """``calls`` missed calls from distinct numbers spread evenly over ``prefixes`` prefixes."""
    codes = area_codes(prefixes)
    return [
        missed(f"{codes[i % prefixes]}555{i // prefixes:04d}", f"flood-{i}") for i in range(calls)
    ]


async def record_together(recorders: Sequence[CallHandler], calls: Sequence[CallEnded]) -> None:
    """Submit every call at once, spread over ``recorders``, and wait until all are stored."""
    tasks = [asyncio.create_task(r.run()) for r in recorders]
    for i, call in enumerate(calls):
        recorders[i % len(recorders)].submit(call)
    for r in recorders:
        r.stop()
    await asyncio.gather(*tasks)


async def textbacks(sessions: Sessions) -> list[Message]:
    """Every text-back in the outbox, by send time."""
    async with sessions() as session:
        rows = await session.scalars(
            select(Message).where(Message.kind == "textback").order_by(Message.send_at)
        )
        return list(rows.all())
