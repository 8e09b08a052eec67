"""Caller ID names are cleaned, and the template context is built from a CallEnded."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason
from asterisk_textback.templates import clean_name, context_from_call, first_name
from asterisk_textback.templates.context import MAX_NAME_CHARS


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Jordan Smith", "Jordan Smith"),
        ("  Jordan\r\n\tSmith  ", "Jordan Smith"),
        ("Jor\x00dan\x07 \x1b[31mSmith", "Jordan [31mSmith"),
        ("\u202eevil\u200b name", "evil name"),  # bidi override, zero-width space
        ("<unknown>", ""),
        ("WIRELESS CALLER", ""),
        ("Anonymous", ""),
        ("+12025550143", ""),
        ("", ""),
        ("{{7*7}}", ""),  # no letters: not a name
        ("{{ name }}", "{{ name }}"),  # kept as text; it is never evaluated
    ],
)
def test_clean_name(raw: str, clean: str) -> None:
    assert clean_name(raw) == clean


def test_clean_name_caps_length() -> None:
    assert len(clean_name("A" * 500)) == MAX_NAME_CHARS


@pytest.mark.parametrize(
    ("raw", "first"),
    [
        ("Jordan Smith", "Jordan"),
        ("SMITH,JOHN", "John"),
        ("Smith, Mary Ann", "Mary"),
        ("JOHN SMITH", "John"),
        ("mary-jane watson", "Mary-Jane"),
        ("José García", "José"),
        ("Zoë", "Zoë"),
        ("CHICAGO IL", ""),
        ("SAN JOSE CA", ""),
        ("WIRELESS CALLER", ""),
        ("J. Smith", ""),
        ("R2D2", ""),
        ("{{7*7}}", ""),
        ("", ""),
    ],
)
def test_first_name(raw: str, first: str) -> None:
    assert first_name(raw) == first


def test_context_from_call_uses_business_timezone() -> None:
    ended = datetime(2024, 6, 3, 18, 5, 30, tzinfo=UTC).timestamp()
    call = CallEnded(
        linkedid="1717437900.1",
        direction=Direction.INBOUND,
        outcome=Outcome.MISSED_VOICEMAIL,
        reason=Reason.NO_ANSWER,
        caller_number="+12025550143",
        caller_name="SMITH,JOHN\n",
        did="+12025550100",
        queue="sales",
        mailbox="100@default",
        started_at=ended - 30,
        ended_at=ended,
        ring_seconds=25.0,
    )
    ctx = context_from_call(
        call,
        business_name="Acme",
        booking_link="https://example.com/b",
        tz=ZoneInfo("America/Chicago"),
    )
    variables = ctx.variables()
    assert variables["caller_name"] == "SMITH,JOHN"
    assert variables["first_name"] == "John"
    assert variables["outcome"] == "missed_voicemail"
    assert variables["reason"] == "no_answer"
    assert variables["call_clock"] == "1:05 PM"
    assert variables["call_day"] == "Monday"
    assert variables["call_time"].utcoffset().total_seconds() == -5 * 3600
    # Internal details stay out of the namespace (DESIGN §5).
    assert "queue" not in variables
    assert "mailbox" not in variables
