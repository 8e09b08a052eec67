"""Caller ID verification counts for the dashboard: how callers' IDs fared, and the texts held.

Inbound calls that ended in the period, by ``calls.caller_verification`` (``passed``,
``failed``, ``none``, or NULL: no hook report), and how many texts the policy refused with
``caller_not_verified`` (``suppression.caller_verification``; ``policy.decide``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import ColumnElement, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.calls.model import Direction
from asterisk_textback.calls.verification import CallerVerification
from asterisk_textback.kpi.periods import Period
from asterisk_textback.policy.decision import SuppressReason
from asterisk_textback.store.models import Call

__all__ = ["VerificationCounts", "caller_verification_counts", "unverified_held"]


@dataclass(frozen=True, slots=True)
class VerificationCounts:
    """Inbound calls of a period by caller ID verification, and the texts it held back."""

    passed: int = 0
    failed: int = 0
    none: int = 0
    #: Calls without a hook report (hook not installed, or older than version 2).
    unreported: int = 0
    #: Texts not sent because the caller ID failed (or, in ``passed`` mode, lacked)
    #: verification: reason ``caller_not_verified``.
    suppressed: int = 0

    def as_dict(self) -> dict[str, int]:
        """A JSON-ready dict (the API's ``caller_verification`` object)."""
        return asdict(self)


async def caller_verification_counts(
    session: AsyncSession, period: Period, did: str | None = None
) -> VerificationCounts:
    """Counts for inbound calls that ended in ``period`` (on ``did``, when given)."""
    where = [
        Call.direction == Direction.INBOUND,
        Call.ended_at >= period.start,
        Call.ended_at < period.end,
    ]
    if did is not None:
        where.append(Call.did == did)
    held = func.sum(
        case((Call.suppress_reason == str(SuppressReason.CALLER_NOT_VERIFIED), 1), else_=0)
    )
    rows = await session.execute(
        select(Call.caller_verification, func.count(), held)
        .where(*where)
        .group_by(Call.caller_verification)
    )
    counts: dict[str, int] = {}
    suppressed = 0
    for value, count, refused in rows.all():
        key = value if value in set(CallerVerification) else "unreported"
        counts[key] = counts.get(key, 0) + int(count)
        suppressed += int(refused or 0)
    return VerificationCounts(
        passed=counts.get("passed", 0),
        failed=counts.get("failed", 0),
        none=counts.get("none", 0),
        unreported=counts.get("unreported", 0),
        suppressed=suppressed,
    )


async def unverified_held(session: AsyncSession, period: Period, did: str | None = None) -> int:
    """Texts held back in ``period`` because the caller ID was not verified (the Overview's).

    Read from the partial index ``ix_calls_unverified_held`` alone, so a year of calls costs
    no more than the few held ones; the full breakdown is :func:`caller_verification_counts`.
    """
    # A literal, not a bound parameter: SQLite only uses a partial index whose WHERE it can
    # prove from the query's own text.
    held: ColumnElement[str] = literal_column(f"'{SuppressReason.CALLER_NOT_VERIFIED.value}'")
    where = [
        Call.suppress_reason == held,
        Call.ended_at >= period.start,
        Call.ended_at < period.end,
    ]
    if did is not None:
        where.append(Call.did == did)
    return int(await session.scalar(select(func.count()).select_from(Call).where(*where)) or 0)
