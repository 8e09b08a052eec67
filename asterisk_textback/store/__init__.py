"""Durable storage: typed models, the outbox, contacts, and packaged migrations.

The outbox (``outbox.py``) is the source of truth for what was and will be texted; contact
helpers live in ``store.contacts``; ``schema.upgrade`` is ``asterisk-textback db upgrade``.
No function that takes a session commits: callers open ``unit_of_work(sessions)`` (commit
on normal exit, roll back on error) or ``reading(sessions)`` (read-only), so every commit
shows where it is. The claims and the auto-reply queue take the factory and open their own.
"""

from asterisk_textback.store import contacts, delivery, inbound
from asterisk_textback.store.calls import (
    CallDecision,
    Recorded,
    get_call,
    record_call_and_enqueue,
)
from asterisk_textback.store.delivery import DeliveryOutcome, apply_pending, apply_report
from asterisk_textback.store.engine import DEFAULT_URL, create_engine, create_session_factory
from asterisk_textback.store.history import contact_history
from asterisk_textback.store.inbound import NewInbound, StoredInbound, record_inbound
from asterisk_textback.store.models import (
    Base,
    Call,
    Contact,
    DecisionAction,
    Experiment,
    InboundKind,
    InboundMessage,
    Message,
    MessageStatus,
    PendingDeliveryReport,
)
from asterisk_textback.store.outbox import (
    NewMessage,
    cancel_if_handled,
    claim_due,
    enqueue,
    expire_due,
    idempotency_key,
    recover_after_crash,
    release_claimed,
)
from asterisk_textback.store.results import (
    MessageStateError,
    SentReceipt,
    mark_failed_permanent,
    mark_failed_transient,
    mark_sending,
    mark_sending_many,
    mark_sent,
    mark_sent_many,
    mark_unknown,
)
from asterisk_textback.store.schema import (
    SchemaOutdatedError,
    SchemaTooNewError,
    check_schema,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from asterisk_textback.store.uow import reading, unit_of_work

__all__ = [
    "DEFAULT_URL",
    "Base",
    "Call",
    "CallDecision",
    "Contact",
    "DecisionAction",
    "DeliveryOutcome",
    "Experiment",
    "InboundKind",
    "InboundMessage",
    "Message",
    "MessageStateError",
    "MessageStatus",
    "NewInbound",
    "NewMessage",
    "PendingDeliveryReport",
    "Recorded",
    "SchemaOutdatedError",
    "SchemaTooNewError",
    "SentReceipt",
    "StoredInbound",
    "apply_pending",
    "apply_report",
    "cancel_if_handled",
    "check_schema",
    "claim_due",
    "contact_history",
    "contacts",
    "create_engine",
    "create_session_factory",
    "current_revision",
    "delivery",
    "downgrade",
    "enqueue",
    "expire_due",
    "get_call",
    "head_revision",
    "idempotency_key",
    "inbound",
    "mark_failed_permanent",
    "mark_failed_transient",
    "mark_sending",
    "mark_sending_many",
    "mark_sent",
    "mark_sent_many",
    "mark_unknown",
    "reading",
    "record_call_and_enqueue",
    "record_inbound",
    "recover_after_crash",
    "release_claimed",
    "unit_of_work",
    "upgrade",
]
