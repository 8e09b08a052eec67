"""Per-PBX marks (``pbx_marks``): read, saved, only ever moved forward, also concurrently."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.store.marks import get_mark, save_mark
from asterisk_textback.store.uow import unit_of_work

T0 = 1_796_000_000.0


async def test_a_new_pbx_has_no_mark(session: AsyncSession) -> None:
    assert await get_mark(session, "main") is None


async def test_the_mark_moves_forward_never_back(session: AsyncSession) -> None:
    await save_mark(session, "main", T0)
    await save_mark(session, "main", T0 + 10.5)
    await save_mark(session, "main", T0 + 2)  # an older writer cannot undo progress
    await save_mark(session, "branch", T0 - 100)
    assert await get_mark(session, "main") == T0 + 10.5
    assert await get_mark(session, "branch") == T0 - 100


async def test_concurrent_writers_leave_the_latest_mark(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async def save(at: float) -> None:
        async with unit_of_work(session_factory) as session:
            await save_mark(session, "main", at)

    times = [T0 + i for i in (3, 9, 1, 7, 5, 0, 8, 2, 6, 4)]
    await asyncio.gather(*(save(at) for at in times))
    async with session_factory() as session:
        assert await get_mark(session, "main") == T0 + 9
