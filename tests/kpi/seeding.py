"""A random but reproducible database of calls, texts, replies, bookings and contacts, and
the KPIs recomputed from its raw rows in plain Python (the reference the fast path must match).

The reference is deliberately naive: it loads every row and follows the definitions of
DESIGN §8 (as ``store.kpi_queries`` stated them before per-call flags and hourly sums).
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.bookings.status import BookingStatus
from asterisk_textback.calls.model import Direction, Outcome, Reason
from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.kpi.periods import Period
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.policy.decision import Action
from asterisk_textback.store.hour_sums import NOT_SMS_CAPABLE
from asterisk_textback.store.models import (
    Booking,
    Call,
    Contact,
    Experiment,
    InboundMessage,
    Message,
)

START = datetime(2026, 10, 20, tzinfo=UTC)
SPAN = timedelta(days=30)
DIDS = ("5550100", "5550200")
MISSED = (Outcome.MISSED_VOICEMAIL, Outcome.MISSED_NO_VOICEMAIL)
NUMBERS = [f"+1212555{n:04d}" for n in range(60)]
BODIES = ("  ok  ", "Yes please call me back about the quote", "hi", "   ", "call me  ")


def _ms(rng: random.Random, span: timedelta) -> timedelta:
    return timedelta(milliseconds=rng.randrange(int(span.total_seconds() * 1000)))


async def seed(session: AsyncSession, rng: random.Random, calls: int = 300) -> None:
    """Insert ``calls`` calls and what followed them, then change some of it (two commits)."""
    for e164 in NUMBERS[:24]:
        session.add(
            Contact(
                e164=e164,
                opted_out=False,
                sms_capable=rng.choice((True, False, None)),
                texts_today=0,
                created_at=START,
                updated_at=START,
            )
        )
    experiments = [
        Experiment(name=name, variant=variant, created_at=START)
        for name in ("hook", "cta")
        for variant in ("control", "b")
    ]
    session.add_all(experiments)
    await session.flush()
    n_in = 0
    for n in range(calls):
        ended = START + _ms(rng, SPAN)
        outcome = rng.choice((*MISSED, Outcome.MISSED_NO_VOICEMAIL, Outcome.ANSWERED))
        e164 = None if rng.random() < 0.05 else rng.choice(NUMBERS)
        call = Call(
            pbx="default",
            linkedid=f"seed.{n}",
            direction=rng.choice(
                (Direction.INBOUND,) * 8 + (Direction.OUTBOUND, Direction.INTERNAL)
            ),
            outcome=outcome,
            reason=Reason.ANSWERED if outcome is Outcome.ANSWERED else Reason.NO_ANSWER,
            caller_number=e164 or "anonymous",
            caller_e164=e164,
            caller_name="Caller",
            did=rng.choice(DIDS),
            queue=None,
            mailbox=None,
            answered_by=None,
            started_at=ended - timedelta(seconds=20),
            ended_at=ended,
            ring_seconds=20.0,
            action=Action.SEND,
            suppress_reason=rng.choice((None, None, None, "anonymous", "landline", "cooldown")),
            created_at=ended,
        )
        session.add(call)
        await session.flush()
        if rng.random() > (0.75 if outcome in MISSED else 0.3):
            continue
        for kind in ("textback",) if rng.random() < 0.8 else ("textback", "forward"):
            status = rng.choice(
                (
                    MessageStatus.DELIVERED,
                    MessageStatus.SENT,
                    MessageStatus.QUEUED,
                    MessageStatus.FAILED,
                    MessageStatus.DELIVERED,
                )
            )
            sent = (
                None if status is MessageStatus.QUEUED else ended + _ms(rng, timedelta(minutes=2))
            )
            delivered_at = None
            if sent and (status is MessageStatus.DELIVERED) == (rng.random() < 0.9):
                delivered_at = sent + timedelta(seconds=2)
            experiment = rng.choice((None, *experiments))
            session.add(
                Message(
                    idempotency_key=f"seed:{n}:{kind}",
                    call_id=call.id,
                    experiment_id=None if experiment is None else experiment.id,
                    kind=kind,
                    to_e164=e164 or "",
                    sender="+15550100000",
                    body="Sorry we missed your call",
                    segments=rng.randint(1, 3),
                    encoding="gsm7",
                    template="missed",
                    variant=None if experiment is None else experiment.variant,
                    status=status,
                    send_at=ended,
                    next_attempt_at=ended,
                    attempts=1,
                    created_at=ended,
                    updated_at=ended,
                    sent_at=sent,
                    delivered_at=delivered_at,
                )
            )
        for _ in range(rng.choice((0, 0, 1, 1, 2))):
            n_in += 1
            at = ended + _ms(rng, timedelta(days=3))
            kind = rng.choice(
                (InboundKind.REPLY,) * 4 + (InboundKind.STOP,) * 2 + (InboundKind.HELP,)
            )
            session.add(
                InboundMessage(
                    provider="fake",
                    provider_message_id=f"in-{n_in}",
                    from_e164=e164 or "",
                    to_e164="+15550100000",
                    body=rng.choice(BODIES),
                    received_at=at,
                    kind=kind,
                    call_id=call.id,
                    created_at=at,
                )
            )
        for _ in range(rng.choice((0, 0, 0, 1, 2))):
            at = ended + _ms(rng, timedelta(days=5))
            session.add(
                Booking(
                    source="manual",
                    status=rng.choice((BookingStatus.BOOKED,) * 3 + (BookingStatus.CANCELLED,)),
                    value_minor=rng.choice((None, 10000, 25000, 99900)),
                    currency=rng.choice(("USD", "usd", None, "EUR")),
                    booked_at=at,
                    e164=e164,
                    call_id=call.id,
                    attributed_by="manual",
                    created_at=at,
                    updated_at=at,
                )
            )
    await session.commit()
    await _change_some(session, rng)


async def _change_some(session: AsyncSession, rng: random.Random) -> None:
    """Later events: delivery reports, cancellations, line lookups, a deleted and a moved reply."""
    later = START + SPAN
    ids = list(
        await session.scalars(select(Message.id).where(Message.status == MessageStatus.SENT))
    )
    for message_id in rng.sample(ids, min(len(ids), 15)):
        await session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(status=MessageStatus.DELIVERED, delivered_at=later)
        )
    bookings = list(await session.scalars(select(Booking.id)))
    for booking_id in rng.sample(bookings, min(len(bookings), 6)):
        await session.execute(
            update(Booking)
            .where(Booking.id == booking_id)
            .values(status=rng.choice(tuple(BookingStatus)))
        )
    for e164 in rng.sample(NUMBERS, 10):
        exists = await session.get(Contact, e164)
        if exists is None:
            session.add(
                Contact(
                    e164=e164,
                    opted_out=False,
                    sms_capable=False,
                    texts_today=0,
                    created_at=later,
                    updated_at=later,
                )
            )
        else:
            exists.sms_capable = rng.choice((True, False, None))
    inbound = list(await session.scalars(select(InboundMessage.id).order_by(InboundMessage.id)))
    if len(inbound) > 4:
        await session.execute(delete(InboundMessage).where(InboundMessage.id == inbound[0]))
        target = await session.scalar(select(Call.id).where(Call.outcome.in_(MISSED)).limit(1))
        await session.execute(
            update(InboundMessage).where(InboundMessage.id == inbound[1]).values(call_id=target)
        )
    await session.commit()


@dataclass
class Raw:
    """Every row, loaded once."""

    calls: list[Call]
    messages: list[Message]
    inbound: list[InboundMessage]
    bookings: list[Booking]
    no_sms: set[str]
    experiments: dict[int, Experiment]

    @classmethod
    async def load(cls, session: AsyncSession) -> Raw:
        """Read the whole database."""

        async def rows(model: Any) -> list[Any]:
            return list(await session.scalars(select(model)))

        contacts = await rows(Contact)
        return cls(
            await rows(Call),
            await rows(Message),
            await rows(InboundMessage),
            await rows(Booking),
            {c.e164 for c in contacts if c.sms_capable is False},
            {e.id: e for e in await rows(Experiment)},
        )

    def cohort(self, period: Period, did: str | None) -> list[Call]:
        """Inbound calls that ended in the period (to ``did``)."""
        return [
            c
            for c in self.calls
            if c.direction is Direction.INBOUND
            and period.start <= c.ended_at < period.end
            and (did is None or c.did == did)
        ]

    def _inbound(self, call: Call, kind: InboundKind) -> list[InboundMessage]:
        return [i for i in self.inbound if i.call_id == call.id and i.kind is kind]

    def _booked(self, call: Call) -> list[Booking]:
        return [
            b for b in self.bookings if b.call_id == call.id and b.status is BookingStatus.BOOKED
        ]

    def _sent(self, call: Call) -> list[Message]:
        return [m for m in self.messages if m.call_id == call.id and m.sent_at is not None]

    @staticmethod
    def _delivered(m: Message) -> bool:
        return m.delivered_at is not None or m.status is MessageStatus.DELIVERED

    def call_counts(self, period: Period, did: str | None, min_chars: int) -> tuple[int, ...]:
        """(inbound, missed, capable, replied, qualified, stopped)."""
        cohort = self.cohort(period, did)
        missed = [c for c in cohort if c.outcome in MISSED]
        capable = [
            c
            for c in missed
            if c.caller_e164 is not None
            and (c.suppress_reason is None or c.suppress_reason not in NOT_SMS_CAPABLE)
            and c.caller_e164 not in self.no_sms
        ]
        replied = [c for c in missed if self._inbound(c, InboundKind.REPLY)]
        qualified = [
            c
            for c in replied
            if self._booked(c)
            or any(len(i.body.strip(" ")) >= min_chars for i in self._inbound(c, InboundKind.REPLY))
        ]
        stopped = [c for c in missed if self._inbound(c, InboundKind.STOP)]
        return len(cohort), len(missed), len(capable), len(replied), len(qualified), len(stopped)

    def text_counts(self, period: Period, did: str | None) -> tuple[int, int, int]:
        """(text-backs sent for missed calls, of them delivered, segments of all sent)."""
        sent = delivered = segments = 0
        for call in self.cohort(period, did):
            for m in self._sent(call):
                segments += m.segments
                if m.kind == "textback" and call.outcome in MISSED:
                    sent += 1
                    delivered += self._delivered(m)
        return sent, delivered, segments

    def booking_totals(self, period: Period, did: str | None, currency: str) -> tuple[int, int]:
        """(standing bookings of missed calls, their value in ``currency`` or none)."""
        count = value = 0
        for call in self.cohort(period, did):
            if call.outcome in MISSED:
                for b in self._booked(call):
                    count += 1
                    if b.currency is None or b.currency.upper() == currency:
                        value += b.value_minor or 0
        return count, value

    def percentiles(self, period: Period, did: str | None) -> list[float | None]:
        """Nearest-rank p50 and p90 of the seconds to the first text-back."""
        delays = []
        for call in self.cohort(period, did):
            sent = [m.sent_at for m in self._sent(call) if m.kind == "textback" and m.sent_at]
            if call.outcome in MISSED and sent:
                delays.append(max((min(sent) - call.ended_at).total_seconds(), 0.0))
        delays.sort()
        if not delays:
            return [None, None]
        return [delays[max(math.ceil(s * len(delays)), 1) - 1] for s in (0.5, 0.9)]

    def variants(self, period: Period, did: str | None) -> list[tuple[Any, ...]]:
        """Per (experiment, variant): sent, delivered, and delivered that got a reply,
        a booking, a STOP."""
        counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 5)
        for call in self.cohort(period, did):
            if call.outcome not in MISSED:
                continue
            for m in self._sent(call):
                if m.kind != "textback" or m.experiment_id is None:
                    continue
                e = self.experiments[m.experiment_id]
                row = counts[(e.name, e.variant)]
                d = self._delivered(m)
                row[0] += 1
                row[1] += d
                row[2] += d and bool(self._inbound(call, InboundKind.REPLY))
                row[3] += d and bool(self._booked(call))
                row[4] += d and bool(self._inbound(call, InboundKind.STOP))
        return [(*key, *row) for key, row in sorted(counts.items())]

    def daily(
        self, period: Period, did: str | None, currency: str, days: list[date], zone: tzinfo
    ) -> dict[str, list[Any]]:
        """The charted measures per local day."""
        out: dict[str, list[Any]] = {
            k: [0] * len(days)
            for k in ("inbound", "missed", "sent", "delivered", "replies", "bookings", "revenue")
        }
        where = {d: n for n, d in enumerate(days)}
        for call in self.cohort(period, did):
            n = where[call.ended_at.astimezone(zone).date()]
            missed = call.outcome in MISSED
            out["inbound"][n] += 1
            out["missed"][n] += missed
            if not missed:
                continue
            out["replies"][n] += bool(self._inbound(call, InboundKind.REPLY))
            for m in self._sent(call):
                if m.kind == "textback":
                    out["sent"][n] += 1
                    out["delivered"][n] += self._delivered(m)
            for b in self._booked(call):
                out["bookings"][n] += 1
                if b.currency is None or b.currency.upper() == currency:
                    out["revenue"][n] += b.value_minor or 0
        out["revenue"] = [v / 100 for v in out["revenue"]]
        return out
