"""Delivery reports: move sent texts to ``delivered``/``failed`` by the provider's id.

A report can beat the dispatcher's ``mark_sent`` commit (providers call back within
milliseconds, and the dispatcher records a whole batch at once), so a report for an id we do
not know yet is parked in ``pending_delivery_reports`` and applied by :func:`apply_pending`,
which the inbox's sweep runs; parked reports older than ``max_age`` are dropped. Reports are
idempotent: only a real status change acts on the contact (``number`` → no-SMS, ``opted_out``
→ opted out), so a provider's retry never repeats it. ``undelivered`` is stored as
``failed`` (the message status has no separate value) with the state in ``last_error``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.calls.utc import utc
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.sms.base import DeliveryReport, DeliveryState, FailureKind
from asterisk_textback.store._dialect import insert

# One transaction for the status change and its effect on the contact: a crash between two
# commits would lose the effect for good, since the retried report is then a duplicate.
from asterisk_textback.store.contacts import _upsert as upsert_contact
from asterisk_textback.store.contacts import opt_out
from asterisk_textback.store.models import Message, PendingDeliveryReport

__all__ = ["DEFAULT_PENDING_MAX_AGE", "DeliveryOutcome", "apply_pending", "apply_report"]

#: How long a report for an unknown provider id waits for its message.
DEFAULT_PENDING_MAX_AGE = timedelta(hours=24)


class DeliveryOutcome(StrEnum):
    """What one delivery report did."""

    APPLIED = "applied"  # the message changed status
    DUPLICATE = "duplicate"  # already in that (or a final) status: nothing to do
    PENDING = "pending"  # no message with that id yet: parked for apply_pending
    IGNORED = "ignored"  # an intermediate state (accepted/sent): nothing to record


_FAILED_STATES = (DeliveryState.FAILED, DeliveryState.UNDELIVERED)


def _error(report: DeliveryReport) -> str:
    parts = [report.state.value, report.error_code or "", report.error_detail or ""]
    return " ".join(p for p in parts if p)[:1000]


async def _change(session: AsyncSession, report: DeliveryReport, now: datetime) -> bool | None:
    """Apply ``report``: True changed, False known but unchanged, None unknown."""
    by_id = (
        Message.provider == report.provider,
        Message.provider_message_id == report.provider_message_id,
    )
    values: dict[str, Any]
    allowed: tuple[MessageStatus, ...]
    if report.state is DeliveryState.DELIVERED:
        at = now if report.at is None else utc(report.at)
        # A late "delivered" after "failed" wins: carriers do report that way round.
        allowed = (MessageStatus.SENT, MessageStatus.UNKNOWN, MessageStatus.FAILED)
        values = {"status": MessageStatus.DELIVERED, "delivered_at": at, "last_error": None}
    else:
        allowed = (MessageStatus.SENT, MessageStatus.UNKNOWN)
        values = {"status": MessageStatus.FAILED, "last_error": _error(report)}
    changed = (
        await session.execute(
            update(Message)
            .where(*by_id, Message.status.in_(allowed))
            .values(updated_at=now, **values)
            .returning(Message.to_e164)
        )
    ).all()
    if not changed:
        return False if await session.scalar(select(exists().where(*by_id))) else None
    if report.state in _FAILED_STATES:
        for (to_e164,) in changed:
            await _contact_effect(session, report, to_e164, now)
    return True


async def _contact_effect(
    session: AsyncSession, report: DeliveryReport, e164: str, now: datetime
) -> None:
    if report.failure is FailureKind.NUMBER:
        changes = {"sms_capable": False, "line_type": "not_sms_capable", "line_checked_at": now}
        await upsert_contact(session, e164, now, changes)
    elif report.failure is FailureKind.OPTED_OUT:
        source = f"provider:{report.provider}"[:64]
        await opt_out(session, e164, now=now, source=source)


async def apply_report(
    session: AsyncSession, report: DeliveryReport, *, now: datetime
) -> DeliveryOutcome:
    """Record one delivery report (idempotent)."""
    if report.state not in (DeliveryState.DELIVERED, *_FAILED_STATES):
        return DeliveryOutcome.IGNORED
    changed = await _change(session, report, now)
    if changed is None:
        await _park(session, report, now)
        return DeliveryOutcome.PENDING
    return DeliveryOutcome.APPLIED if changed else DeliveryOutcome.DUPLICATE


async def _park(session: AsyncSession, report: DeliveryReport, now: datetime) -> None:
    at = None if report.at is None else utc(report.at)
    stmt = (
        insert(session, PendingDeliveryReport)
        .values(
            provider=report.provider,
            provider_message_id=report.provider_message_id,
            state=report.state.value,
            error_code=None if report.error_code is None else report.error_code[:64],
            error_detail=report.error_detail,
            failure=None if report.failure is None else report.failure.value,
            reported_at=at,
            received_at=now,
        )
        .on_conflict_do_nothing(
            index_elements=[
                PendingDeliveryReport.provider,
                PendingDeliveryReport.provider_message_id,
                PendingDeliveryReport.state,
            ]
        )
    )
    await session.execute(stmt)


def _report(row: PendingDeliveryReport) -> DeliveryReport:
    return DeliveryReport(
        provider=row.provider,
        provider_message_id=row.provider_message_id,
        state=DeliveryState(row.state),
        error_code=row.error_code,
        error_detail=row.error_detail,
        failure=None if row.failure is None else FailureKind(row.failure),
        at=None if row.reported_at is None else row.reported_at.timestamp(),
    )


async def apply_pending(
    session: AsyncSession,
    *,
    now: datetime,
    max_age: timedelta = DEFAULT_PENDING_MAX_AGE,
    limit: int = 500,
) -> tuple[int, int]:
    """Apply parked reports whose message is now known; drop stale ones.

    Returns (reports resolved, stale reports dropped).
    """
    matched = exists().where(
        Message.provider == PendingDeliveryReport.provider,
        Message.provider_message_id == PendingDeliveryReport.provider_message_id,
    )
    rows = (
        await session.scalars(
            select(PendingDeliveryReport)
            .where(matched)
            .order_by(PendingDeliveryReport.id)
            .limit(limit)
        )
    ).all()
    for row in rows:
        await _change(session, _report(row), now)
    if rows:
        ids = [row.id for row in rows]
        await session.execute(
            delete(PendingDeliveryReport).where(PendingDeliveryReport.id.in_(ids))
        )
    stale = (
        await session.scalars(
            delete(PendingDeliveryReport)
            .where(PendingDeliveryReport.received_at < now - max_age)
            .returning(PendingDeliveryReport.id)
        )
    ).all()
    return len(rows), len(stale)
