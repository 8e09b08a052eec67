"""Calls: record every finished call with its decision, and enqueue its text atomically."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.calls.model import CallEnded
from asterisk_textback.calls.utc import utc
from asterisk_textback.policy.decision import Action as DecisionAction
from asterisk_textback.policy.decision import Decision, SuppressReason
from asterisk_textback.store._dialect import dialect_of, insert_for, insert_row
from asterisk_textback.store.models import Call, Message
from asterisk_textback.store.outbox import NewMessage, idempotency_key, insert_message

__all__ = ["CallDecision", "Recorded", "get_call", "record_call_and_enqueue", "record_calls"]

_CALL_KEY = ("pbx", "linkedid")


@dataclass(frozen=True, slots=True)
class CallDecision:
    """The parts of the policy's decision that are stored with the call."""

    action: DecisionAction
    suppress_reason: str | None = None
    template: str | None = None
    variant: str | None = None
    #: The quiet-hours rules the text's send time obeyed (``Decision.quiet_rule``).
    quiet_rule: str | None = None

    @classmethod
    def of(
        cls, decision: Decision, *, template: str | None = None, variant: str | None = None
    ) -> CallDecision:
        """What is stored of ``decision``; its quiet-hours rule when it sends, or when
        quiet hours are why it does not."""
        timed = decision.send or decision.reason is SuppressReason.QUIET_HOURS
        return cls(
            action=decision.action,
            suppress_reason=None if decision.reason is None else str(decision.reason),
            template=template,
            variant=variant,
            quiet_rule=decision.quiet_rule if timed else None,
        )


@dataclass(frozen=True, slots=True)
class Recorded:
    """What :func:`record_call_and_enqueue` stored, or found already stored."""

    call: Call
    message: Message | None
    #: False when the call had been recorded before: nothing was written this time.
    created: bool


async def get_call(session: AsyncSession, pbx: str, linkedid: str) -> Call | None:
    """The stored call with this Linkedid on this PBX, or None."""
    return await session.scalar(select(Call).where(Call.pbx == pbx, Call.linkedid == linkedid))


async def record_call_and_enqueue(
    session: AsyncSession,
    call: CallEnded,
    decision: CallDecision,
    message: NewMessage | None = None,
    *,
    caller_e164: str | None,
    now: datetime,
) -> Recorded:
    """Commit the call row and its outbox row in one transaction, before any network call.

    Idempotent per call (``pbx`` + ``linkedid``): recording the same call again writes
    nothing and returns the rows stored the first time, so a call never gets two texts.
    """
    row = await insert_row(session, Call, _values(call, decision, caller_e164, now), _CALL_KEY)
    if row is None:
        recorded = await _already_recorded(session, call, message)
    else:
        stored = None
        if message is not None:
            key = idempotency_key(call.pbx, call.linkedid, message.kind)
            stored = await insert_message(session, message, key=key, call_id=row.id, now=now)
        recorded = Recorded(call=row, message=stored, created=True)
    return recorded


async def record_calls(
    session: AsyncSession,
    calls: Sequence[tuple[CallEnded, CallDecision, str | None]],
    *,
    now: datetime,
) -> None:
    """Insert calls that get no text (with their decision and caller E.164) in one
    multi-row statement; calls already recorded are left as they are."""
    if not calls:
        return
    rows = [_values(call, decision, e164, now) for call, decision, e164 in calls]
    stmt = insert_for(dialect_of(session), Call).on_conflict_do_nothing(
        index_elements=list(_CALL_KEY)
    )
    connection = await session.connection()
    await connection.execute(stmt, rows)


def _values(
    call: CallEnded, decision: CallDecision, caller_e164: str | None, now: datetime
) -> dict[str, object]:
    return {
        "pbx": call.pbx,
        "linkedid": call.linkedid,
        "direction": call.direction,
        "outcome": call.outcome,
        "reason": call.reason,
        "caller_number": call.caller_number,
        "caller_e164": caller_e164,
        "caller_name": call.caller_name,
        "did": call.did,
        "queue": call.queue,
        "mailbox": call.mailbox,
        "answered_by": call.answered_by,
        "started_at": utc(call.started_at),
        "ended_at": utc(call.ended_at),
        "ring_seconds": call.ring_seconds,
        "disclosure_played": call.disclosure_played,
        "caller_verification": (
            None if call.caller_verification is None else str(call.caller_verification)
        ),
        "action": decision.action,
        "suppress_reason": decision.suppress_reason,
        "template": decision.template,
        "variant": decision.variant,
        "quiet_rule": None if decision.quiet_rule is None else decision.quiet_rule[:200],
        "created_at": now,
    }


async def _already_recorded(
    session: AsyncSession, call: CallEnded, message: NewMessage | None
) -> Recorded:
    existing = await get_call(session, call.pbx, call.linkedid)
    if existing is None:  # pragma: no cover - the conflicting row cannot vanish
        raise RuntimeError(f"call {call.pbx}:{call.linkedid} conflicted but cannot be read")
    key = idempotency_key(call.pbx, call.linkedid, message.kind if message else "textback")
    stored = await session.scalar(select(Message).where(Message.idempotency_key == key))
    return Recorded(call=existing, message=stored, created=False)
