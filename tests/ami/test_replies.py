"""What an AMI reply means, without a PBX: the error named for the operator."""

from __future__ import annotations

from asterisk_textback.ami.replies import describe, reply_error
from asterisk_textback.ami.types import EventBatch, Resync
from asterisk_textback.errors import AmiActionError, AmiPermissionError


def test_a_success_is_no_error() -> None:
    assert reply_error("Ping", {"Response": "Success"}, "tb", "pbx:5038") is None


def test_permission_denied_names_the_write_classes_the_action_needs() -> None:
    exc = reply_error(
        "CoreShowChannels", {"Response": "Error", "Message": "Permission denied"}, "tb", "pbx:5038"
    )
    assert isinstance(exc, AmiPermissionError)
    assert "'system' or 'reporting'" in str(exc)
    assert "'tb' on pbx:5038" in str(exc)


def test_an_unknown_action_refused_asks_for_a_write_class_that_allows_it() -> None:
    exc = reply_error("Originate", {"Response": "Error", "Message": "Permission denied"}, "u", "h")
    assert isinstance(exc, AmiPermissionError)
    assert "a write class that allows it" in str(exc)


def test_other_failures_carry_the_message() -> None:
    exc = reply_error("MessageSend", {"Response": "Fail", "Message": "No such"}, "u", "h")
    assert isinstance(exc, AmiActionError)
    assert not isinstance(exc, AmiPermissionError)
    assert str(exc) == "AMI action MessageSend failed on h: No such"


def test_describe_is_short_for_a_long_batch() -> None:
    batch = EventBatch([{"Event": "VarSet", "Value": "x" * 500}] * 5, 0.0)
    text = describe(batch)
    assert text.startswith("EventBatch of 5: ")
    assert len(text) == 301
    assert text.endswith("…")
    assert describe(Resync(frozenset({"1.1", "1.2"}), 0.0, 0.0)) == "Resync(2 channels)"
