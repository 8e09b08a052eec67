"""Per PBX link: the time up to which every call it ended is recorded (``pbx_marks``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.calls.utc import utc
from asterisk_textback.store._dialect import insert
from asterisk_textback.store.models import PbxMark

__all__ = ["get_mark", "save_mark"]


async def get_mark(session: AsyncSession, pbx: str) -> float | None:
    """Epoch seconds up to which this PBX's calls are recorded, or None (never run)."""
    at = await session.scalar(select(PbxMark.seen_until).where(PbxMark.pbx == pbx))
    return None if at is None else at.timestamp()


async def save_mark(session: AsyncSession, pbx: str, at: float) -> None:
    """Move this PBX's mark forward to ``at`` (never back: two writers cannot undo each
    other's progress)."""
    when = utc(at)
    stmt = insert(session, PbxMark).values(pbx=pbx, seen_until=when)
    stmt = stmt.on_conflict_do_update(
        index_elements=["pbx"],
        set_={"seen_until": when},
        where=PbxMark.seen_until < when,
    )
    await session.execute(stmt)
