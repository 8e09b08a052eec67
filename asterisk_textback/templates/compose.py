"""Turn a decision to send into the exact text: template, variant, sender, body, size."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason
from asterisk_textback.calls.utc import utc
from asterisk_textback.config import Settings
from asterisk_textback.kpi.conversions import tracked_link
from asterisk_textback.policy.decision import Decision
from asterisk_textback.templates.context import MessageContext, context_from_call
from asterisk_textback.templates.render import RenderedText, Renderer
from asterisk_textback.templates.variants import assign_variant

#: The sample caller of previews and start-up checks (the number as the policy normalises it).
SAMPLE_NUMBER: Final = "+12025550143"


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


def sample_call(pbx: str = "default") -> CallEnded:
    """A realistic missed call for previews and start-up checks (``sample_context``'s data).

    Its tracking token has the length of any real one: the call-end part is 6 base-36 digits
    for every call between 1972 and 2059, and the signature is always 8 characters.
    """
    ended = datetime(2024, 6, 3, 18, 5, tzinfo=UTC).timestamp()
    return CallEnded(
        linkedid=f"{ended:.0f}.42",
        direction=Direction.INBOUND,
        outcome=Outcome.MISSED_NO_VOICEMAIL,
        reason=Reason.NO_ANSWER,
        caller_number=SAMPLE_NUMBER,
        caller_name="Jordan Smith",
        did="+12025550100",
        queue=None,
        mailbox=None,
        started_at=ended - 25,
        ended_at=ended,
        ring_seconds=25.0,
        pbx=pbx,
    )


def call_context(
    call: CallEnded, settings: Settings, *, to: str, tracking_secret: str = ""
) -> MessageContext:
    """What a template sees for ``call``: the booking link as sent, with the call's token.

    The booking link carries the call's tracking token (``kpi.conversions.call_token``),
    signed with ``tracking_secret``, so a booking made through it names this call.
    """
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
    return replace(context, caller_number=to)


def render_for_call(
    call: CallEnded,
    settings: Settings,
    renderer: Renderer,
    *,
    template: str,
    to: str,
    variant: str | None,
    first_contact: bool,
    tracking_secret: str = "",
) -> RenderedText:
    """The exact text ``call`` gets: tracked link, footer on a first contact, final encoding.

    Sending (:func:`compose`) and ``templates preview`` both come here, so the length,
    encoding and segment count a preview shows are the ones billed.
    """
    context = call_context(call, settings, to=to, tracking_secret=tracking_secret)
    return renderer.render(template, context, first_contact=first_contact, variant=variant)


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

    The text is :func:`render_for_call`'s, with the variant the caller is assigned.
    """
    if not decision.send or decision.template is None or decision.to is None:
        raise ValueError(f"call {call.linkedid}: decision is not a send: {decision.reason}")
    experiment = decision.experiment or settings.templates.experiment_name(decision.template)
    variant = None
    if decision.experiment is not None:
        spec = settings.templates.template(decision.template)
        variant = assign_variant(decision.experiment, decision.to, spec.variants).name
    text = render_for_call(
        call,
        settings,
        renderer,
        template=decision.template,
        to=decision.to,
        variant=variant,
        first_contact=first_contact,
        tracking_secret=tracking_secret,
    )
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
