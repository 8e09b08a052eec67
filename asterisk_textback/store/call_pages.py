"""What the Calls, Conversations and message views read: keyset-paginated queries.

Pages are keyset cursors (``ended_at``/``id`` of the last row, opaque to clients), so the
hundredth page costs what the first does on a table of a million calls.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.calls.model import Outcome
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.policy.decision import Action as DecisionAction
from asterisk_textback.store.kpi_queries import TEXTBACK_KIND
from asterisk_textback.store.models import Booking, Call, InboundMessage, Message

__all__ = [
    "CallFilter",
    "CallRow",
    "CursorError",
    "Page",
    "decode_cursor",
    "decode_id_cursor",
    "decorate",
    "encode_cursor",
    "list_calls",
]

T = TypeVar("T")


class CursorError(ValueError):
    """A pagination cursor that this server did not hand out."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of rows and the cursor of the next (None on the last page)."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(at: datetime, key: str | int) -> str:
    """An opaque cursor after the row (``at``, ``key``)."""
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{key}".encode()).decode().rstrip("=")


#: Cursors we hand out are under 100 characters; anything much longer is not ours.
_MAX_CURSOR = 256
#: Row ids fit a signed 64-bit integer: at most 18 digits, like the routes' ``{call_id}``.
_MAX_ID_DIGITS = 18
#: The years a cursor's time may name (beyond them, zone conversions overflow).
_YEARS = range(1970, 9000)


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (``at``, ``key``) a cursor stands for; CursorError when it is malformed."""
    if len(cursor) > _MAX_CURSOR or not cursor.isascii():
        raise CursorError("cursor: malformed")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, key = raw.partition("|")
        moment = datetime.fromisoformat(at)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise CursorError("cursor: malformed") from None
    if moment.tzinfo is None or moment.utcoffset() is None or not key or len(key) > 64:
        raise CursorError("cursor: malformed")
    if moment.year not in _YEARS:
        raise CursorError("cursor: malformed")
    return moment, key


def decode_id_cursor(cursor: str) -> tuple[datetime, int]:
    """A cursor whose key is a row id (1 .. 2**63 - 1); CursorError otherwise."""
    at, key = decode_cursor(cursor)
    if not key.isascii() or not key.isdigit() or len(key) > _MAX_ID_DIGITS:
        raise CursorError("cursor: malformed")
    return at, int(key)


@dataclass(frozen=True, slots=True)
class CallFilter:
    """The Calls page's filters; None means "any"."""

    outcome: Outcome | None = None
    action: DecisionAction | None = None
    did: str | None = None
    since: date | None = None
    until: date | None = None
    search: str | None = None
    #: The zone of ``since`` and ``until`` (the business's, like the Overview's days).
    zone: tzinfo = UTC

    def clauses(self) -> list[ColumnElement[bool]]:
        """WHERE clauses for these filters (dates are whole local days, ``until`` included)."""
        clauses: list[ColumnElement[bool]] = []
        if self.outcome is not None:
            clauses.append(Call.outcome == self.outcome)
        if self.action is not None:
            clauses.append(Call.action == self.action)
        if self.did:
            clauses.append(Call.did == self.did)
        if self.since is not None:
            clauses.append(Call.ended_at >= datetime.combine(self.since, time(), self.zone))
        if self.until is not None:
            end = datetime.combine(self.until + timedelta(days=1), time(), self.zone)
            clauses.append(Call.ended_at < end)
        if self.search:
            needle = self.search.strip()
            clauses.append(
                or_(
                    Call.caller_number.contains(needle, autoescape=True),
                    Call.caller_e164.contains(needle, autoescape=True),
                    Call.caller_name.icontains(needle, autoescape=True),
                )
            )
        return clauses


@dataclass(frozen=True, slots=True)
class CallRow:
    """A call with its text's status, time to first response, replies and booking state."""

    call: Call
    text_status: MessageStatus | None
    first_response_seconds: float | None
    replies: int
    booked: bool

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        c = self.call
        return {
            "id": c.id,
            "pbx": c.pbx,
            "linkedid": c.linkedid,
            "direction": c.direction.value,
            "outcome": c.outcome.value,
            "reason": c.reason.value,
            "caller_number": c.caller_number,
            "caller_e164": c.caller_e164,
            "caller_name": c.caller_name,
            "did": c.did,
            "queue": c.queue,
            "started_at": c.started_at.isoformat(),
            "ended_at": c.ended_at.isoformat(),
            "ring_seconds": c.ring_seconds,
            "decision": c.action.value,
            "suppress_reason": c.suppress_reason,
            "template": c.template,
            "variant": c.variant,
            "quiet_rule": c.quiet_rule,
            "text_status": None if self.text_status is None else self.text_status.value,
            "first_response_seconds": self.first_response_seconds,
            "replies": self.replies,
            "booked": self.booked,
        }


async def decorate(session: AsyncSession, calls: list[Call]) -> list[CallRow]:
    """Add each call's text status, first-response time, replies and booking (3 queries)."""
    ids = [c.id for c in calls]
    if not ids:
        return []
    texts: dict[int, tuple[MessageStatus | None, datetime | None]] = {}
    rows = await session.execute(
        select(Message.call_id, Message.status, Message.sent_at)
        .where(Message.call_id.in_(ids), Message.kind == TEXTBACK_KIND)
        .order_by(Message.id)
    )
    for call_id, state, at in rows:
        if call_id is not None:
            texts.setdefault(call_id, (state, at))
    replies = dict(
        (k, int(v))
        for k, v in await session.execute(
            select(InboundMessage.call_id, func.count(InboundMessage.id))
            .where(InboundMessage.call_id.in_(ids))
            .group_by(InboundMessage.call_id)
        )
    )
    booked = set(await session.scalars(select(Booking.call_id).where(Booking.call_id.in_(ids))))
    none: tuple[MessageStatus | None, datetime | None] = (None, None)
    result = []
    for c in calls:
        status, sent_at = texts.get(c.id, none)
        delay = None if sent_at is None else round((sent_at - c.ended_at).total_seconds(), 3)
        result.append(CallRow(c, status, delay, replies.get(c.id, 0), c.id in booked))
    return result


async def list_calls(
    session: AsyncSession, flt: CallFilter, limit: int, cursor: str | None = None
) -> Page[CallRow]:
    """Calls newest first, filtered, ``limit`` per page."""
    query = select(Call).where(*flt.clauses())
    if cursor:
        at, key = decode_id_cursor(cursor)
        query = query.where(or_(Call.ended_at < at, and_(Call.ended_at == at, Call.id < key)))
    calls = list(
        await session.scalars(query.order_by(Call.ended_at.desc(), Call.id.desc()).limit(limit + 1))
    )
    more = len(calls) > limit
    calls = calls[:limit]
    after = encode_cursor(calls[-1].ended_at, calls[-1].id) if more else None
    return Page(await decorate(session, calls), after)
