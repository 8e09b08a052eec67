"""The unit of work: commits are visible at the call site, and nowhere else."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.store import contacts
from asterisk_textback.store.uow import reading, unit_of_work

NUMBER = "+12125550147"


async def _opted_out(factory: async_sessionmaker[AsyncSession]) -> bool:
    async with reading(factory) as session:
        contact = await contacts.get_contact(session, NUMBER)
        return contact is not None and contact.opted_out


async def test_a_unit_commits_when_its_block_ends(
    session_factory: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    async with unit_of_work(session_factory) as session:
        await contacts.opt_out(session, NUMBER, now=now, source="test")
    assert await _opted_out(session_factory)


async def test_a_unit_rolls_everything_back_on_error(
    session_factory: async_sessionmaker[AsyncSession], now: datetime
) -> None:

    async def write_then_fail() -> None:
        async with unit_of_work(session_factory) as session:
            await contacts.opt_out(session, NUMBER, now=now, source="test")
            raise RuntimeError("after the write")

    with pytest.raises(RuntimeError, match="after the write"):
        await write_then_fail()
    assert not await _opted_out(session_factory)


async def test_store_functions_never_commit_on_their_own(
    session_factory: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    async with session_factory() as session:
        await contacts.opt_out(session, NUMBER, now=now, source="test")
        assert (await contacts.get_contact(session, NUMBER)) is not None  # its own view
    assert not await _opted_out(session_factory)  # closed without a commit: gone


async def test_reading_never_commits(
    session_factory: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    async with reading(session_factory) as session:
        await contacts.opt_out(session, NUMBER, now=now, source="misused")
    assert not await _opted_out(session_factory)


async def test_a_reader_does_not_wait_for_an_open_unit(
    session_factory: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    """A page or report reads the last committed state while a writer's unit is open."""
    async with unit_of_work(session_factory) as session:
        await contacts.opt_out(session, NUMBER, now=now, source="test")
        async with asyncio.timeout(2):
            assert not await _opted_out(session_factory)
    assert await _opted_out(session_factory)
