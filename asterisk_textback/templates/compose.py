"""Turn a decision to send into the exact text: template, variant, sender, body, size."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from asterisk_textback.calls.model import CallEnded
from asterisk_textback.calls.utc import utc
from asterisk_textback.config import Settings
from asterisk_textback.kpi.conversions import tracked_link
from asterisk_textback.policy.decision import Decision
from asterisk_textback.templates.context import context_from_call
from asterisk_textback.templates.render import Renderer
from asterisk_textback.templates.variants import assign_variant


@dataclass(frozen=True, slots=True)
class Draft:
    """A rendered text for one call, ready for the outbox."""

    template: str
    variant: str
    experiment: str
    to: str
    sender: str
    body: str
    segments: int
    encoding: str
    send_at: float
    expires_at: float | None

    def to_json(self) -> dict[str, Any]:
        """The text's fields with ISO 8601 UTC times."""
        return {
            "template": self.template,
            "variant": self.variant,
            "experiment": self.experiment,
            "to": self.to,
            "sender": self.sender,
            "body": self.body,
            "segments": self.segments,
            "encoding": self.encoding,
            "send_at": utc(self.send_at).isoformat(),
            "expires_at": None if self.expires_at is None else utc(self.expires_at).isoformat(),
        }


def compose(
    call: CallEnded,
    decision: Decision,
    settings: Settings,
    renderer: Renderer,
    *,
    first_contact: bool,
    tracking_secret: str = "",
) -> Draft:
    """Render the text ``decision`` asks for (which must be a send with a template).

    The booking link carries the call's tracking token (``kpi.conversions.call_token``),
    signed with ``tracking_secret``, so a booking made through it names this call.
    """
    if not decision.send or decision.template is None or decision.to is None:
        raise ValueError(f"call {call.linkedid}: decision is not a send: {decision.reason}")
    business = settings.business
    link = business.booking_link or ""
    if link:
        link = tracked_link(
            link,
            pbx=call.pbx,
            linkedid=call.linkedid,
            ended_at=call.ended_at,
            secret=tracking_secret,
        )
    context = context_from_call(
        call, business_name=business.name, booking_link=link, tz=business.zone
    )
    # Variants are assigned on the normalised number, so "212…" and "+1212…" agree.
    context = replace(context, caller_number=decision.to)
    experiment = decision.experiment or settings.templates.experiment_name(decision.template)
    variant = None
    if decision.experiment is not None:
        spec = settings.templates.template(decision.template)
        variant = assign_variant(decision.experiment, decision.to, spec.variants).name
    text = renderer.render(decision.template, context, first_contact=first_contact, variant=variant)
    send_at = decision.send_at if decision.send_at is not None else call.ended_at
    return Draft(
        template=text.template,
        variant=text.variant,
        experiment=experiment,
        to=decision.to,
        sender=settings.provider.sender_for(call.did),
        body=text.body,
        segments=text.segments,
        encoding=text.encoding,
        send_at=send_at,
        expires_at=decision.expires_at,
    )
