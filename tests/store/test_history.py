"""Reading a caller's history for the policy from calls and messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.policy import parse_caller
from asterisk_textback.policy.decision import Action as DecisionAction
from asterisk_textback.policy.history import ContactHistory, RateSnapshot
from asterisk_textback.policy.settings import SuppressionSettings
from asterisk_textback.store import contacts
from asterisk_textback.store.calls import CallDecision, record_call_and_enqueue
from asterisk_textback.store.history import contact_history, history_for_policy, queued_since
from asterisk_textback.store.outbox import NewMessage, enqueue

NUMBER = "+12125550147"


async def test_an_unknown_caller_has_no_history(session: AsyncSession, now: datetime) -> None:
    history = await contact_history(session, NUMBER, rate_prefix="+1212", now=now)
    assert history == ContactHistory()


async def test_history_combines_contact_texts_calls_and_rates(
    session: AsyncSession,
    make_call: Callable[..., CallEnded],
    make_message: Callable[..., NewMessage],
    now: datetime,
) -> None:
    send = CallDecision(DecisionAction.SEND)
    suppress = CallDecision(DecisionAction.SUPPRESS, suppress_reason="answered")
    answered = make_call(
        linkedid="a",
        outcome=Outcome.ANSWERED,
        reason=Reason.ANSWERED,
        ended=now - timedelta(hours=3),
    )
    callback = make_call(linkedid="b", direction=Direction.OUTBOUND, ended=now - timedelta(hours=2))
    missed = make_call(linkedid="c", ended=now - timedelta(minutes=1))
    for call, decision in ((answered, suppress), (callback, suppress)):
        await record_call_and_enqueue(session, call, decision, None, caller_e164=NUMBER, now=now)
    text = make_message(send_at=now - timedelta(seconds=30))
    await record_call_and_enqueue(session, missed, send, text, caller_e164=NUMBER, now=now)
    # Texts to other numbers count towards the rate caps only.
    await enqueue(session, make_message(to_e164="+12125550000"), key="x", now=now)
    await enqueue(session, make_message(to_e164="+447700900123"), key="y", now=now)
    audit = make_message(to_e164="+12125550001", status=MessageStatus.SUPPRESSED)
    await enqueue(session, audit, key="z", now=now)
    old = make_message(to_e164="+12125550002")
    await enqueue(session, old, key="old", now=now - timedelta(minutes=5))
    await contacts.mark_no_sms(session, NUMBER, now=now, line_type="voip")

    history = await contact_history(session, NUMBER, rate_prefix="+1212", now=now)
    assert history == ContactHistory(
        opted_out=False,
        sms_capable=False,
        last_texted_at=(now - timedelta(seconds=30)).timestamp(),
        texts_last_24h=1,
        last_handled_at=(now - timedelta(hours=2)).timestamp(),
        rates=RateSnapshot(global_last_minute=3, prefix_last_minute=2),
    )


async def test_prefix_wildcards_are_escaped(
    session: AsyncSession, make_message: Callable[..., NewMessage], now: datetime
) -> None:
    await enqueue(session, make_message(to_e164="+12125550000"), key="x", now=now)
    assert await queued_since(session, now, "+1%") == 0
    assert await queued_since(session, now, "+1") == 1


async def test_rate_counts_stop_at_the_cap_and_are_skipped_when_off(
    session: AsyncSession, make_message: Callable[..., NewMessage], now: datetime
) -> None:
    """Only "is the cap reached" matters: the last minute's texts are counted up to it."""
    for n in range(5):
        await enqueue(session, make_message(to_e164=f"+1212555000{n}"), key=f"x{n}", now=now)
    await enqueue(session, make_message(to_e164="+447700900123"), key="uk", now=now)

    async def rates(global_cap: int | None, prefix_cap: int | None) -> RateSnapshot:
        history = await contact_history(
            session,
            NUMBER,
            rate_prefix="+1212",
            now=now,
            global_cap=global_cap,
            prefix_cap=prefix_cap,
        )
        return history.rates

    assert await rates(None, None) == RateSnapshot(global_last_minute=6, prefix_last_minute=5)
    assert await rates(3, 2) == RateSnapshot(global_last_minute=3, prefix_last_minute=2)
    assert await rates(60, 10) == RateSnapshot(global_last_minute=6, prefix_last_minute=5)
    assert await rates(0, 0) == RateSnapshot(global_last_minute=0, prefix_last_minute=0)


async def test_history_for_policy_reads_with_the_settings_prefix_and_caps(
    session: AsyncSession, make_message: Callable[..., NewMessage], now: datetime
) -> None:
    for n in range(3):
        await enqueue(session, make_message(to_e164=f"+1212555000{n}"), key=f"x{n}", now=now)
    await enqueue(session, make_message(to_e164="+13105550000"), key="la", now=now)
    suppression = SuppressionSettings(
        global_rate_per_minute=2, per_prefix_rate_per_minute=0, rate_prefix_digits=3
    )
    number = parse_caller(NUMBER, "US")
    history = await history_for_policy(session, number, suppression, now=now)
    assert history.rates == RateSnapshot(global_last_minute=2, prefix_last_minute=0)
    counted = SuppressionSettings(
        global_rate_per_minute=10, per_prefix_rate_per_minute=10, rate_prefix_digits=3
    )
    history = await history_for_policy(session, number, counted, now=now)
    assert history.rates == RateSnapshot(global_last_minute=4, prefix_last_minute=3)
    with pytest.raises(ValueError, match="'anonymous' is not a valid number"):
        await history_for_policy(session, parse_caller("anonymous", "US"), counted, now=now)
