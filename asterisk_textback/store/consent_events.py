"""``consent_events``: every change of a number's consent, kept for the evidence export.

``contacts`` holds only a number's current state (opted out or not, the last change's time
and source); this table keeps each change: an opt-out and an opt-in, when, from where
(``sms:<keyword>``, ``cli``, ``import`` or a CSV's own source, ``provider``), and the
caller's own words when a text made it. The FCC's revocation rule (47 CFR 64.1200(a)(10))
lets consumers revoke consent "in any reasonable manner", so the words are evidence; the
CTIA Messaging Principles and Best Practices (§5) ask that opt-out records be kept.

One row per *change*: every writer changes ``contacts`` with a conditional statement that
returns the row only when the state flipped (a STOP from a number already opted out, or an
opt-in of a number not opted out, changes nothing and writes nothing), then calls
:func:`record` in the same transaction. The contact row's lock (PostgreSQL) or the database
write lock (SQLite) serialises two changes of one number, so two STOPs at once write one
event, never two and never none. No function here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from asterisk_textback.store.base import Base, BigId

__all__ = ["OPT_IN", "OPT_OUT", "WORDING_MAX", "ConsentEvent", "events_of", "record"]

OPT_OUT: Final = "opt_out"
OPT_IN: Final = "opt_in"
#: The caller's words are kept up to this many characters (a long SMS is 10 segments).
WORDING_MAX: Final = 1600


class ConsentEvent(Base):
    """One opt-out or opt-in of one number."""

    __tablename__ = "consent_events"
    __table_args__ = (
        CheckConstraint("kind IN ('opt_out', 'opt_in')", name="kind"),
        Index("ix_consent_events_e164_at", "e164", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    e164: Mapped[str] = mapped_column(String(16))
    #: ``opt_out`` or ``opt_in``.
    kind: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime]
    #: ``sms:<keyword>``, ``cli``, ``import`` (or the CSV's own source), ``provider[:name]``.
    source: Mapped[str | None] = mapped_column(String(64))
    #: The text that made the change, as the caller wrote it (None when no text did).
    wording: Mapped[str | None] = mapped_column(String(WORDING_MAX))
    inbound_message_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("inbound_messages.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]


async def record(
    session: AsyncSession,
    e164: str,
    kind: str,
    *,
    at: datetime,
    source: str | None,
    now: datetime,
    wording: str | None = None,
    inbound_message_id: int | None = None,
) -> None:
    """Add one change (call it only when the contact's state did change)."""
    if kind not in (OPT_OUT, OPT_IN):
        raise ValueError(f"consent event kind must be opt_out or opt_in, not {kind!r}")
    session.add(
        ConsentEvent(
            e164=e164,
            kind=kind,
            at=at,
            source=None if source is None else source[:64],
            wording=None if wording is None else wording[:WORDING_MAX],
            inbound_message_id=inbound_message_id,
            created_at=now,
        )
    )
    await session.flush()


async def events_of(session: AsyncSession, numbers: Sequence[str]) -> list[ConsentEvent]:
    """The changes of ``numbers``, oldest first (ties: in the order they were written)."""
    if not numbers:
        return []
    rows = await session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.e164.in_(numbers))
        .order_by(ConsentEvent.e164, ConsentEvent.at, ConsentEvent.id)
    )
    return list(rows.all())
