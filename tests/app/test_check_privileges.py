"""``check`` names the AMI read classes the user lacks: from manager.conf or from the events.

The end-to-end cases run ``run_checks`` against the in-repo AmiServer over TCP, which filters
the recorded Asterisk 22 traces by each account's read classes as Asterisk does; the unit
cases feed the same traces, filtered the same way, to the deduction module directly.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from asterisk_textback.ami.framing import FrameParser
from asterisk_textback.ami.managerconf import (
    AMI_CLASSES,
    ConfigCategory,
    get_perm,
    parse_getconfig,
    render_getconfig,
    user_read_line,
)
from asterisk_textback.ami.privileges import (
    TRACKER_CLASSES,
    PrivilegeObserver,
    Verdict,
    event_classes,
)
from asterisk_textback.ami.sim.accounts import AmiAccount
from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import read_trace, strip_headers
from asterisk_textback.cli.check_report import CheckResult, format_results
from asterisk_textback.cli.checks import run_checks
from asterisk_textback.cli.main import build_parser
from tests.app.test_checks import _loaded
from tests.conftest import TRACES, manifest, trace_names

HOOKED = TRACES.parent / "hooked"
LEAST_WRITE = frozenset({"reporting", "message"})  # dialplan/manager_custom.conf
FIX = "read = call,agent,user,dialplan"
Event = dict[str, str]


def _events(frames: Iterable[bytes]) -> list[Event]:
    events, _ = FrameParser(skip_events=frozenset()).feed(b"".join(frames))
    return events


def _as_received(events: Iterable[Event], read: Iterable[str]) -> list[Event]:
    """What a session with these read classes receives (manager.c: readperm & category)."""
    granted = frozenset(read)
    return [e for e in events if not event_classes(e) or event_classes(e) & granted]


def _observe(events: Iterable[Event]) -> PrivilegeObserver:
    observer = PrivilegeObserver()
    for event in events:
        observer.feed(event)
    return observer


def _trace(name: str, hooked: bool = False) -> list[Event]:
    return _events(read_trace((HOOKED if hooked else TRACES) / name))


def _account(read: Iterable[str], write: Iterable[str] = LEAST_WRITE) -> AmiAccount:
    return AmiAccount("s3cret", frozenset(read), frozenset(write))


async def _check(
    tmp_path: Path,
    account: AmiAccount,
    trace: Path | None = None,
    *,
    watch: float,
    hook: bool = False,
) -> tuple[CheckResult, float]:
    """Run every check with ``trace`` streamed once the check has logged in."""
    async with AmiServer({"textback": account}) as server:
        if hook:
            server.dialplan_contexts.add("textback-hangup")

        async def play() -> None:
            await server.wait_logged_in()
            if trace is not None:
                await server.stream(read_trace(trace))

        player = asyncio.create_task(play())
        started = time.monotonic()
        results = await run_checks(
            _loaded(tmp_path, server.port), {"AMI_SECRET": "s3cret"}, watch=watch
        )
        elapsed = time.monotonic() - started
        await player
    by_name = {r.name: r for r in results}
    assert by_name["ami"].ok, format_results(results)
    return by_name["ami classes"], elapsed


def _first(events: list[Event], event: str, **match: str) -> Event:
    return next(
        e for e in events if e["Event"] == event and all(e.get(k) == v for k, v in match.items())
    )


# -- check against the in-repo AMI server ---------------------------------------------------


@pytest.mark.parametrize(
    "trace", ["queue-answered.ami", "queue-abandon.ami", "queue-timeout-voicemail-left.ami"]
)
async def test_a_user_without_agent_fails_naming_agent_on_a_queue_call(
    tmp_path: Path, trace: str
) -> None:
    result, _ = await _check(
        tmp_path, _account({"call", "user", "dialplan"}), TRACES / trace, watch=1.5
    )
    report = format_results([result])
    assert not result.ok, report
    assert "lacks read class agent\n" in result.detail + "\n", report
    caller = _first(_trace(trace), "Newexten", Application="Queue")["Channel"]
    assert f"{caller} ran Queue(" in result.detail, report
    assert "QueueCallerJoin" in result.detail
    assert FIX in result.fix
    assert "[textback]" in result.fix
    assert "manager reload" in result.fix
    # call and dialplan events did arrive: they are not blamed.
    assert "received in" in result.detail
    assert "call, dialplan" in result.detail
    assert "lacks read class agent, " not in result.detail


async def test_a_user_without_dialplan_is_told_so(tmp_path: Path) -> None:
    trace = TRACES / "direct-voicemail-left.ami"
    result, _ = await _check(tmp_path, _account({"call", "agent", "user"}), trace, watch=1.5)
    report = format_results([result])
    assert "lacks read class dialplan" in result.detail, report
    trunk = _first(_trace(trace.name), "Newchannel", ChannelState="4")["Channel"]
    assert trunk in result.detail
    # dialplan is optional for the tracker (manager_custom.conf): a warning, not a failure.
    assert result.ok, report
    assert result.warn, report
    assert report.startswith("[WARN] ami classes:")
    assert FIX in result.fix


async def test_an_idle_pbx_with_the_hook_asks_for_a_test_call_for_user(tmp_path: Path) -> None:
    result, _ = await _check(tmp_path, _account(TRACKER_CLASSES), watch=0.6, hook=True)
    assert result.warn
    assert "not seen in 0.6 s of events: call, agent, user, dialplan" in result.detail
    assert "only the dialplan hook" not in result.detail


async def test_a_user_without_call_fails_naming_call(tmp_path: Path) -> None:
    trace = TRACES / "ringgroup-voicemail-left.ami"
    result, _ = await _check(tmp_path, _account({"agent", "user", "dialplan"}), trace, watch=1.5)
    assert not result.ok
    assert "lacks read class call\n" in result.detail
    assert "DIALSTATUS=NOANSWER" in result.detail


async def test_the_least_privilege_user_passes_and_stops_watching_early(tmp_path: Path) -> None:
    trace = HOOKED / "queue-timeout-voicemail-left.ami"
    result, elapsed = await _check(tmp_path, _account(TRACKER_CLASSES), trace, watch=20.0)
    assert result.ok, format_results([result])
    assert not result.warn, format_results([result])
    assert "call, agent, user, dialplan" in result.detail
    assert elapsed < 10.0  # every class decided: no need to sit out the window


async def test_an_idle_pbx_warns_that_nothing_was_seen(tmp_path: Path) -> None:
    result, elapsed = await _check(tmp_path, _account(TRACKER_CLASSES), watch=0.6)
    report = format_results([result])
    assert result.ok, report
    assert result.warn, report
    # Without the hook nothing sends UserEvents: a test call cannot show `user`.
    assert "not seen in 0.6 s of events: call, agent, dialplan: place a test call" in report
    assert "user: only the dialplan hook sends its events, and it is not loaded" in report
    assert "check --watch 60" in result.detail
    assert "lacks" not in result.detail
    assert elapsed >= 0.6  # the whole window was watched
    assert report.startswith("[WARN] ami classes:")


async def test_getconfig_names_the_missing_class_without_any_traffic(tmp_path: Path) -> None:
    account = _account({"call", "user", "dialplan"}, {"config", "reporting"})
    result, elapsed = await _check(tmp_path, account, watch=20.0)
    report = format_results([result])
    assert not result.ok, report
    assert result.detail.startswith("AMI user 'textback' lacks read class agent\n")
    assert "read = call,dialplan,user" in result.detail
    assert "GetConfig" in result.detail
    assert FIX in result.fix
    assert elapsed < 10.0  # manager.conf answered: no watching


async def test_getconfig_user_class_fails_only_when_the_hook_is_loaded(tmp_path: Path) -> None:
    account = _account({"call", "agent", "dialplan"}, {"system", "reporting"})
    without, _ = await _check(tmp_path, account, watch=5.0)
    assert without.ok
    assert without.warn
    assert "lacks read class user" in without.detail
    hooked, _ = await _check(tmp_path, account, watch=5.0, hook=True)
    assert not hooked.ok
    assert "lacks read class user" in hooked.detail


async def test_getconfig_passes_a_complete_user(tmp_path: Path) -> None:
    result, _ = await _check(tmp_path, _account(TRACKER_CLASSES, {"config", "reporting"}), watch=5)
    assert result.ok, result.detail
    assert not result.warn, result.detail
    assert "read = agent,call,dialplan,user" in result.detail


def test_check_takes_a_watch_window() -> None:
    parser = build_parser()
    assert parser.parse_args(["check", "-c", "t.toml", "--watch", "60"]).watch == 60.0
    assert 0 < parser.parse_args(["check", "-c", "t.toml"]).watch <= 10


# -- the deduction over real traces --------------------------------------------------------


def _subsets() -> list[frozenset[str]]:
    return [
        frozenset(c)
        for n in range(len(TRACKER_CLASSES) + 1)
        for c in itertools.combinations(TRACKER_CLASSES, n)
    ]


@pytest.mark.parametrize("hooked", [False, True])
def test_never_blames_a_granted_class_on_any_trace(hooked: bool) -> None:
    """Every trace, every combination of read classes: granted classes are never 'missing'."""
    for name in trace_names():
        events = _trace(name, hooked)
        for read in _subsets():
            received = _as_received(events, read)
            observer = _observe(received)
            for v in observer.verdicts():
                arrived = any(v.name in event_classes(e) for e in received)
                assert (v.verdict is Verdict.GRANTED) == arrived, (name, read, v)
                if v.name in read:
                    assert v.verdict is not Verdict.MISSING, (name, read, v)


@pytest.mark.parametrize("name", trace_names())
def test_dialplan_is_proven_missing_on_every_recorded_call(name: str) -> None:
    # Every recorded call comes in on a channel that then dials (Dial or Queue).
    verdict = _observe(_as_received(_trace(name), {"call", "agent", "user"})).verdict("dialplan")
    assert verdict.verdict is Verdict.MISSING
    assert _first(_trace(name), "Newchannel", ChannelState="4")["Channel"] in verdict.evidence


@pytest.mark.parametrize("name", trace_names())
def test_agent_is_proven_missing_exactly_on_queue_calls(name: str) -> None:
    events = _trace(name)
    queue = any(e["Event"] == "QueueCallerJoin" for e in events)
    verdict = _observe(_as_received(events, {"call", "user", "dialplan"})).verdict("agent")
    assert verdict.verdict is (Verdict.MISSING if queue else Verdict.NOT_SEEN), verdict


@pytest.mark.parametrize("name", trace_names())
def test_call_is_proven_missing_when_a_dial_rang_someone(name: str) -> None:
    events = _trace(name)
    calls = manifest()["traces"][name]["calls"]
    # A Dial that rang a phone (not busy at once, not a queue) must have sent DialBegin.
    rang = not any(e["Event"] == "QueueCallerJoin" for e in events) and all(
        c["reason"] != "busy" for c in calls
    )
    verdict = _observe(_as_received(events, {"agent", "user", "dialplan"})).verdict("call")
    assert verdict.verdict is (Verdict.MISSING if rang else Verdict.NOT_SEEN), verdict


def _with_userevent_app(events: list[Event]) -> list[Event]:
    """The hooked trace plus the Newexten Asterisk publishes for ``UserEvent(TextBack,…)``."""
    at = next(i for i, e in enumerate(events) if e["Event"] == "UserEvent")
    snapshot = {k: v for k, v in events[at].items() if k in _first(events, "Newexten")}
    newexten = {
        **snapshot,
        "Event": "Newexten",
        "Privilege": "dialplan,all",
        "Context": "textback-hangup",
        "Extension": "s",
        "Application": "UserEvent",
        "AppData": "TextBack,HookVersion: 1,DID: 5550400",
    }
    return [*events[:at], newexten, *events[at:]]


def test_user_is_proven_missing_when_the_hooks_userevent_never_arrives() -> None:
    events = _with_userevent_app(_trace("queue-answered.ami", hooked=True))
    missing = _observe(_as_received(events, {"call", "agent", "dialplan"})).verdict("user")
    assert missing.verdict is Verdict.MISSING
    assert "UserEvent(TextBack" in missing.evidence
    granted = _observe(_as_received(events, TRACKER_CLASSES)).verdict("user")
    assert granted.verdict is Verdict.GRANTED
    # The channel has not moved on yet: the UserEvent may still be on its way.
    cut = events[: next(i for i, e in enumerate(events) if e.get("Application") == "UserEvent")]
    pending = _observe(_as_received([*cut, events[len(cut)]], {"call", "dialplan"}))
    assert pending.verdict("user").verdict is Verdict.NOT_SEEN


def test_verdicts_do_not_depend_on_timestamps() -> None:
    for name in trace_names():
        frames = read_trace(TRACES / name)
        plain = _events(strip_headers(frames, ["Timestamp"]))
        for read in _subsets():
            a = _observe(_as_received(_events(frames), read)).verdicts()
            b = _observe(_as_received(plain, read)).verdicts()
            assert a == b, (name, read)


def test_an_event_of_several_classes_proves_none_of_them_alone() -> None:
    observer = _observe([{"Event": "Cdr", "Privilege": "cdr,call,all", "Uniqueid": "1.1"}])
    assert observer.verdict("call").verdict is Verdict.NOT_SEEN
    observer.feed({"Event": "Hangup", "Privilege": "call,all", "Uniqueid": "1.1"})
    assert observer.verdict("call").verdict is Verdict.GRANTED


# -- manager.conf as Asterisk reads it -------------------------------------------------------


def test_get_perm_parses_like_asterisk() -> None:
    assert get_perm("call,agent,user,dialplan") == {"call", "agent", "user", "dialplan"}
    assert get_perm("all") == set(AMI_CLASSES)
    assert get_perm("none") == set()
    assert get_perm("") == set()
    # Case and spaces matter; a space after a comma loses the class.
    assert get_perm("call, agent,user, dialplan") == {"call", "user"}
    assert get_perm("Call,agent") == {"agent"}
    # Tokens before the last match as prefixes (ast_instring's strncmp), the last exactly.
    assert get_perm("dial,call") == {"dialplan", "call"}
    assert get_perm("call,dial") == {"call"}


def test_the_last_read_line_of_the_users_sections_wins() -> None:
    cats = [
        ConfigCategory("general", (("read", "all"),)),
        ConfigCategory("admin", (("secret", "x"), ("read", "all"))),
        ConfigCategory("TextBack", (("secret", "s"), ("read", "call"), ("READ", "call,agent"))),
        ConfigCategory("textback", (("write", "reporting"),)),
    ]
    line = user_read_line(cats, "textback")
    assert line is not None
    assert line.value == "call,agent"
    assert line.classes == {"call", "agent"}
    assert line.sections == 2
    later = [*cats, ConfigCategory("textback", (("read", "dialplan"),))]
    assert user_read_line(later, "textback") == user_read_line(later, "TEXTBACK")
    assert user_read_line(later, "textback").classes == {"dialplan"}  # type: ignore[union-attr]
    assert user_read_line(cats, "nobody") is None
    assert user_read_line(cats, "general") is None
    no_read = user_read_line([ConfigCategory("textback", (("secret", "s"),))], "textback")
    assert no_read is not None
    assert no_read.value is None
    assert not no_read.classes


def test_getconfig_response_round_trip() -> None:
    # As manager.c's action_getconfig writes it (Asterisk 22), parsed by our frame parser.
    raw = (
        b"Response: Success\r\nActionID: 7\r\n"
        b"Category-000000: general\r\nLine-000000-000000: enabled=yes\r\n"
        b"Category-000001: textback\r\nLine-000001-000000: secret=a=b\r\n"
        b"Line-000001-000001: read=call,agent\r\nLine-000001-000002: read=call,user\r\n\r\n"
    )
    _, replies = FrameParser().feed(raw)
    cats = parse_getconfig(replies[0][1])
    assert cats == [
        ConfigCategory("general", (("enabled", "yes"),)),
        ConfigCategory(
            "textback", (("secret", "a=b"), ("read", "call,agent"), ("read", "call,user"))
        ),
    ]
    assert parse_getconfig(render_getconfig(cats)) == cats
    assert user_read_line(cats, "textback").classes == {"call", "user"}  # type: ignore[union-attr]


def test_a_channel_that_never_ran_the_dialplan_proves_nothing() -> None:
    # An Originate with Application=Dial: the channel is created Down and runs Dial directly,
    # no dialplan priority, so no Newexten is owed for it.
    down = {"Event": "Newchannel", "Privilege": "call,all", "ChannelState": "0"}
    dial = {"Event": "DialBegin", "Privilege": "call,all", "DestUniqueid": "9.2"}
    events = [{**down, "Uniqueid": "9.1"}, {**dial, "Uniqueid": "9.1"}]
    assert _observe(events).verdict("dialplan").verdict is Verdict.NOT_SEEN
    ring = [{**events[0], "ChannelState": "4"}, events[1]]
    assert _observe(ring).verdict("dialplan").verdict is Verdict.MISSING
