"""A PBX clock that lies cannot age, delay or drop a text (issue 13)."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pytest

from asterisk_textback.ami.clock import PbxClock
from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import read_trace
from asterisk_textback.ami.sim.workload import call_stream
from asterisk_textback.app.service import RunningService
from asterisk_textback.calls.settings import TrackerSettings
from asterisk_textback.calls.tracker import CallTracker
from asterisk_textback.cli.check_report import format_results
from asterisk_textback.cli.checks import run_checks
from asterisk_textback.config import settings_from_mapping
from asterisk_textback.store.schema import upgrade
from asterisk_textback.textback.loading import prepare
from tests.conftest import TRACES
from tests.security.helpers import run_service

HOUR = 3600.0
DAY = 24 * HOUR
TRACE = TRACES / "direct-voicemail-left.ami"
#: Every recorded missed call with a voicemail: texted whatever the call's length (the
#: misdial minimum applies to hang-ups, and a fast stream makes every call short).
MISSED = [
    "direct-voicemail-left.ami",
    "direct-busy-voicemail-left.ami",
    "local-ringgroup-voicemail-left.ami",
    "queue-timeout-voicemail-left.ami",
    "ringgroup-voicemail-left.ami",
]


def _one_call(start_at: float) -> list[bytes]:
    return call_stream([read_trace(TRACE)], 1, rate=1, start_at=start_at, fresh_numbers=False)


def _sent(parts: RunningService) -> bool:
    return parts.dispatcher.stats.sent >= 1


@pytest.mark.parametrize("skew", [-2 * HOUR, DAY], ids=["2h-behind", "1day-ahead"])
async def test_missed_calls_are_texted_on_time_whatever_the_pbx_clock(
    tmp_path: Path, skew: float, caplog: pytest.LogCaptureFixture
) -> None:
    # The recorded calls as the PBX stamps them: ending about now on its own (wrong) clock,
    # each from a different caller so no cooldown or cap gets in the way.
    traces = [read_trace(TRACES / name) for name in MISSED]
    frames = call_stream(traces, len(traces), rate=10, start_at=time.time() + skew - 10)
    streamed_at = time.time()
    with caplog.at_level(logging.WARNING, logger="asterisk_textback.ami.clock"):
        out = await run_service(
            tmp_path,
            frames,
            lambda parts: parts.dispatcher.stats.sent >= len(traces),
            # One sender: let it send them all at once instead of one a second.
            extra={"provider": {"rate_per_second": 50}},
        )
    assert [c.outcome.value for c in out.calls] == ["missed_voicemail"] * len(traces)
    assert len(out.texts) == len(traces)
    for call in out.calls:
        # Call times follow this server's clock, not the PBX's.
        assert abs(call.ended_at.timestamp() - streamed_at) < 5
    for text in out.texts:
        assert text.sent_at is not None
        assert 0 <= text.sent_at.timestamp() - streamed_at < 3
        assert text.send_at.timestamp() - streamed_at < 3
        assert text.expires_at is None or text.expires_at.timestamp() > streamed_at + 60
    # Logged once, with the offset and the fix.
    warnings = [r.getMessage() for r in caplog.records if "clock is" in r.getMessage()]
    assert len(warnings) == 1, warnings
    way = "behind" if skew < 0 else "ahead of"
    assert re.search(rf"clock is \d+ s {way} this server's", warnings[0])
    assert "NTP" in warnings[0]


@pytest.mark.parametrize("bad", [b"nan", b"inf", b"-inf", b"1e999", b"soon"])
async def test_non_finite_timestamps_still_text_the_caller(tmp_path: Path, bad: bytes) -> None:
    frames = [
        re.sub(rb"(?m)^Timestamp: [^\r]*\r$", b"Timestamp: " + bad + b"\r", f)
        for f in _one_call(time.time() - 10)
    ]
    assert all(b"Timestamp: " + bad in f for f in frames if b"Timestamp" in f)
    out = await run_service(tmp_path, frames, _sent)
    assert len(out.texts) == 1
    assert out.parts.pbxes[0].listener.errors == 0
    assert out.parts.connection.stats.handler_errors == 0


def test_replayed_nan_timestamps_fall_back_to_the_read_time() -> None:
    # replay trusts recorded Timestamps (no PbxClock), but never a non-finite one.
    tracker = CallTracker(TrackerSettings())
    done = []
    now = 1_800_000_000.0
    for frame in read_trace(TRACE):
        text = frame.decode().replace("\r\n\r\n", "")
        event = dict(line.split(": ", 1) for line in text.split("\r\n") if ": " in line)
        if "Timestamp" in event:
            event["Timestamp"] = "nan"
        done += tracker.feed(event, now)
    (call,) = done
    assert call.ended_at == now
    assert tracker.stats.malformed > 0


def test_clock_keeps_a_good_timestamp_but_never_a_future_one() -> None:
    clock = PbxClock(60.0)
    assert clock.event_time("999.5", 1000.0) == 999.5
    assert clock.event_time("1030", 1000.0) == 1000.0  # 30 s ahead: within skew, clamped
    assert clock.event_time(None, 1000.0) == 1000.0
    assert clock.event_time("7200", 14_400.0) == 14_400.0  # 2 h behind: ours
    assert clock.offset == -7200.0
    assert clock.event_time("nan", 1000.0) == 1000.0
    assert clock.distrusted == 2


async def test_check_reports_the_offset_with_the_ntp_fix(tmp_path: Path) -> None:
    async with AmiServer({"tb": "pw"}) as server:
        server.clock_offset = -2 * HOUR
        url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
        await upgrade(url)
        loaded = prepare(
            settings_from_mapping(
                {
                    "pbx": {"port": server.port, "username": "tb", "secret": "pw"},
                    "database": {"url": url},
                }
            )
        )
        results = {r.name: r for r in await run_checks(loaded, {}, watch=0.1)}
        server.clock_offset = 5.0
        ok = {r.name: r for r in await run_checks(loaded, {}, watch=0.1)}
    clock = results["pbx clock"]
    assert clock.warn
    assert "clock is 7200 s behind this server's" in clock.detail
    assert "NTP" in clock.fix
    assert "fix: set the PBX's clock from NTP" in format_results(list(results.values()))
    assert not ok["pbx clock"].warn
    assert "5 s ahead of" in ok["pbx clock"].detail
