"""Built-in templates for the common cases, worded after the seed guide.

Each has one clear call to action: reply to the text, or book through the business's link
when one is configured (falling back to "reply" when it is not). All are plain GSM-7 and fit
two SMS parts with the opt-out footer, for business names and links of ordinary length.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

#: On a line of its own below the text (``footer.with_footer``).
DEFAULT_FOOTER: Final = "Reply STOP to opt out."

_HI = "Hi {{ first_name or 'there' }}, "


def _single(name: str, body: str, *, hook: str, cta: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "variants": ({"name": name, "weight": 1.0, "body": body, "hook": hook, "cta": cta},),
    }


#: Raw tables, validated like the file's own (``TemplatesSettings`` merges them in).
DEFAULT_TEMPLATES: Final[Mapping[str, Mapping[str, Any]]] = MappingProxyType(
    {
        "missed_voicemail": _single(
            "default",
            _HI + "thanks for your voicemail to {{ business_name }}. We'll call you back ASAP. "
            "Anything to add? Just reply to this text.",
            hook="thanks_voicemail",
            cta="reply",
            description="Missed call; the caller left a voicemail.",
        ),
        "missed_no_voicemail": _single(
            "default",
            _HI + "sorry we just missed your call at {{ business_name }} - can we help? "
            "Reply to this text"
            "{% if booking_link %} or book here: {{ booking_link }}{% else %}.{% endif %}",
            hook="sorry",
            cta="reply",
            description="Missed call; no voicemail left.",
        ),
        "after_hours": _single(
            "default",
            _HI + "thanks for calling {{ business_name }}. We're closed right now and will get "
            "back to you first thing. "
            "{% if booking_link %}Or book an appointment here: {{ booking_link }}"
            "{% else %}Reply to this text and tell us what you need.{% endif %}",
            hook="after_hours",
            cta="book",
            description="Call outside business hours.",
        ),
        "busy": _single(
            "default",
            _HI + "I'm on a job right now - sorry I missed your call. "
            "{% if booking_link %}Book an appointment here: {{ booking_link }}"
            "{% else %}Reply to this text and tell me what you need.{% endif %}",
            hook="on_a_job",
            cta="book",
            description="Busy / on a job: the line or every agent was busy.",
        ),
        "queue_abandon": _single(
            "default",
            _HI + "sorry for the wait when you called {{ business_name }}. "
            "We'll call you back ASAP - or reply to this text and tell us what you need.",
            hook="sorry_wait",
            cta="reply",
            description="The caller hung up while waiting in a queue.",
        ),
    }
)
