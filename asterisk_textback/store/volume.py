"""How many texts went out lately: the expected volume of a 10DLC registration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.calls.model import MISSED_OUTCOMES, Direction
from asterisk_textback.calls.utc import aware
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.models import Call, Message
from asterisk_textback.store.schema import DatabaseUnreadableError, check_schema_readable
from asterisk_textback.store.sqlite_file import missing_sqlite_file
from asterisk_textback.store.uow import reading

__all__ = ["TextCounts", "read_text_counts", "text_counts"]

#: Texts that never left and never will: not part of the volume.
_NOT_SENT = (MessageStatus.CANCELLED, MessageStatus.EXPIRED, MessageStatus.SUPPRESSED)


@dataclass(frozen=True, slots=True)
class TextCounts:
    """Texts queued since a time, by kind, and when the history begins."""

    texts: int
    textbacks: int
    missed_calls: int
    #: The first call or text ever recorded; None for an empty database.
    first_at: datetime | None


async def text_counts(session: AsyncSession, since: datetime) -> TextCounts:
    """Texts queued (sent or on their way) and missed inbound calls since ``since``."""
    counted = Message.status.not_in(_NOT_SENT)
    by_kind = await session.execute(
        select(Message.kind, func.count())
        .where(Message.created_at >= since, counted)
        .group_by(Message.kind)
    )
    kinds = {kind: int(n) for kind, n in by_kind}
    missed = await session.scalar(
        select(func.count())
        .select_from(Call)
        .where(
            Call.ended_at >= since,
            Call.direction == Direction.INBOUND,
            Call.outcome.in_(MISSED_OUTCOMES),
        )
    )
    first_call = await session.scalar(select(func.min(Call.ended_at)))
    first_text = await session.scalar(select(func.min(Message.created_at)))
    firsts = [aware(t) for t in (first_call, first_text) if t is not None]
    return TextCounts(
        texts=sum(kinds.values()),
        textbacks=kinds.get("textback", 0),
        missed_calls=int(missed or 0),
        first_at=min(firsts) if firsts else None,
    )


async def read_text_counts(url: str, since: datetime) -> TextCounts | None:
    """:func:`text_counts` of the database at ``url``; None for a SQLite file that does not
    exist (it is not created). A database that cannot be read raises
    :class:`~asterisk_textback.store.schema.DatabaseUnreadableError` (a ``TextbackError``)."""
    if missing_sqlite_file(url) is not None or make_url(url).database == ":memory:":
        return None
    engine = create_engine(url)
    try:
        await check_schema_readable(engine)
        async with reading(create_session_factory(engine)) as session:
            return await text_counts(session, since)
    except (SQLAlchemyError, OSError) as exc:
        orig = exc.orig if isinstance(exc, DBAPIError) else exc
        raise DatabaseUnreadableError(str(orig)) from None
    finally:
        await engine.dispose()
