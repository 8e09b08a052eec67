"""Consent evidence: one number's calls, texts and opt-outs/opt-ins in time order.

What a business needs to answer a complaint ("I never agreed to be texted", a carrier's or
the FCC's inquiry): the call that started the conversation (a missed call from that very
number is the consent a text-back rests on; whether the spoken disclosure played and the
caller ID verification are kept with it), each text with its body and delivery status, and
every opt-out and opt-in (``consent_events``: each change, not just the last) with its
source and wording. The FCC's 2024 revocation rule
(47 CFR 64.1200(a)(10)) lets consumers revoke consent "in any reasonable manner", so the
opt-out's own words are kept and shown, not just its keyword; the CTIA Messaging Principles
and Best Practices (§5) ask that opt-out records be kept.

Pure: rows come from ``store.evidence``; this module orders them and writes the export (CSV
for people: plain labels, times in the business's zone; JSON for programs: raw values and
ISO 8601 times with their offset). Every cell a caller could have chosen (a text's body) is
written so that a spreadsheet shows it as text, never runs it as a formula.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Final, TextIO

from asterisk_textback.store.evidence import NumberRecords
from asterisk_textback.wording.labels import (
    decision_label,
    inbound_label,
    message_kind_label,
    outcome_label,
    status_label,
)
from asterisk_textback.wording.times import csv_time, local

__all__ = [
    "CSV_HEADER",
    "Event",
    "as_dict",
    "events",
    "safe_cell",
    "source_label",
    "write_csv_rows",
]

CSV_HEADER: Final = (
    "number",
    "time",
    "event",
    "what",
    "text",
    "status",
    "source",
    "disclosure_played",
    "caller_verification",
)
#: Our outbound kinds in words (as the Conversation page names them).
_VERIFICATION: Final = {
    "passed": "passed",
    "failed": "failed",
    "none": "not verified",
    None: "not reported",
}
#: A spreadsheet runs a cell starting with one of these as a formula.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """``value`` as a spreadsheet shows it literally (a leading ``'`` before ``=``, ``+``…)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def source_label(source: str | None) -> str:
    """Where an opt-out or opt-in came from, in words."""
    if source is None:
        return "not recorded"
    how, _, word = source.partition(":")
    if how == "sms":
        return f"text message ({word})" if word else "text message"
    known = {
        "cli": "command line (asterisk-textback optout)",
        "import": "CSV import (asterisk-textback optout import)",
        "provider": "the SMS provider reported the number as opted out",
    }
    return known.get(source, f"recorded as {source!r}")


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the evidence: a call, a text either way, an opt-out or an opt-in."""

    at: datetime
    #: ``call``, ``text_sent``, ``text_received``, ``opt_out`` or ``opt_in``.
    type: str
    #: The raw values (the JSON's fields besides ``type`` and ``at``).
    fields: dict[str, Any]
    #: For people: what happened, the text, its status, where it came from.
    what: str
    text: str = ""
    status: str = ""
    source: str = ""
    disclosure: str = ""
    verification: str = ""


def _call_events(records: NumberRecords) -> Iterator[Event]:
    for c in records.calls:
        yield Event(
            at=c.ended_at,
            type="call",
            fields={
                "call_id": c.id,
                "did": c.did,
                "outcome": c.outcome,
                "reason": c.reason,
                "decision": {"action": c.action, "reason": c.suppress_reason},
                "template": c.template,
                "disclosure_played": c.disclosure_played,
                "caller_verification": c.caller_verification,
                "quiet_rule": c.quiet_rule,
            },
            what=f"{outcome_label(c.outcome)}; {decision_label(c.action, c.suppress_reason)}"
            + (f"; quiet hours: {c.quiet_rule}" if c.quiet_rule else ""),
            disclosure="yes" if c.disclosure_played else "no",
            verification=_VERIFICATION.get(c.caller_verification, str(c.caller_verification)),
        )


def _text_events(records: NumberRecords) -> Iterator[Event]:
    for t in records.texts:
        what = message_kind_label(t.kind)
        if t.sent_by:
            what += f" by {t.sent_by}"
        status = status_label(t.status)
        if t.error and t.status in ("failed", "cancelled", "unknown"):
            status += f" ({t.error})"
        yield Event(
            at=t.at,
            type="text_sent",
            fields={
                "message_id": t.id,
                "kind": t.kind,
                "from": t.sender,
                "body": t.body,
                "status": t.status,
                "sent_at": t.sent_at,
                "delivered_at": t.delivered_at,
                "error": t.error,
                "call_id": t.call_id,
                "sent_by": t.sent_by,
            },
            what=what,
            text=t.body,
            status=status,
        )


def _inbound_events(records: NumberRecords) -> Iterator[Event]:
    """The texts the number sent, but those listed as the opt-out/opt-in they made.

    A STOP or START that made no change (the number was already opted out, or in) is a text
    received "no change recorded"; so is one stored before every change was recorded
    (migration 0010 kept only the last change of each number).
    """
    made = {c.inbound_id for c in records.changes if c.inbound_id is not None}
    for i in records.inbound:
        if i.id in made:
            continue
        what = inbound_label(i.kind)
        if i.kind in ("stop", "start"):
            what = f"{(i.keyword or i.kind).upper()} text, no change recorded"
        yield Event(
            at=i.received_at,
            type="text_received",
            fields={
                "inbound_id": i.id,
                "to": i.to,
                "kind": i.kind,
                "keyword": i.keyword,
                "body": i.body,
            },
            what=what,
            text=i.body,
        )


def _change_events(records: NumberRecords) -> Iterator[Event]:
    """Every opt-out and opt-in (``consent_events``), with the text that made it if any."""
    texts = {i.id: i for i in records.inbound}
    for c in records.changes:
        made_by = texts.get(c.inbound_id) if c.inbound_id is not None else None
        yield Event(
            at=c.at,
            type=c.kind,
            fields={
                "consent_event_id": c.id,
                "source": c.source,
                "wording": c.wording,
                "inbound_id": c.inbound_id,
                "keyword": None if made_by is None else made_by.keyword,
                "to": None if made_by is None else made_by.to,
            },
            what="opted out" if c.kind == "opt_out" else "opted back in",
            text=c.wording or "",
            source=source_label(c.source),
        )


_ORDER: Final = {"call": 0, "text_received": 1, "opt_out": 1, "opt_in": 1, "text_sent": 2}


def events(records: NumberRecords) -> list[Event]:
    """Every event of one number, oldest first (a call before the text it caused)."""
    found = [
        *_call_events(records),
        *_text_events(records),
        *_inbound_events(records),
        *_change_events(records),
    ]
    return sorted(found, key=lambda e: (e.at, _ORDER[e.type]))


def _iso(value: Any, zone: tzinfo) -> Any:
    if isinstance(value, datetime):
        return local(value, zone).isoformat()
    if isinstance(value, dict):
        return {k: _iso(v, zone) for k, v in value.items()}
    return value


def as_dict(records: NumberRecords, zone: tzinfo) -> dict[str, Any]:
    """One number's evidence under stable keys, times ISO 8601 in ``zone`` with the offset."""
    state = records.consent
    return {
        "number": records.number,
        "opted_out": bool(state and state.opted_out),
        "consent_changed_at": _iso(state.changed_at, zone) if state else None,
        "consent_source": state.source if state else None,
        "events": [
            {"type": e.type, "at": _iso(e.at, zone), **_iso(e.fields, zone)}
            for e in events(records)
        ],
    }


def write_csv_rows(out: TextIO, records: NumberRecords, zone: tzinfo) -> int:
    """Write one number's events as CSV rows (no header); how many."""
    writer = csv.writer(out, lineterminator="\n")
    count = 0
    for e in events(records):
        row = (
            records.number,
            csv_time(e.at, zone),
            e.type.replace("_", " "),
            e.what,
            e.text,
            e.status,
            e.source,
            e.disclosure,
            e.verification,
        )
        # The number as stored (``+1…``); every free-text cell made safe for spreadsheets.
        writer.writerow([row[0], *(safe_cell(cell) for cell in row[1:])])
        count += 1
    return count
