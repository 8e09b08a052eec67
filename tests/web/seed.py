"""Seed a database through the real store functions: calls, texts, reports, replies, bookings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason
from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.policy.decision import Action as DecisionAction
from asterisk_textback.sms.base import DeliveryReport, DeliveryState
from asterisk_textback.store.bookings import mark_booked
from asterisk_textback.store.calls import CallDecision, record_call_and_enqueue
from asterisk_textback.store.delivery import apply_report
from asterisk_textback.store.inbound import NewInbound, record_inbound
from asterisk_textback.store.outbox import NewMessage, claim_due
from asterisk_textback.store.results import mark_failed_permanent, mark_sent
from asterisk_textback.store.uow import unit_of_work

T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=2)
DID = "5550100"
OTHER_DID = "5550199"
XSS_NAME = "<img src=x onerror=alert(1)>"
OUR_NUMBER = "+15550100000"


@dataclass(frozen=True, slots=True)
class Seeded:
    """Ids of the interesting rows."""

    alice_call: int
    xss_call: int
    answered_call: int
    anonymous_call: int
    failed_call: int
    total_calls: int


def _ended(n: int, outcome: Outcome, number: str, name: str, did: str, at: datetime) -> CallEnded:
    missed = outcome is not Outcome.ANSWERED
    return CallEnded(
        linkedid=f"1800000000.{n}",
        direction=Direction.INBOUND,
        outcome=outcome,
        reason=Reason.NO_ANSWER if missed else Reason.ANSWERED,
        caller_number=number,
        caller_name=name,
        did=did,
        queue=None,
        mailbox=None,
        started_at=(at - timedelta(seconds=25)).timestamp(),
        ended_at=at.timestamp(),
        ring_seconds=25.0,
    )


def _text(to: str, at: datetime, variant: str | None, experiment: str) -> NewMessage:
    return NewMessage(
        to_e164=to,
        sender=OUR_NUMBER,
        body="Sorry we missed your call - reply here and we will help.",
        segments=1,
        encoding="gsm7",
        send_at=at,
        template="missed",
        variant=variant,
        experiment=None if variant is None else experiment,
    )


async def add_call(
    db: AsyncSession,
    n: int,
    outcome: Outcome,
    number: str | None,
    name: str,
    *,
    did: str = DID,
    at: datetime = T0,
    variant: str | None = None,
    suppress: str | None = None,
    experiment: str = "opening",
) -> int:
    """Record one inbound call ending ``at`` (texted unless suppressed); its id."""
    text = None if suppress or number is None else _text(number, at, variant, experiment)
    decision = CallDecision(
        DecisionAction.SUPPRESS if text is None else DecisionAction.SEND,
        suppress_reason=suppress,
        template=None if text is None else "missed",
        variant=variant,
    )
    recorded = await record_call_and_enqueue(
        db,
        _ended(n, outcome, number or "anonymous", name, did, at),
        decision,
        text,
        caller_e164=number,
        now=at,
    )
    return recorded.call.id


async def _reply(db: AsyncSession, n: int, number: str, body: str, kind: InboundKind) -> None:
    new = NewInbound("fake", f"in-{n}", number, OUR_NUMBER, body, T0 + timedelta(minutes=5), kind)
    await record_inbound(db, new, now=T0 + timedelta(minutes=5))


async def seed(
    factory: async_sessionmaker[AsyncSession], extra_answered: int = 7, *, reports: bool = True
) -> Seeded:
    """Five interesting calls plus ``extra_answered`` answered ones, a day apart.

    ``reports=False``: no delivery report arrives (the ``log`` provider, no status webhook).
    """
    async with unit_of_work(factory) as db:
        alice = await add_call(
            db, 1, Outcome.MISSED_VOICEMAIL, "+12125550101", "Alice Example", variant="control"
        )
        xss = await add_call(
            db, 2, Outcome.MISSED_NO_VOICEMAIL, "+12125550102", XSS_NAME, variant="b"
        )
        answered = await add_call(
            db, 3, Outcome.ANSWERED, "+12125550103", "Bob Answered", suppress="answered"
        )
        anonymous = await add_call(
            db, 4, Outcome.MISSED_NO_VOICEMAIL, None, "", did=OTHER_DID, suppress="anonymous"
        )
        failed = await add_call(db, 5, Outcome.MISSED_NO_VOICEMAIL, "+12125550105", "Carol Fail")
        for k in range(extra_answered):
            at = T0 - timedelta(days=1, minutes=k)
            await add_call(
                db,
                100 + k,
                Outcome.ANSWERED,
                f"+1212555020{k}",
                f"Extra {k}",
                at=at,
                suppress="answered",
            )
    claimed = await claim_due(factory, "seed", T0 + timedelta(seconds=1), 10)
    async with unit_of_work(factory) as db:
        for message in claimed:
            sent_at = T0 + timedelta(seconds=1.5)
            if message.to_e164 == "+12125550105":
                await mark_failed_permanent(
                    db, message.id, now=sent_at, error="21211 invalid number"
                )
                continue
            await mark_sent(
                db, message.id, now=sent_at, provider="fake", provider_message_id=f"pm-{message.id}"
            )
            if reports:
                report = DeliveryReport("fake", f"pm-{message.id}", DeliveryState.DELIVERED)
                await apply_report(db, report, now=sent_at + timedelta(seconds=3))
        await _reply(
            db, 1, "+12125550101", "Yes please call me back tomorrow morning", InboundKind.REPLY
        )
        await _reply(db, 2, "+12125550102", "STOP", InboundKind.STOP)
        await mark_booked(db, alice, value_minor=15000, currency="USD", now=T0 + timedelta(hours=2))
        await db.commit()
    return Seeded(alice, xss, answered, anonymous, failed, 5 + extra_answered)
