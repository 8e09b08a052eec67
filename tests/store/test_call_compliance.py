"""The call record keeps the disclosure flag and the caller ID verification; the counts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.calls.model import CallEnded, Direction
from asterisk_textback.calls.verification import CallerVerification
from asterisk_textback.kpi.periods import Period
from asterisk_textback.policy.decision import Action, SuppressReason
from asterisk_textback.store.calls import (
    CallDecision,
    get_call,
    record_call_and_enqueue,
    record_calls,
)
from asterisk_textback.store.outbox import NewMessage
from asterisk_textback.store.verification import VerificationCounts, caller_verification_counts

SEND = CallDecision(Action.SEND, template="missed_voicemail", variant="a")
HELD = CallDecision(Action.SUPPRESS, suppress_reason=str(SuppressReason.CALLER_NOT_VERIFIED))


async def test_both_columns_are_written_with_the_text(
    session: AsyncSession,
    make_call: Callable[..., CallEnded],
    make_message: Callable[..., NewMessage],
    now: datetime,
) -> None:
    call = make_call(disclosure_played=True, caller_verification=CallerVerification.PASSED)
    await record_call_and_enqueue(
        session, call, SEND, make_message(), caller_e164="+12125550147", now=now
    )
    stored = await get_call(session, "default", call.linkedid)
    assert stored is not None
    assert (stored.disclosure_played, stored.caller_verification) == (True, "passed")


async def test_both_columns_are_written_for_calls_without_a_text(
    session: AsyncSession, make_call: Callable[..., CallEnded], now: datetime
) -> None:
    failed = make_call(linkedid="1.1", caller_verification=CallerVerification.FAILED)
    unreported = make_call(linkedid="1.2")
    await record_calls(session, [(failed, HELD, None), (unreported, HELD, None)], now=now)
    first = await get_call(session, "default", "1.1")
    second = await get_call(session, "default", "1.2")
    assert first is not None
    assert second is not None
    assert (first.caller_verification, first.disclosure_played) == ("failed", False)
    assert (second.caller_verification, second.disclosure_played) == (None, False)
    assert first.suppress_reason == "caller_not_verified"


async def test_counts_for_the_dashboard(
    session: AsyncSession, make_call: Callable[..., CallEnded], now: datetime
) -> None:
    p, f, n = (CallerVerification.PASSED, CallerVerification.FAILED, CallerVerification.NONE)
    old = now - timedelta(days=40)
    rows = [
        (make_call(linkedid="a", caller_verification=p), SEND),
        (make_call(linkedid="b", caller_verification=p), SEND),
        (make_call(linkedid="c", caller_verification=f), HELD),
        (make_call(linkedid="d", caller_verification=f, did="5550200"), HELD),
        (make_call(linkedid="e", caller_verification=n), HELD),  # "passed" mode refused it
        (make_call(linkedid="f"), SEND),
        (make_call(linkedid="g", caller_verification=f, ended=old), HELD),  # outside
        (make_call(linkedid="h", caller_verification=f, direction=Direction.INTERNAL), HELD),
    ]
    await record_calls(session, [(c, d, None) for c, d in rows], now=now)
    period = Period(now - timedelta(days=30), now + timedelta(minutes=1))
    got = await caller_verification_counts(session, period)
    assert got == VerificationCounts(passed=2, failed=2, none=1, unreported=1, suppressed=3)
    assert got.as_dict()["suppressed"] == 3
    on_did = await caller_verification_counts(session, period, "5550200")
    assert on_did == VerificationCounts(failed=1, suppressed=1)
