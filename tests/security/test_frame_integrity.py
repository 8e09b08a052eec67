"""AMI frame integrity: an injected line break never changes whose call it is (issue 13)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from asterisk_textback.ami.framing import IDENTITY_KEYS, FrameParser, repeated_identity_key
from asterisk_textback.ami.sim.tracefile import read_trace
from asterisk_textback.ami.sim.workload import call_stream
from tests.conftest import TRACES
from tests.security.helpers import run_service

VALID = (
    b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/trunk-00000001\r\n"
    b"CallerIDNum: 2125550147\r\nCallerIDName: Pat Caller\r\n"
    b"Uniqueid: 1795756586.1\r\nLinkedid: 1795756586.1\r\n\r\n"
)
INJECTED_NUMBER = b"2125550199"
#: What a caller name carrying a raw CRLF looks like on the wire.
INJECTED = VALID.replace(b"Pat Caller", b"Eve\r\nCallerIDNum: " + INJECTED_NUMBER)


def _events(parser: FrameParser, *chunks: bytes) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for chunk in chunks:
        out.extend(parser.feed(chunk)[0])
    return out


def test_injected_caller_number_drops_the_frame(caplog: pytest.LogCaptureFixture) -> None:
    parser = FrameParser()
    with caplog.at_level(logging.WARNING):
        events = _events(parser, INJECTED + VALID)
    assert [e["CallerIDNum"] for e in events] == ["2125550147"]
    assert parser.stats.repeated == 1
    assert "CallerIDNum appears more than once" in caplog.text
    assert INJECTED_NUMBER.decode() not in caplog.text  # the caller's data is not logged


@pytest.mark.parametrize("key", IDENTITY_KEYS)
def test_every_identity_key_is_checked(key: str) -> None:
    frame = VALID[:-2] + f"{key}: forged\r\n\r\n".encode()
    if key not in VALID.decode():  # Exten, Context: present once is fine, twice is not
        frame = frame[:-2] + f"{key}: forged again\r\n\r\n".encode()
    parser = FrameParser()
    assert _events(parser, frame, VALID) == _events(FrameParser(), VALID)
    assert parser.stats.repeated == 1


def test_repeats_of_other_keys_are_kept() -> None:
    frame = VALID[:-2] + b"ChanVariable: A=1\r\nChanVariable: B=2\r\n\r\n"
    assert repeated_identity_key(frame.decode()) is None
    (event,) = _events(FrameParser(), frame)
    assert event["CallerIDNum"] == "2125550147"


def test_bare_lf_injection_is_caught_too() -> None:
    parser = FrameParser()
    events = _events(parser, INJECTED.replace(b"\r\n", b"\n"), VALID.replace(b"\r\n", b"\n"))
    assert [e["CallerIDNum"] for e in events] == ["2125550147"]
    assert parser.stats.repeated == 1


@pytest.mark.parametrize(
    "garbage",
    [b"\x00\xff\x1b[2J", b"junk without a line end ", b"GARBAGE LINE\r\nmore: garbage\r\n"],
)
def test_garbage_glued_to_a_frame_does_not_swallow_it(garbage: bytes) -> None:
    parser = FrameParser()
    events = _events(parser, garbage + VALID)
    assert [e["Uniqueid"] for e in events] == ["1795756586.1"]
    assert "more" not in events[0]
    assert parser.stats.garbage == 1


def test_oversized_garbage_does_not_swallow_the_next_frame() -> None:
    junk = b"\x07" * 3000 + b"\r\n"  # one long line of noise, no blank line after it
    # Fed in small reads: the parser is discarding when the frame starts.
    parser = FrameParser(max_frame_bytes=1024)
    chunks = [(junk + VALID)[i : i + 100] for i in range(0, len(junk + VALID), 100)]
    assert [e["Uniqueid"] for e in _events(parser, *chunks)] == ["1795756586.1"]
    # In one read: the garbage and the frame arrive as one oversized block.
    parser = FrameParser(max_frame_bytes=1024)
    assert [e["Uniqueid"] for e in _events(parser, VALID + junk + VALID)] == ["1795756586.1"] * 2


async def test_injected_number_is_never_texted_end_to_end(tmp_path: Path) -> None:
    trace = read_trace(TRACES / "direct-caller-hangup-ringing.ami")
    (frames,) = [call_stream([trace], 1, rate=1, start_at=time.time() - 5, fresh_numbers=False)]
    poisoned = [f.replace(b"Pat Caller\r\n", b"Eve\r\nCallerIDNum: 2125550199\r\n") for f in frames]
    assert poisoned != frames
    # Every frame read (the +1: the Login reply), then the service stops and records.
    out = await run_service(
        tmp_path,
        poisoned,
        lambda parts: (
            parts.connection.stats.parser.frames + parts.connection.stats.parser.repeated
            >= len(poisoned) + 1
        ),
    )
    stats = out.parts.connection.stats.parser
    # Frames filtered by name never reach the check; every other poisoned one is dropped.
    assert stats.repeated > 0
    assert stats.repeated + stats.skipped >= sum(b"2125550199" in f for f in poisoned)
    assert all("2125550199" not in t.to_e164 for t in out.texts)
    assert all(c.caller_number != "2125550199" for c in out.calls)
