"""Every internal value has a plain label, and times read in the business's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from asterisk_textback.calls.model import Outcome, Reason
from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.policy.decision import Action, SuppressReason
from asterisk_textback.wording import labels, times

NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("enum", "table"),
    [
        (Outcome, labels.OUTCOMES),
        (Reason, labels.REASONS),
        (Action, labels.DECISIONS),
        (SuppressReason, labels.DECISIONS),
        (MessageStatus, labels.MESSAGE_STATUSES),
        (InboundKind, labels.INBOUND_KINDS),
    ],
)
def test_every_value_has_a_label(enum: type, table: dict[str, str]) -> None:
    missing = [m.value for m in enum if m.value not in table]
    assert missing == []
    for member in enum:
        assert "_" not in table[member.value]


def test_every_outbox_kind_has_a_label() -> None:
    """Every kind the code queues (``kind=`` and the kind constants) reads as words."""
    from asterisk_textback.store.autoreply import AUTO_REPLY_KINDS
    from asterisk_textback.store.replies import STAFF_REPLY

    for kind in {"textback", STAFF_REPLY, *AUTO_REPLY_KINDS}:
        assert kind in labels.MESSAGE_KINDS, kind
    assert labels.message_kind_label("forward") == "reply forwarded to staff"


def test_labels_read_as_words() -> None:
    assert labels.outcome_label("missed_no_voicemail") == "Missed, no voicemail"
    assert labels.reason_label("caller_hangup") == "the caller hung up while it rang"
    assert labels.decision_label("suppress", "cooldown") == "Not texted: texted recently"
    assert labels.decision_label("send") == "Texted"
    assert labels.outcome_label("brand_new_value") == "brand new value"
    assert labels.reason_label(None) == ""


def test_times_in_the_business_zone() -> None:
    at = datetime(2026, 12, 5, 12, 49, 2, 613483, tzinfo=UTC)
    assert times.people_time(at, NEW_YORK) == "Sat, Dec 5, 2026, 7:49 AM EST"
    assert times.short_time(at, NEW_YORK) == "Dec 5, 7:49 AM"
    assert times.csv_time(at, NEW_YORK) == "2026-12-05 07:49:02"
    summer = datetime(2026, 7, 1, 16, 5, tzinfo=UTC)
    assert times.people_time(summer, NEW_YORK) == "Wed, Jul 1, 2026, 12:05 PM EDT"
    naive = datetime(2026, 12, 5, 5, 0)  # the store's naive UTC
    assert times.short_time(naive, NEW_YORK) == "Dec 5, 12:00 AM"
    assert times.people_time(None, NEW_YORK) == ""
    assert times.day_label(date(2026, 12, 5)) == "Sat, Dec 5"
