"""Classifying inbound texts: keywords, free-text revocations, and the tricky negatives."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from asterisk_textback.inbound.consent import classify
from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.inbound.settings import ConsentSettings

STOP, START, HELP, REPLY = InboundKind.STOP, InboundKind.START, InboundKind.HELP, InboundKind.REPLY

CASES = [
    # The CTIA/FCC keywords, any case, surrounding punctuation and whitespace.
    ("STOP", STOP),
    (" Stop. ", STOP),
    ("STOP!!", STOP),
    ("stop", STOP),
    ("\tSTOP\n", STOP),
    ("'stop'", STOP),
    ("Ｓｔｏｐ", STOP),  # full-width letters from some phones
    ("STOPALL", STOP),
    ("stop all", STOP),
    ("Unsubscribe", STOP),
    ("CANCEL", STOP),
    ("end", STOP),
    ("Quit!", STOP),
    ("revoke", STOP),
    ("OPTOUT", STOP),
    ("opt-out", STOP),
    ("Opt out", STOP),
    ("Stop please", STOP),
    ("please stop", STOP),
    ("STOP STOP STOP", STOP),
    ("ok stop", STOP),
    ("stop 🛑", STOP),
    # Clear free-text revocations.
    ("please stop texting me", STOP),
    ("Stop texting me!!", STOP),
    ("stop sending me messages", STOP),
    ("stop with the texts", STOP),
    ("remove me", STOP),
    ("Remove me, thanks", STOP),
    ("please remove my number from your list", STOP),
    ("take me off your list", STOP),
    ("unsubscribe me", STOP),
    ("I want to unsubscribe", STOP),
    ("don't text me", STOP),
    ("Don’t text me again", STOP),
    ("do not contact me", STOP),
    ("never text me again", STOP),
    ("no more texts", STOP),
    ("No more messages please", STOP),
    ("opt me out", STOP),
    ("I revoke my consent", STOP),
    ("leave me alone", STOP),
    # Opt back in.
    ("START", START),
    ("Start.", START),
    ("unstop", START),
    ("UNSTOP!", START),
    # Help.
    ("HELP", HELP),
    ("help?", HELP),
    ("Info", HELP),
    # Tricky negatives: these are replies for staff to read.
    ("don't stop", REPLY),
    ("please don't stop texting me", REPLY),
    ("Please don’t stop texting me, I need the reminder", REPLY),
    ("can you stop by tomorrow", REPLY),
    ("stop by the shop", REPLY),
    ("I'll stop by later", REPLY),
    ("the bus stop", REPLY),
    ("nonstop calls today", REPLY),
    ("cancel my appointment", REPLY),
    ("I need to cancel", REPLY),
    ("the end", REPLY),
    ("at the end of the day", REPLY),
    ("I quit my job", REPLY),
    ("remove me from the 3pm appointment", REPLY),
    ("Remove me from the waitlist", REPLY),
    ("I don't want to unsubscribe", REPLY),
    ("I don't text much, call me", REPLY),
    ("start over", REPLY),
    ("when do you start?", REPLY),
    ("help me with my booking", REPLY),
    ("yes", REPLY),  # YES is not an opt-in: it answers "want a call back?"
    ("Yes please call me", REPLY),
    ("", REPLY),
    ("   ", REPLY),
    ("!!!", REPLY),
    ("🙂", REPLY),
]


@pytest.mark.parametrize(("body", "kind"), CASES)
def test_classify(body: str, kind: InboundKind) -> None:
    assert classify(body).kind is kind


def test_keyword_recorded() -> None:
    assert classify(" Stop. ").keyword == "STOP"
    assert classify("opt-out").keyword == "OPTOUT"
    assert classify("please stop texting me").keyword == "stop texting"
    assert classify("hello").keyword is None


def test_stop_wins_over_other_keywords() -> None:
    assert classify("STOP HELP").kind is STOP
    assert classify("start stop").kind is STOP


def test_never_raises_on_odd_input() -> None:
    for body in ("\x00", "a" * 10_000, "stop " * 2000, "\u202estop", "ß" * 50):
        classify(body)


def test_settings_render_and_validate() -> None:
    settings = ConsentSettings(contact="+1 555 0100", help_text="{business}: call {contact}")
    assert settings.render(settings.help_text, "Acme") == "Acme: call +1 555 0100"
    with pytest.raises(ValidationError, match="unknown placeholder"):
        ConsentSettings(help_text="{name} help")
    with pytest.raises(ValidationError, match="not a valid text template"):
        ConsentSettings(opt_out_text="{business")
    with pytest.raises(ValidationError):
        ConsentSettings(colour="blue")  # type: ignore[call-arg]
