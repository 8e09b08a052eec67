"""One reply as staff get it: the raw record the webhook posts, and the words they read.

The email and the text to staff are in words, in the business's time zone: "Missed call Sat,
Dec 5, 7:49 AM (missed, left a voicemail; the queue timed out)". The webhook's JSON is for
programs and keeps the raw values (ISO 8601 times with their offset, ``missed_voicemail``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from asterisk_textback.store.models import Call, InboundMessage
from asterisk_textback.wording.labels import outcome_label, reason_label
from asterisk_textback.wording.times import short_time

__all__ = ["ForwardedReply"]


def _people_time(iso: str) -> str:
    """``Sat, Dec 5, 7:49 AM`` from an ISO time already in the business's zone."""
    at = datetime.fromisoformat(iso)
    return f"{at:%a}, {short_time(at, at.tzinfo or UTC)}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


@dataclass(frozen=True, slots=True)
class ForwardedReply:
    """Everything staff see about one reply (raw values: the webhook posts them as they are)."""

    inbound_id: int
    from_e164: str
    to_e164: str
    body: str
    received_at: str
    caller_name: str | None = None
    call_started_at: str | None = None
    call_outcome: str | None = None
    call_reason: str | None = None
    voicemail_mailbox: str | None = None
    did: str | None = None

    @classmethod
    def build(cls, row: InboundMessage, call: Call | None, zone: tzinfo) -> ForwardedReply:
        """The reply and the missed call it answers, times shown in ``zone``."""

        def show(at: datetime) -> str:
            return at.astimezone(zone).isoformat(timespec="seconds")

        if call is None:
            return cls(row.id, row.from_e164, row.to_e164, row.body, show(row.received_at))
        left_voicemail = call.outcome.value == "missed_voicemail"
        return cls(
            inbound_id=row.id,
            from_e164=row.from_e164,
            to_e164=row.to_e164,
            body=row.body,
            received_at=show(row.received_at),
            caller_name=call.caller_name or None,
            call_started_at=show(call.started_at),
            call_outcome=call.outcome.value,
            call_reason=call.reason.value,
            voicemail_mailbox=call.mailbox if left_voicemail else None,
            did=call.did,
        )

    @property
    def who(self) -> str:
        """ "Name (+1555…)" or just the number."""
        return f"{self.caller_name} ({self.from_e164})" if self.caller_name else self.from_e164

    def call_line(self) -> str | None:
        """ "Missed call Sat, Dec 5, 7:49 AM (missed, left a voicemail; nobody picked up)"."""
        if self.call_started_at is None:
            return None
        what = [_lower_first(outcome_label(self.call_outcome)), reason_label(self.call_reason)]
        said = "; ".join(part for part in what if part)
        return f"Missed call {_people_time(self.call_started_at)}" + (f" ({said})" if said else "")

    def text(self) -> str:
        """A plain-text summary for email and SMS, in words and local times."""
        lines = [f"Text reply from {self.who}:", self.body, ""]
        call = self.call_line()
        if call is not None:
            lines.append(call)
        if self.voicemail_mailbox:
            lines.append(f"Voicemail left in mailbox {self.voicemail_mailbox}")
        lines.append(f"Received {_people_time(self.received_at)} on {self.to_e164}")
        return "\n".join(lines)
