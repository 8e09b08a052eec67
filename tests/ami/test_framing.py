"""FrameParser: any split of the byte stream gives the same events, losing no character."""

from __future__ import annotations

import logging

import pytest

from asterisk_textback.ami.framing import (
    DEFAULT_SKIP_EVENTS,
    TRACKED_VARIABLES,
    FrameParser,
    parse_frame,
)
from asterisk_textback.ami.sim.tracefile import read_trace
from tests.conftest import TRACES, trace_names

NAME_FRAME = (
    "Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/trunk-00000001\r\n"
    "CallerIDNum: 4915112345678\r\nCallerIDName: Jürgen Müller\r\n"
    "Uniqueid: 1795756586.1\r\nLinkedid: 1795756586.1\r\n\r\n"
).encode()


def feed_all(parser: FrameParser, chunks: list[bytes]) -> list[dict[str, str]]:
    """Feed chunks and return every event delivered."""
    events: list[dict[str, str]] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk)[0])
    return events


def test_name_survives_a_split_at_every_byte_offset() -> None:
    for k in range(len(NAME_FRAME) + 1):
        parser = FrameParser()
        events = feed_all(parser, [NAME_FRAME[:k], NAME_FRAME[k:]])
        assert [e["CallerIDName"] for e in events] == ["Jürgen Müller"], k
        assert parser.buffered == 0


@pytest.mark.parametrize("name", trace_names())
def test_trace_byte_by_byte_equals_one_shot(name: str) -> None:
    data = (TRACES / name).read_bytes()
    whole = FrameParser(skip_events=frozenset()).feed(data)[0]
    assert len(whole) == data.count(b"\r\n\r\n")
    assert all("Event" in e and "Privilege" in e for e in whole)
    for size in (1, 7, 4096):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        assert feed_all(FrameParser(skip_events=frozenset()), chunks) == whole


def test_default_skip_set_drops_noise_and_counts_it() -> None:
    data = (TRACES / "direct-answered.ami").read_bytes()
    parser = FrameParser()
    events, _ = parser.feed(data)
    assert not {e["Event"] for e in events} & DEFAULT_SKIP_EVENTS
    assert parser.stats.skipped > 0
    assert parser.stats.frames == data.count(b"\r\n\r\n")
    assert len(events) + parser.stats.skipped == parser.stats.frames


def test_keep_variables_drops_only_untracked_varsets() -> None:
    data = (TRACES / "direct-voicemail-left.ami").read_bytes()
    every = FrameParser(skip_events=frozenset()).feed(data)[0]
    kept = FrameParser(skip_events=frozenset(), keep_variables=TRACKED_VARIABLES).feed(data)[0]
    wanted = [e for e in every if e["Event"] != "VarSet" or e["Variable"] in TRACKED_VARIABLES]
    assert kept == wanted
    assert len(kept) < len(every)
    assert {e["Variable"] for e in kept if e["Event"] == "VarSet"} >= {"VMSTATUS", "__FROM_DID"}


def test_custom_skip_set() -> None:
    parser = FrameParser(skip_events=frozenset({"Newchannel"}))
    assert parser.feed(NAME_FRAME) == ([], [])
    assert parser.stats.skipped == 1


def test_garbage_frame_is_logged_skipped_and_later_events_flow(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parser = FrameParser()
    with caplog.at_level(logging.WARNING):
        events = feed_all(parser, [b"this is not AMI\r\nat all\r\n\r\n", NAME_FRAME])
    assert [e["Event"] for e in events] == ["Newchannel"]
    assert parser.stats.garbage == 1
    assert "without Event or Response" in caplog.text
    assert "this is not AMI" in caplog.text


def test_oversized_frame_is_discarded_with_bounded_memory(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parser = FrameParser(max_frame_bytes=1024)
    with caplog.at_level(logging.WARNING):
        parser.feed(b"Event: Huge\r\nData: ")
        for _ in range(50):
            parser.feed(b"x" * 500)
            assert parser.buffered <= 1024
        events = feed_all(parser, [b"xx\r\n\r", b"\n" + NAME_FRAME])
    assert [e["Event"] for e in events] == ["Newchannel"]
    assert parser.stats.oversized == 1
    assert "larger than 1024 bytes" in caplog.text


def test_oversized_frame_inside_one_chunk_is_discarded() -> None:
    parser = FrameParser(max_frame_bytes=1024)
    huge = b"Event: Huge\r\nData: " + b"y" * 3000 + b"\r\n\r\n"
    events, _ = parser.feed(NAME_FRAME + huge + NAME_FRAME)
    assert [e["Event"] for e in events] == ["Newchannel", "Newchannel"]
    assert parser.stats.oversized == 1


def test_bare_lf_line_endings_are_tolerated() -> None:
    data = NAME_FRAME.replace(b"\r\n", b"\n")
    events = feed_all(FrameParser(), [data[:40], data[40:]])
    assert events[0]["CallerIDName"] == "Jürgen Müller"
    assert events[0]["Linkedid"] == "1795756586.1"


def test_empty_values_and_lines_without_separator() -> None:
    headers = parse_frame("Event: VarSet\r\nAccountCode: \r\nExten:\r\nnoise line\r\nA: b: c")
    assert headers == {"Event": "VarSet", "AccountCode": "", "Exten": "", "A": "b: c"}


def test_replies_keep_their_position_among_events() -> None:
    data = (
        NAME_FRAME
        + b"Response: Success\r\nActionID: 1\r\nEventList: start\r\n\r\n"
        + b"Event: CoreShowChannel\r\nActionID: 1\r\nUniqueid: 9.9\r\n\r\n"
        + b"Event: CoreShowChannelsComplete\r\nActionID: 1\r\nListItems: 1\r\n\r\n"
        + NAME_FRAME
    )
    events, replies = FrameParser().feed(data)
    assert len(events) == 2
    assert [(pos, r.get("Response") or r["Event"]) for pos, r in replies] == [
        (1, "Success"),
        (1, "CoreShowChannel"),
        (1, "CoreShowChannelsComplete"),
    ]


def test_banner_is_read_even_when_split() -> None:
    parser = FrameParser(expect_banner=True)
    assert parser.feed(b"Asterisk Call") == ([], [])
    assert parser.banner is None
    _, replies = parser.feed(b" Manager/9.0.0\r\nResponse: Success\r\n\r\n")
    assert parser.banner == "Asterisk Call Manager/9.0.0"
    assert replies == [(0, {"Response": "Success"})]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    events, _ = FrameParser().feed(b"Event: X\r\nCallerIDName: bad \xff\xfe\r\n\r\n")
    assert events[0]["CallerIDName"] == "bad \ufffd\ufffd"


def test_all_traces_parse_like_read_trace() -> None:
    for name in trace_names():
        frames = read_trace(TRACES / name)
        events = FrameParser(skip_events=frozenset()).feed(b"".join(frames))[0]
        assert len(events) == len(frames)
