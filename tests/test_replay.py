"""End to end over loopback TCP: AmiServer -> AmiConnection -> CallListener -> CallTracker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from asterisk_textback.ami.connection import AmiConnection
from asterisk_textback.ami.settings import PbxSettings
from asterisk_textback.ami.sim.accounts import AmiAccount
from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import (
    clone,
    interleave,
    read_trace,
    strip_headers,
    strip_privilege_class,
)
from asterisk_textback.calls.listener import CallListener
from asterisk_textback.calls.model import CallEnded, Outcome, Reason
from asterisk_textback.calls.tracker import CallTracker
from asterisk_textback.cli.main import main
from asterisk_textback.cli.replay import replay
from asterisk_textback.config import Settings
from tests.calls.helpers import assert_matches
from tests.conftest import manifest, trace_names


async def until(predicate: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait until ``predicate()`` holds (state owned by the listener/connection under test)."""
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110 - polling objects that expose no event
            await asyncio.sleep(0.01)


async def _replay(frames: list[bytes]) -> list[CallEnded]:
    calls: list[CallEnded] = []
    await replay(frames, Settings(), calls.append)
    return calls


@pytest.mark.parametrize("variant", ["as-recorded", "no-timestamp", "no-dialplan-class"])
async def test_every_trace_over_tcp_matches_manifest(traces_dir: Path, variant: str) -> None:
    frames: list[bytes] = []
    expected = []
    for name in trace_names():
        f = read_trace(traces_dir / name)
        if variant == "no-timestamp":
            f = strip_headers(f, {"Timestamp"})
        elif variant == "no-dialplan-class":
            f = strip_privilege_class(f, "dialplan")
        frames.extend(f)
        expected.extend(manifest()["traces"][name]["calls"])
    got = await _replay(frames)
    # Calls end in file order here: each trace is one call, streamed one after the other.
    assert_matches(got, expected, dialplan=variant != "no-dialplan-class")


async def test_interleaved_clones_give_the_same_per_call_results(traces_dir: Path) -> None:
    copies = []
    expected: dict[str, dict[str, str]] = {}
    for t, name in enumerate(trace_names()):
        (exp,) = manifest()["traces"][name]["calls"]
        for frames in clone(read_trace(traces_dir / name), 4, spacing=0.7, start=1 + 10 * t):
            copies.append(frames)
            expected[f"{name}#{len(copies)}"] = exp
    stream = interleave(copies)
    got = await _replay(stream)
    assert len(got) == len(copies) == 60
    assert len({c.linkedid for c in got}) == 60  # no call twice
    by_outcome = sorted((c.outcome, c.reason, c.caller_number) for c in got)
    want = sorted(
        (Outcome(e["outcome"]), Reason(e["reason"]), e["caller_number"]) for e in expected.values()
    )
    assert by_outcome == want


async def test_least_privilege_user_without_dialplan_class(traces_dir: Path) -> None:
    """The server filters by the account's read classes, as Asterisk does."""
    frames = [f for n in trace_names() for f in read_trace(traces_dir / n)]
    account = AmiAccount("pw", read=frozenset({"call", "agent", "user"}))
    calls: list[CallEnded] = []
    tracker = CallTracker()
    listener = CallListener(tracker, calls.append)
    async with AmiServer({"lp": account}) as server:
        settings = PbxSettings(port=server.port, username="lp", secret="pw")
        async with AmiConnection(settings, environ={}) as conn:
            consumer = asyncio.create_task(conn.run_consumer(listener.handle))
            await conn.wait_ready()
            await server.stream(frames)
            await until(lambda: len(calls) >= len(trace_names()), seconds=10)
            await conn.close()
            await consumer
    expected = [c for n in trace_names() for c in manifest()["traces"][n]["calls"]]
    assert_matches(calls, expected, dialplan=False)
    assert tracker.stats.events > 0


async def test_drop_mid_call_and_restore_no_duplicate_no_loss(traces_dir: Path) -> None:
    answered = clone(read_trace(traces_dir / "direct-answered.ami"), 1, start=1)[0]
    missed = clone(read_trace(traces_dir / "direct-caller-hangup-ringing.ami"), 1, start=2)[0]
    vm = clone(read_trace(traces_dir / "direct-voicemail-left.ami"), 1, start=3)[0]
    after = clone(read_trace(traces_dir / "queue-abandon.ami"), 1, start=4)[0]

    def cut(frames: list[bytes], marker: bytes) -> int:
        return next(i for i, f in enumerate(frames) if f.startswith(marker))

    a_cut = cut(answered, b"Event: BridgeEnter")  # answered before the drop
    m_cut = cut(missed, b"Event: DialState")  # ringing at the drop, hangs up during it
    v_cut = cut(vm, b"Event: DialState")  # ringing at the drop, still up after it
    calls: list[CallEnded] = []
    tracker = CallTracker()
    listener = CallListener(tracker, calls.append)
    async with AmiServer({"u": "pw"}) as server:
        settings = PbxSettings(
            port=server.port, username="u", secret="pw", reconnect_min=0.05, reconnect_max=0.2
        )
        async with AmiConnection(settings, environ={}) as conn:
            consumer = asyncio.create_task(conn.run_consumer(listener.handle))
            await conn.wait_ready()
            await server.stream(answered[:a_cut] + missed[:m_cut] + vm[:v_cut])
            await until(lambda: tracker.open_calls >= 3)
            server.accept_connections = False
            server.drop_connections()
            # During the outage: the ringing caller hangs up, the others carry on.
            await server.stream(missed[m_cut:] + vm[v_cut : v_cut + 3])
            server.accept_connections = True
            await until(lambda: conn.stats.resyncs >= 1 and bool(calls))
            await server.stream(answered[a_cut:] + vm[v_cut + 3 :] + after)
            await until(lambda: len(calls) >= 4)
            await asyncio.sleep(0.1)  # anything extra would show up now
            await conn.close()
            await consumer
    by_caller = {c.caller_number: c for c in calls}
    assert len(calls) == 4 == len({c.linkedid for c in calls})
    assert (by_caller["2125550147"].outcome, by_caller["2125550147"].reason) in {
        (Outcome.UNKNOWN, Reason.CONNECTION_LOST),  # the caller that hung up unseen
        (Outcome.ANSWERED, Reason.ANSWERED),
    }
    outcomes = sorted((c.caller_number, c.outcome.value) for c in calls)
    assert outcomes == [
        ("2065550142", "missed_no_voicemail"),  # after the outage: classified normally
        ("2125550147", "answered"),  # answered before the drop: stays answered
        ("2125550147", "unknown"),  # hung up during the outage: never texted
        ("2125550147", "unknown"),  # lived through the outage unanswered: never texted
    ]


def test_cli_replay_builtin_traces_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 8
    required = {
        "linkedid",
        "direction",
        "outcome",
        "reason",
        "caller_number",
        "caller_name",
        "did",
        "mailbox",
        "started_at",
        "ended_at",
    }
    assert all(required <= r.keys() for r in records)
    assert {r["outcome"] for r in records} == {
        "answered",
        "missed_voicemail",
        "missed_no_voicemail",
    }


def test_cli_replay_table(traces_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(traces_dir / "queue-abandon.ami")]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[:4] == ["ended", "direction", "outcome", "reason"]
    for cell in ("abandoned", "Alex Kim", "support"):
        assert cell in row


def test_cli_bad_config_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "textback.toml"
    cfg.write_text('[tracker]\ntrunk_contexts = []\n[pbx]\nport = "x"\n')
    assert main(["replay", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "tracker.trunk_contexts" in err
    assert "pbx.port" in err


def test_cli_config_contexts_are_used(
    tmp_path: Path, traces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "textback.toml"
    cfg.write_text('[tracker]\ntrunk_contexts = ["nothing-matches"]\n')
    trace = tmp_path / "t.ami"
    trace.write_bytes(
        b"".join(strip_privilege_class(read_trace(traces_dir / "direct-answered.ami"), "dialplan"))
    )
    assert main(["replay", "--json", "-c", str(cfg), str(trace)]) == 0
    (record,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert record["direction"] == "outbound"


def test_cli_unreadable_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path / "missing.ami")]) == 2
    assert "missing.ami" in capsys.readouterr().err
