"""Booking webhook payloads (generic JSON, Cal.com, Calendly) parsed into ``NewBooking``.

Pure functions: the web layer verifies the signature, decodes the JSON and stores the result
with ``store.bookings.record_booking``. Phone numbers are normalised to E.164 with the business's
default region; a payload that is not a booking event raises ``BookingPayloadError``
(answer 400), and an event type we ignore returns None (answer 200, so it is not retried).

- Generic: ``{"id", "status": "booked"|"cancelled", "value": 120.50, "currency": "EUR",
  "booked_at", "starts_at", "phone", "token"}``; only ``phone`` or ``token`` is required.
- Cal.com: ``{"triggerEvent": "BOOKING_CREATED"|"BOOKING_RESCHEDULED"|"BOOKING_CANCELLED",
  "createdAt", "payload": {"uid", "startTime", "price" (minor units), "currency",
  "attendees": [{"phoneNumber"}], "responses": {"attendeePhoneNumber": {"value"}},
  "smsReminderNumber", "metadata": {"tb"}}}``; the link carries ``?metadata[tb]=<token>``.
- Calendly: ``{"event": "invitee.created"|"invitee.canceled", "created_at", "payload":
  {"uri", "created_at", "status", "text_reminder_number", "payment": {"amount", "currency"},
  "scheduled_event": {"start_time", "location": {"type", "location"}},
  "questions_and_answers": [{"answer"}], "tracking": {"utm_content"}}}``; the link carries
  ``?utm_content=<token>`` (Calendly passes only UTM parameters on).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from asterisk_textback.bookings.status import BookingStatus
from asterisk_textback.kpi.conversions import NewBooking
from asterisk_textback.kpi.metrics import minor_exponent
from asterisk_textback.policy.numbers import parse_caller

__all__ = ["BookingPayloadError", "parse_calcom", "parse_calendly", "parse_generic"]

_CALCOM_EVENTS: Final = {
    "BOOKING_CREATED": BookingStatus.BOOKED,
    "BOOKING_RESCHEDULED": BookingStatus.BOOKED,
    "BOOKING_PAID": BookingStatus.BOOKED,
    "BOOKING_CANCELLED": BookingStatus.CANCELLED,
    "BOOKING_REJECTED": BookingStatus.CANCELLED,
}
_CALENDLY_EVENTS: Final = {
    "invitee.created": BookingStatus.BOOKED,
    "invitee.canceled": BookingStatus.CANCELLED,
}
_GENERIC_STATUS: Final = {
    "booked": BookingStatus.BOOKED,
    "confirmed": BookingStatus.BOOKED,
    "cancelled": BookingStatus.CANCELLED,
    "canceled": BookingStatus.CANCELLED,
}


class BookingPayloadError(ValueError):
    """The payload is not a booking event this parser understands."""


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _time(value: Any, field: str) -> datetime | None:
    text = _text(value)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BookingPayloadError(f"{field}: {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise BookingPayloadError(f"{field}: {text!r} has no time zone")
    return moment.astimezone(UTC)


def _phone(candidates: Iterable[Any], region: str) -> str | None:
    for candidate in candidates:
        text = _text(candidate)
        if text is not None:
            number = parse_caller(text, region)
            if number.e164 is not None:
                return number.e164
    return None


def _minor(amount: Any, currency: str | None, field: str) -> int | None:
    text = _text(amount)
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BookingPayloadError(f"{field}: {text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise BookingPayloadError(f"{field}: {text!r} is not a value")
    return int(value.scaleb(minor_exponent(currency or "")).to_integral_value())


def _currency(value: Any, default: str | None) -> str | None:
    text = _text(value)
    return text.upper()[:3] if text else default


def parse_generic(
    data: Mapping[str, Any], *, now: datetime, region: str, currency: str | None = None
) -> NewBooking:
    """Parse the generic booking JSON (for Zapier/n8n/CRMs and custom forms)."""
    status = _GENERIC_STATUS.get(str(data.get("status", "booked")).lower())
    if status is None:
        raise BookingPayloadError(f"status: {data.get('status')!r} is not booked or cancelled")
    money = _currency(data.get("currency"), currency)
    booking = NewBooking(
        source="webhook",
        external_id=_text(data.get("id")),
        status=status,
        value_minor=_minor(data.get("value"), money, "value"),
        currency=money,
        booked_at=_time(data.get("booked_at"), "booked_at") or now,
        starts_at=_time(data.get("starts_at"), "starts_at"),
        e164=_phone([data.get("phone")], region),
        token=_text(data.get("token")),
    )
    if booking.e164 is None and booking.token is None and booking.external_id is None:
        raise BookingPayloadError("a booking needs a valid phone, a token or an id")
    return booking


def parse_calcom(
    data: Mapping[str, Any], *, now: datetime, region: str, currency: str | None = None
) -> NewBooking | None:
    """Parse a Cal.com webhook; None for trigger events that are not about bookings."""
    trigger = data.get("triggerEvent")
    if not isinstance(trigger, str):
        raise BookingPayloadError("not a Cal.com webhook (no triggerEvent)")
    status = _CALCOM_EVENTS.get(trigger)
    if status is None:
        return None
    payload = _map(data.get("payload"))
    uid = _text(payload.get("uid")) or _text(payload.get("bookingId"))
    if uid is None:
        raise BookingPayloadError("Cal.com payload has no uid")
    responses = _map(payload.get("responses"))
    attendees = payload.get("attendees")
    phones = [_map(a).get("phoneNumber") for a in attendees] if isinstance(attendees, list) else []
    location = _map(_map(responses.get("location")).get("value"))
    money = _currency(payload.get("currency"), currency)
    price = payload.get("price")
    # Cal.com sends the price in the currency's minor unit (cents), like its event types.
    value = int(price) if isinstance(price, int | float) and price > 0 else None
    return NewBooking(
        source="calcom",
        external_id=uid,
        status=status,
        value_minor=value,
        currency=money,
        booked_at=_time(data.get("createdAt"), "createdAt") or now,
        starts_at=_time(payload.get("startTime"), "payload.startTime"),
        e164=_phone(
            [
                _map(responses.get("attendeePhoneNumber")).get("value"),
                *phones,
                payload.get("smsReminderNumber"),
                location.get("optionValue"),
            ],
            region,
        ),
        token=_text(_map(payload.get("metadata")).get("tb"))
        or _text(_map(responses.get("tb")).get("value")),
    )


def parse_calendly(
    data: Mapping[str, Any], *, now: datetime, region: str, currency: str | None = None
) -> NewBooking | None:
    """Parse a Calendly webhook (API v2); None for events that are not about invitees."""
    event = data.get("event")
    if not isinstance(event, str):
        raise BookingPayloadError("not a Calendly webhook (no event)")
    status = _CALENDLY_EVENTS.get(event)
    if status is None:
        return None
    payload = _map(data.get("payload"))
    uri = _text(payload.get("uri"))
    if uri is None:
        raise BookingPayloadError("Calendly payload has no invitee uri")
    scheduled = _map(payload.get("scheduled_event"))
    location = _map(scheduled.get("location"))
    answers = payload.get("questions_and_answers")
    answered = [_map(a).get("answer") for a in answers] if isinstance(answers, list) else []
    payment = _map(payload.get("payment"))
    money = _currency(payment.get("currency"), currency)
    return NewBooking(
        source="calendly",
        external_id=uri,
        status=status,
        value_minor=_minor(payment.get("amount"), money, "payment.amount"),
        currency=money,
        booked_at=_time(payload.get("created_at") or data.get("created_at"), "created_at") or now,
        starts_at=_time(scheduled.get("start_time"), "scheduled_event.start_time"),
        e164=_phone(
            [
                payload.get("text_reminder_number"),
                location.get("location") if location.get("type") == "outbound_call" else None,
                *answered,
            ],
            region,
        ),
        token=_text(_map(payload.get("tracking")).get("utm_content")),
    )
