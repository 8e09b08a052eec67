"""The typed ORM models: calls, messages (outbox + history), contacts, experiments, inbound.

Every timestamp is timezone-aware UTC in Python. PostgreSQL stores ``timestamptz``; SQLite
stores naive UTC text, which sorts and compares correctly because the format is fixed.
Enum-valued columns are plain strings in the database (no native enum types), so adding a
value to a Python enum never needs a migration; only ``messages.status`` carries a CHECK.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, configure_mappers, mapped_column

from asterisk_textback.bookings.status import BookingStatus
from asterisk_textback.calls.model import Direction, Outcome, Reason
from asterisk_textback.crm.status import CrmEventStatus
from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.policy.decision import Action as DecisionAction
from asterisk_textback.store.base import Base
from asterisk_textback.store.base import BigId as _BigId
from asterisk_textback.store.consent_events import ConsentEvent
from asterisk_textback.store.hourly import CallHour
from asterisk_textback.store.types import UTCDateTime, string_enum

__all__ = [
    "Base",
    "Call",
    "CallHour",
    "ConsentEvent",
    "Contact",
    "Experiment",
    "InboundMessage",
    "Message",
    "PendingDeliveryReport",
    "UTCDateTime",
]


class Call(Base):
    """One finished call (every ``CallEnded``, texted or not) and the policy's decision."""

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("pbx", "linkedid", name="uq_calls_pbx_linkedid"),
        # "Was this number handled after that call?" and per-caller history.
        Index("ix_calls_caller_e164_ended_at", "caller_e164", "ended_at"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    pbx: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str] = mapped_column(String(64))
    direction: Mapped[Direction] = mapped_column(string_enum(Direction))
    outcome: Mapped[Outcome] = mapped_column(string_enum(Outcome))
    reason: Mapped[Reason] = mapped_column(string_enum(Reason))
    caller_number: Mapped[str] = mapped_column(String(255))
    #: The outside party in E.164: the caller of an inbound call, the number dialled by an
    #: outbound one (when the app knows it); None when it is not a valid number.
    caller_e164: Mapped[str | None] = mapped_column(String(16))
    caller_name: Mapped[str] = mapped_column(String(255))
    did: Mapped[str] = mapped_column(String(255))
    queue: Mapped[str | None] = mapped_column(String(255))
    mailbox: Mapped[str | None] = mapped_column(String(255))
    answered_by: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    ring_seconds: Mapped[float] = mapped_column(Float)
    action: Mapped[DecisionAction] = mapped_column(string_enum(DecisionAction, 16))
    suppress_reason: Mapped[str | None] = mapped_column(String(64))
    template: Mapped[str | None] = mapped_column(String(64))
    variant: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    #: The dialplan's spoken text-back disclosure played to the caller (the hook says so).
    disclosure_played: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: Caller ID verification (STIR/SHAKEN or the carrier's verstat): ``passed``,
    #: ``failed``, ``none`` (not verified); None when the hook did not report it.
    caller_verification: Mapped[str | None] = mapped_column(String(16))
    #: The quiet-hours rules the send time obeyed (``policy.Decision.quiet_rule``).
    quiet_rule: Mapped[str | None] = mapped_column(String(200))
    # KPI flags, kept by the triggers of migration 0007 (see ``store.hourly``).
    first_reply_at: Mapped[datetime | None]
    #: The longest reply's length, spaces trimmed (the "qualified" test).
    reply_chars: Mapped[int | None] = mapped_column(Integer)
    opted_out_at: Mapped[datetime | None]  # the first STOP linked to the call
    booked_at: Mapped[datetime | None]  # the first standing booking attributed to it
    texted_at: Mapped[datetime | None]  # its first text-back sent
    #: Seconds from the end of a missed inbound call to its first text-back.
    response_seconds: Mapped[float | None] = mapped_column(Float)
    texts_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    texts_delivered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    segments_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The caller's number is known not to receive texts (``contacts.sms_capable`` False).
    no_sms: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Message(Base):
    """An outbound text: the outbox row before sending and its history afterwards."""

    __tablename__ = "messages"
    __table_args__ = (
        # The dispatcher's claim query: status = 'queued' AND next_attempt_at <= now.
        Index("ix_messages_status_next_attempt_at", "status", "next_attempt_at"),
        # Cooldown and daily-cap lookups: texts to one number by time.
        Index("ix_messages_to_e164_sent_at", "to_e164", "sent_at"),
        # Rate caps (SMS-pumping defence) count texts queued in the last minute.
        Index("ix_messages_created_at", "created_at"),
        # Rate caps reserve send slots: the text-backs due around a send time (store.caps).
        Index("ix_messages_kind_send_at", "kind", "send_at"),
        # Delivery webhooks find the row by the provider's id.
        Index("ix_messages_provider_message_id", "provider", "provider_message_id"),
        # A/B counts read only the texts of an experiment.
        Index("ix_messages_experiment_id", "experiment_id"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    call_id: Mapped[int | None] = mapped_column(
        _BigId, ForeignKey("calls.id", ondelete="SET NULL"), index=True
    )
    experiment_id: Mapped[int | None] = mapped_column(
        _BigId, ForeignKey("experiments.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(32))
    to_e164: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    segments: Mapped[int] = mapped_column(Integer)
    encoding: Mapped[str] = mapped_column(String(16))
    template: Mapped[str | None] = mapped_column(String(64))
    variant: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[MessageStatus] = mapped_column(
        Enum(
            MessageStatus,
            name="message_status",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda members: [m.value for m in members],
            validate_strings=True,
        )
    )
    send_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    #: Set (and committed) just before the request goes to the provider: a crash before it
    #: means the text never left, so recovery can queue it again; after it, it may have.
    sending_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    #: Who wrote a staff reply: the dashboard user's name, or "api"; None for automatic texts.
    sent_by: Mapped[str | None] = mapped_column(String(64))


class Contact(Base):
    """What we know about one phone number: opt-out, line type, texting history."""

    __tablename__ = "contacts"

    e164: Mapped[str] = mapped_column(String(16), primary_key=True)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[datetime | None]
    opt_out_source: Mapped[str | None] = mapped_column(String(64))
    #: None: never checked; False: landline or otherwise unable to receive texts.
    sms_capable: Mapped[bool | None] = mapped_column(Boolean)
    line_type: Mapped[str | None] = mapped_column(String(32))
    line_checked_at: Mapped[datetime | None]
    last_texted_at: Mapped[datetime | None]
    #: Texts sent on ``texts_day`` (a UTC date); reset on the first text of a new day.
    texts_today: Mapped[int] = mapped_column(Integer, default=0)
    texts_day: Mapped[date | None]
    first_contact_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    #: When staff last opened this caller's conversation (later replies make it unread).
    conversation_seen_at: Mapped[datetime | None]
    #: When staff marked it handled (a later reply reopens it).
    conversation_handled_at: Mapped[datetime | None]


class Experiment(Base):
    """One variant of an A/B test; its texts are the messages whose ``experiment_id`` is it."""

    __tablename__ = "experiments"
    __table_args__ = (UniqueConstraint("name", "variant", name="uq_experiments_name_variant"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    variant: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class InboundMessage(Base):
    """A text a caller sent us, linked to the missed call it answers, and its forwarding."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        # Provider retries carry the same id: they are stored (and acted on) once.
        UniqueConstraint(
            "provider", "provider_message_id", name="uq_inbound_messages_provider_message_id"
        ),
        Index("ix_inbound_messages_from_e164_received_at", "from_e164", "received_at"),
        # The forwarding sweep: replies not yet forwarded.
        Index("ix_inbound_messages_forwarded_at", "forwarded_at"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_message_id: Mapped[str] = mapped_column(String(128))
    from_e164: Mapped[str] = mapped_column(String(16))
    to_e164: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    kind: Mapped[InboundKind] = mapped_column(string_enum(InboundKind, 16))
    #: The opt-out/in keyword or phrase that matched, for the audit trail.
    keyword: Mapped[str | None] = mapped_column(String(64))
    #: The missed call this answers: the latest call texted to this number, within a window.
    call_id: Mapped[int | None] = mapped_column(
        _BigId, ForeignKey("calls.id", ondelete="SET NULL"), index=True
    )
    #: Set once every forwarding channel succeeded; NULL means the sweep retries it.
    forwarded_at: Mapped[datetime | None]
    #: Comma-separated channels already done, so a retry never repeats a delivered one.
    forward_done: Mapped[str] = mapped_column(String(64), default="")
    forward_attempts: Mapped[int] = mapped_column(Integer, default=0)
    forward_error: Mapped[str | None] = mapped_column(Text)
    #: Not before this time: a lease while a forward is in flight, then the retry backoff.
    forward_next_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class PendingDeliveryReport(Base):
    """A delivery report that arrived before its message's provider id was committed."""

    __tablename__ = "pending_delivery_reports"
    __table_args__ = (
        UniqueConstraint(
            "provider",
            "provider_message_id",
            "state",
            name="uq_pending_delivery_reports_provider_message_id_state",
        ),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_message_id: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_detail: Mapped[str | None] = mapped_column(Text)
    failure: Mapped[str | None] = mapped_column(String(16))
    reported_at: Mapped[datetime | None]
    received_at: Mapped[datetime]


class Booking(Base):
    """A conversion (appointment or sale), attributed to the missed call whose text led to it."""

    __tablename__ = "bookings"
    __table_args__ = (
        # Webhook retries and reschedules carry the vendor's id: one row per (source, id).
        UniqueConstraint("source", "external_id", name="uq_bookings_source_external_id"),
        Index("ix_bookings_e164_booked_at", "e164", "booked_at"),
        # Booking totals per booked call, read from the index alone.
        Index("ix_bookings_call_totals", "call_id", "status", "currency", "value_minor"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    #: Where it came from: "webhook", "calcom", "calendly" or "manual".
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[BookingStatus] = mapped_column(string_enum(BookingStatus, 16))
    #: Value in minor units (cents), so sums are exact on every backend; None when unknown.
    value_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    booked_at: Mapped[datetime]
    #: When the appointment itself is, if the booking has one.
    starts_at: Mapped[datetime | None]
    e164: Mapped[str | None] = mapped_column(String(16))
    #: The tracking token from the booking link (``?tb=...``), when it carried one.
    token: Mapped[str | None] = mapped_column(String(32))
    call_id: Mapped[int | None] = mapped_column(
        _BigId, ForeignKey("calls.id", ondelete="SET NULL"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(
        _BigId, ForeignKey("messages.id", ondelete="SET NULL")
    )
    #: How ``call_id`` was found: "token", "phone" or "manual"; None when unattributed.
    attributed_by: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


#: KPI periods select calls by end time (and the overview filters by it on large tables).
Index("ix_calls_ended_at", Call.ended_at)
# Partial indexes over the few calls a KPI that depends on a setting reads, and the delays in
# order (the percentiles walk it) and by time (short periods sort theirs).
_replied = Call.first_reply_at.is_not(None)
Index("ix_calls_replied", Call.ended_at, Call.did, Call.direction, Call.outcome,
      Call.reply_chars, Call.booked_at, Call.first_reply_at,
      sqlite_where=_replied, postgresql_where=_replied)  # fmt: skip
_booked = Call.booked_at.is_not(None)
Index("ix_calls_booked", Call.ended_at, Call.did, Call.direction, Call.outcome, Call.booked_at,
      sqlite_where=_booked, postgresql_where=_booked)  # fmt: skip
_delay = Call.response_seconds
Index("ix_calls_response", _delay, Call.ended_at, Call.did,
      sqlite_where=_delay.is_not(None), postgresql_where=_delay.is_not(None))  # fmt: skip
Index("ix_calls_response_by_time", Call.ended_at, Call.did, _delay,
      sqlite_where=_delay.is_not(None), postgresql_where=_delay.is_not(None))  # fmt: skip
# The Overview's "held: caller ID not verified" (few rows: read from the index alone).
_unverified = Call.suppress_reason == "caller_not_verified"
Index("ix_calls_unverified_held", Call.ended_at, Call.did,
      sqlite_where=_unverified, postgresql_where=_unverified)  # fmt: skip

__all__ += ["Booking"]


class CrmEvent(Base):
    """An outgoing CRM webhook: the signed JSON to post to one endpoint, and its retries."""

    __tablename__ = "crm_events"
    __table_args__ = (
        # One row per event per endpoint: emitting the same event again is a no-op.
        UniqueConstraint("endpoint", "idempotency_key", name="uq_crm_events_endpoint_key"),
        # The worker's claim query: due rows by time.
        Index("ix_crm_events_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    endpoint: Mapped[str] = mapped_column(String(64))
    #: Sent as the ``Idempotency-Key`` header, identical on every retry.
    idempotency_key: Mapped[str] = mapped_column(String(255))
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[CrmEventStatus] = mapped_column(string_enum(CrmEventStatus, 16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Due time; while ``sending`` it is the claim's lease (a crashed worker's row comes back).
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


__all__ += ["CrmEvent"]


class PbxMark(Base):
    """Per PBX link: up to when every call it ended is recorded (start-up CDR catch-up)."""

    __tablename__ = "pbx_marks"

    pbx: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_until: Mapped[datetime]


__all__ += ["PbxMark"]


def configure_models() -> None:
    """Build the mappers now (SQLAlchemy does it lazily, on the first query) so start-up pays."""
    configure_mappers()


__all__ += ["configure_models"]
