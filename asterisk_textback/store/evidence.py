"""Consent evidence: every call, text and opt-out/opt-in of a number, read for an export.

Read-only. :func:`numbers_after` pages through every number the database knows (the callers,
the numbers texted, the numbers that texted us, the opt-out list and its history) in number
order, so an export of all of them holds one page in memory; :func:`records_of` reads the
records of one page's numbers in five queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.calls.utc import aware
from asterisk_textback.store import consent_events
from asterisk_textback.store.models import Call, ConsentEvent, Contact, InboundMessage, Message

__all__ = [
    "CallFact",
    "ChangeFact",
    "ConsentState",
    "InboundFact",
    "NumberRecords",
    "TextFact",
    "numbers_after",
    "records_of",
]


@dataclass(frozen=True, slots=True)
class CallFact:
    """A call from the number and what was decided about it (raw stored values)."""

    id: int
    ended_at: datetime
    did: str
    outcome: str
    reason: str
    action: str
    suppress_reason: str | None
    template: str | None
    disclosure_played: bool
    caller_verification: str | None
    quiet_rule: str | None = None


@dataclass(frozen=True, slots=True)
class TextFact:
    """A text sent (or meant) to the number, with its delivery status."""

    id: int
    at: datetime
    kind: str
    sender: str
    body: str
    status: str
    sent_at: datetime | None
    delivered_at: datetime | None
    error: str | None
    call_id: int | None
    sent_by: str | None


@dataclass(frozen=True, slots=True)
class InboundFact:
    """A text the number sent us, as classified (``stop``/``start`` change consent)."""

    id: int
    received_at: datetime
    to: str
    kind: str
    keyword: str | None
    body: str


@dataclass(frozen=True, slots=True)
class ChangeFact:
    """An opt-out or opt-in (``consent_events``): when, from where, in the caller's words."""

    id: int
    kind: str
    at: datetime
    source: str | None
    wording: str | None
    inbound_id: int | None


@dataclass(frozen=True, slots=True)
class ConsentState:
    """The opt-out list's row: the last change, its time and source."""

    opted_out: bool
    changed_at: datetime | None
    source: str | None


@dataclass(slots=True)
class NumberRecords:
    """Everything stored about one number."""

    number: str
    calls: list[CallFact] = field(default_factory=list)
    texts: list[TextFact] = field(default_factory=list)
    inbound: list[InboundFact] = field(default_factory=list)
    #: Every opt-out and opt-in, oldest first.
    changes: list[ChangeFact] = field(default_factory=list)
    consent: ConsentState | None = None

    @property
    def empty(self) -> bool:
        """True when the database knows nothing of the number."""
        return not (self.calls or self.texts or self.inbound or self.changes or self.consent)


def _maybe(value: datetime | None) -> datetime | None:
    return None if value is None else aware(value)


async def numbers_after(session: AsyncSession, after: str, limit: int) -> list[str]:
    """The next ``limit`` numbers above ``after`` (``""``: from the first), in order.

    Each source is read through its own index, ``limit`` rows at most, so a page costs the
    same at the end of a large table as at its start.
    """
    columns = (
        (Call.caller_e164, None),
        (Message.to_e164, None),
        (InboundMessage.from_e164, None),
        (Contact.e164, Contact.opt_out_source.is_not(None)),
        (ConsentEvent.e164, None),
    )
    found: set[str] = set()
    for column, extra in columns:
        query = select(column).where(column.is_not(None), column > after)
        if extra is not None:
            query = query.where(extra)
        query = query.group_by(column).order_by(column).limit(limit)
        found.update(str(n) for n in (await session.scalars(query)).all())
    return sorted(found)[:limit]


async def records_of(session: AsyncSession, numbers: Sequence[str]) -> dict[str, NumberRecords]:
    """The records of each of ``numbers`` (a page: the IN lists hold them all), in time order."""
    records = {n: NumberRecords(n) for n in numbers}
    if not numbers:
        return records
    calls = await session.scalars(
        select(Call).where(Call.caller_e164.in_(numbers)).order_by(Call.ended_at, Call.id)
    )
    for c in calls:
        records[str(c.caller_e164)].calls.append(
            CallFact(
                id=c.id,
                ended_at=aware(c.ended_at),
                did=c.did,
                outcome=c.outcome.value,
                reason=c.reason.value,
                action=c.action.value,
                suppress_reason=c.suppress_reason,
                template=c.template,
                disclosure_played=bool(c.disclosure_played),
                caller_verification=c.caller_verification,
                quiet_rule=c.quiet_rule,
            )
        )
    texts = await session.scalars(
        select(Message).where(Message.to_e164.in_(numbers)).order_by(Message.id)
    )
    for m in texts:
        records[m.to_e164].texts.append(
            TextFact(
                id=m.id,
                at=aware(m.sent_at or m.send_at),
                kind=m.kind,
                sender=m.sender,
                body=m.body,
                status=m.status.value,
                sent_at=_maybe(m.sent_at),
                delivered_at=_maybe(m.delivered_at),
                error=m.last_error,
                call_id=m.call_id,
                sent_by=m.sent_by,
            )
        )
    inbound = await session.scalars(
        select(InboundMessage)
        .where(InboundMessage.from_e164.in_(numbers))
        .order_by(InboundMessage.received_at, InboundMessage.id)
    )
    for i in inbound:
        records[i.from_e164].inbound.append(
            InboundFact(
                id=i.id,
                received_at=aware(i.received_at),
                to=i.to_e164,
                kind=i.kind.value,
                keyword=i.keyword,
                body=i.body,
            )
        )
    for e in await consent_events.events_of(session, numbers):
        records[e.e164].changes.append(
            ChangeFact(e.id, e.kind, aware(e.at), e.source, e.wording, e.inbound_message_id)
        )
    contacts = await session.scalars(select(Contact).where(Contact.e164.in_(numbers)))
    for contact in contacts:
        if contact.opt_out_source is not None or contact.opted_out:
            records[contact.e164].consent = ConsentState(
                contact.opted_out, _maybe(contact.opted_out_at), contact.opt_out_source
            )
    return records
