"""Booking webhook parsers on payloads shaped like the vendors' documented examples."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from asterisk_textback.bookings.payloads import (
    BookingPayloadError,
    parse_calcom,
    parse_calendly,
    parse_generic,
)
from asterisk_textback.bookings.status import BookingStatus

NOW = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)

CALCOM_CREATED: dict[str, Any] = {
    "triggerEvent": "BOOKING_CREATED",
    "createdAt": "2026-11-02T15:30:00.538Z",
    "payload": {
        "type": "60min",
        "title": "60min between Pro Example and John Doe",
        "description": "",
        "startTime": "2026-11-05T09:30:00Z",
        "endTime": "2026-11-05T10:30:00Z",
        "organizer": {"id": 5, "name": "Pro Example", "email": "pro@example.com"},
        "responses": {
            "name": {"label": "your_name", "value": "John Doe"},
            "email": {"label": "email_address", "value": "john.doe@example.com"},
            "attendeePhoneNumber": {"label": "phone_number", "value": "+1 212-555-0147"},
            "location": {"label": "location", "value": {"optionValue": "", "value": "inPerson"}},
        },
        "attendees": [
            {"email": "john.doe@example.com", "name": "John Doe", "timeZone": "America/New_York"}
        ],
        "uid": "bFJeNb2uX8ANpT3JL5EfXw",
        "bookingId": 91,
        "eventTypeId": 7,
        "price": 15000,
        "currency": "usd",
        "length": 60,
        "metadata": {"tb": "2n9c-abcdef"},
        "status": "ACCEPTED",
    },
}

CALENDLY_CREATED: dict[str, Any] = {
    "created_at": "2026-11-02T15:51:19.000000Z",
    "created_by": "https://api.calendly.com/users/AAAAAAAAAAAAAAAA",
    "event": "invitee.created",
    "payload": {
        "cancel_url": "https://calendly.com/cancellations/AAAAAAAAAAAAAAAA",
        "created_at": "2026-11-02T15:51:18.327602Z",
        "email": "test@example.com",
        "name": "John Doe",
        "new_invitee": None,
        "old_invitee": None,
        "questions_and_answers": [
            {"question": "Best number to reach you?", "answer": "(212) 555-0147", "position": 0}
        ],
        "rescheduled": False,
        "status": "active",
        "text_reminder_number": None,
        "timezone": "America/New_York",
        "tracking": {
            "utm_campaign": None,
            "utm_source": None,
            "utm_medium": None,
            "utm_content": "2n9c-abcdef",
            "utm_term": None,
            "salesforce_uuid": None,
        },
        "uri": "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2/invitees/AAAA",
        "payment": {
            "external_id": "ch_AAAAAAAAAAAAAAAAAAAAAAAA",
            "provider": "stripe",
            "amount": 1234.56,
            "currency": "USD",
            "successful": True,
        },
        "scheduled_event": {
            "uri": "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2",
            "name": "15 Minute Meeting",
            "status": "active",
            "start_time": "2026-11-05T14:15:22.123456Z",
            "end_time": "2026-11-05T14:30:22.123456Z",
            "location": {"type": "physical", "location": "Calendly Office"},
        },
    },
}


def test_calcom_booking_created() -> None:
    """Cal.com: uid, times, price in cents, attendee phone and the metadata token."""
    booking = parse_calcom(CALCOM_CREATED, now=NOW, region="US")
    assert booking is not None
    assert booking.source == "calcom"
    assert booking.external_id == "bFJeNb2uX8ANpT3JL5EfXw"
    assert booking.status is BookingStatus.BOOKED
    assert booking.booked_at == datetime(2026, 11, 2, 15, 30, 0, 538000, tzinfo=UTC)
    assert booking.starts_at == datetime(2026, 11, 5, 9, 30, tzinfo=UTC)
    assert (booking.value_minor, booking.currency) == (15000, "USD")
    assert booking.e164 == "+12125550147"
    assert booking.token == "2n9c-abcdef"


def test_calcom_cancel_free_and_ignored_events() -> None:
    """A cancellation, a free event without a phone, and a non-booking trigger."""
    data = copy.deepcopy(CALCOM_CREATED)
    data["triggerEvent"] = "BOOKING_CANCELLED"
    data["payload"]["price"] = 0
    del data["payload"]["responses"]["attendeePhoneNumber"]
    data["payload"]["metadata"] = {}
    booking = parse_calcom(data, now=NOW, region="US")
    assert booking is not None
    assert booking.status is BookingStatus.CANCELLED
    assert (booking.value_minor, booking.e164, booking.token) == (None, None, None)
    assert parse_calcom({"triggerEvent": "MEETING_ENDED"}, now=NOW, region="US") is None
    with pytest.raises(BookingPayloadError, match="triggerEvent"):
        parse_calcom({"event": "invitee.created"}, now=NOW, region="US")
    with pytest.raises(BookingPayloadError, match="uid"):
        parse_calcom({"triggerEvent": "BOOKING_CREATED", "payload": {}}, now=NOW, region="US")


def test_calendly_invitee_created() -> None:
    """Calendly: invitee uri, payment in major units, phone from an answer, utm token."""
    booking = parse_calendly(CALENDLY_CREATED, now=NOW, region="US")
    assert booking is not None
    assert booking.source == "calendly"
    assert booking.external_id == CALENDLY_CREATED["payload"]["uri"]
    assert (booking.value_minor, booking.currency) == (123456, "USD")
    assert booking.e164 == "+12125550147"
    assert booking.token == "2n9c-abcdef"
    assert booking.starts_at == datetime(2026, 11, 5, 14, 15, 22, 123456, tzinfo=UTC)


def test_calendly_reminder_number_and_cancel() -> None:
    """The SMS reminder number is preferred; invitee.canceled cancels."""
    data = copy.deepcopy(CALENDLY_CREATED)
    data["event"] = "invitee.canceled"
    data["payload"]["text_reminder_number"] = "+44 7911 123456"
    data["payload"]["payment"] = None
    booking = parse_calendly(data, now=NOW, region="US")
    assert booking is not None
    assert booking.status is BookingStatus.CANCELLED
    assert booking.e164 == "+447911123456"
    assert booking.value_minor is None
    assert (
        parse_calendly({"event": "routing_form_submission.created"}, now=NOW, region="US") is None
    )
    with pytest.raises(BookingPayloadError, match="uri"):
        parse_calendly({"event": "invitee.created", "payload": {}}, now=NOW, region="US")


def test_generic_json() -> None:
    """The generic shape: value in major units, national number in the default region."""
    booking = parse_generic(
        {"id": "42", "value": "120.50", "currency": "eur", "phone": "0151 12345678"},
        now=NOW,
        region="DE",
    )
    assert booking.external_id == "42"
    assert (booking.value_minor, booking.currency) == (12050, "EUR")
    assert booking.e164 == "+4915112345678"
    assert booking.booked_at == NOW
    yen = parse_generic(
        {"token": "1-abcdef", "value": 5000, "currency": "JPY"}, now=NOW, region="US"
    )
    assert yen.value_minor == 5000
    default = parse_generic(
        {"token": "1-abcdef", "value": 10}, now=NOW, region="US", currency="USD"
    )
    assert (default.value_minor, default.currency) == (1000, "USD")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"value": 10}, "phone, a token or an id"),
        ({"id": "1", "status": "maybe"}, "status"),
        ({"id": "1", "value": "lots"}, "value"),
        ({"id": "1", "value": -5}, "value"),
        ({"id": "1", "booked_at": "yesterday"}, "booked_at"),
        ({"id": "1", "booked_at": "2026-11-02T10:00:00"}, "time zone"),
    ],
)
def test_generic_rejects_bad_payloads(payload: dict[str, Any], message: str) -> None:
    """Malformed generic payloads raise BookingPayloadError naming the field."""
    with pytest.raises(BookingPayloadError, match=message):
        parse_generic(payload, now=NOW, region="US")
