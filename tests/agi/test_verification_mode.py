"""FastAGI and suppression.caller_verification: no verification reaches a FastAGI request."""

from __future__ import annotations

import pytest

from asterisk_textback.agi.request import TextRequest
from asterisk_textback.agi.texter import _stand_in, explicit_policy
from asterisk_textback.config import Settings
from asterisk_textback.policy import NO_HISTORY, Action, SuppressReason, decide

REQUEST = TextRequest(
    script="textback",
    template="missed_no_voicemail",
    uniqueid="1795756422.6",
    channel="PJSIP/trunk-00000006",
    to="2125550147",
    caller_name="Pat Caller",
    did="5550100",
    delay=0.0,
)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("off", (Action.SEND, None)),
        ("not_failed", (Action.SEND, None)),
        ("passed", (Action.SUPPRESS, SuppressReason.CALLER_NOT_VERIFIED)),
    ],
)
def test_agi_text_by_mode(mode: str, expected: tuple[Action, SuppressReason | None]) -> None:
    settings = Settings.model_validate({"suppression": {"caller_verification": mode}})
    now = 1_795_756_422.0
    call = _stand_in(REQUEST, now, "default")
    assert call.caller_verification is None  # the agi_* environment has no such variable
    decision = decide(call, NO_HISTORY, explicit_policy(settings, REQUEST.template, 0.0), now)
    assert (decision.action, decision.reason) == expected
