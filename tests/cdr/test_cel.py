"""CEL: the cel_custom CSV reader and the classifier, on CEL derived from the real traces."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from asterisk_textback.calls.model import Reason
from asterisk_textback.cdr.cel import CelEvent
from asterisk_textback.cdr.celclassify import group_cel
from asterisk_textback.cdr.celcsv import (
    CEL_CSV_COLUMNS,
    CelReadStats,
    parse_columns,
    read_cel_calls,
    read_cel_events,
)
from asterisk_textback.cdr.csvfile import read_calls
from asterisk_textback.cdr.history import HistorySources, iter_file_history, merge_calls
from asterisk_textback.cdr.model import CdrDirection, CdrOutcome
from asterisk_textback.cdr.summary import summarize

FIXTURES = Path(__file__).parents[1] / "fixtures"
CEL = FIXTURES / "cel" / "Master.csv"
CDR = FIXTURES / "cdr" / "Master.csv"
MANIFEST = json.loads((FIXTURES / "traces" / "manifest.json").read_text(encoding="utf-8"))
EXPECTED = [call for trace in MANIFEST["traces"].values() for call in trace["calls"]]
#: CEL, like CDR, cannot see whether a message was saved: a greeting hang-up is "reached
#: voicemail" with the reason nobody answered (the live tracker's VMSTATUS is not in CEL).
CEL_CANNOT_TELL = {"voicemail_no_message": "no_answer"}


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as target:
        csv.writer(target, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    return path


def _rows() -> list[list[str]]:
    with CEL.open(encoding="utf-8", newline="") as source:
        return list(csv.reader(source))


def test_every_traced_call_is_classified_as_the_manifest_says() -> None:
    """15 calls from 15 traces: direction, answered/missed, reason, voicemail, mailbox."""
    calls = list(read_cel_calls(CEL))
    assert len(calls) == len(EXPECTED) == 15
    for call, want in zip(calls, EXPECTED, strict=True):
        label = f"{want['caller_number']} -> {want['did']} ({want['reason']})"
        assert call.caller == want["caller_number"], label
        assert call.caller_name == want["caller_name"], label
        assert call.direction == CdrDirection(want["direction"]), label
        answered = want["outcome"] == "answered"
        assert call.outcome is (CdrOutcome.ANSWERED if answered else CdrOutcome.MISSED), label
        assert call.reason == CEL_CANNOT_TELL.get(want["reason"], want["reason"]), label
        assert call.reached_voicemail == ("mailbox" in want), label
        assert call.mailbox == want.get("mailbox"), label
        if want["direction"] == "inbound":
            assert call.did == want["did"], label
        assert call.source == "cel"


def test_who_answered_follows_local_halves() -> None:
    """The FreePBX-style ring group: 1001 and 1003 both picked up; 1001's Local leg was
    cancelled before the caller was bridged to it, so 1003 took the call."""
    calls = {c.key: c for c in read_cel_calls(CEL)}
    assert calls["1795757475.63"].answered_by == "PJSIP/1003"
    assert calls["1795756462.8"].answered_by == "PJSIP/1001"
    assert calls["1795756586.31"].answered_by == "PJSIP/1002"  # queue member
    abandon = calls["1795756579.28"]  # Answer() then Queue: Up, but bridged with nobody
    assert (abandon.outcome, abandon.reason) == (CdrOutcome.MISSED, Reason.ABANDONED)
    assert abandon.started_at == datetime(2026, 11, 27, 5, 16, 19, 292564, tzinfo=UTC)


def test_summary_counts_reasons_and_sources() -> None:
    """14 inbound (the internal call aside): 4 answered, 10 missed with their reasons."""
    summary = summarize(read_cel_calls(CEL))
    assert (summary.inbound, summary.answered, summary.missed, summary.internal) == (14, 4, 10, 1)
    assert summary.missed_textable == 9  # the anonymous caller has no number
    assert summary.missed_reached_voicemail == 6
    assert summary.by_source == {"cel": 15}
    assert summary.missed_by_reason == {
        "abandoned": 1,
        "busy": 1,
        "caller_hangup": 3,
        "no_answer": 4,
        "queue_timeout": 1,
    }


# A follow-me route (the lab dialplan's 5550900, not among the recordings, so these rows are
# hand-written the way cdr_csv and cel_custom log it): Dial(Local/1003@ext-local-vm/n,30); the
# Local leg rings PJSIP/1003 for 5 s, then VoiceMail answers the Local ;2 half, which answers
# ;1, which Dial bridges to the caller. CDR: Dial, ANSWERED, a destination channel: answered.
UID, HALF1, HALF2, PHONE = "1795760000.200", "1795760000.201", "1795760000.202", "1795760000.203"
L1, L2 = "Local/1003@ext-local-vm-00000009;1", "Local/1003@ext-local-vm-00000009;2"
TRUNK = "PJSIP/trunk-000000a0"
FOLLOWME_CDR = f'''\
"","2125550147","5550900","from-trunk","""Pat Caller"" <2125550147>","{TRUNK}","{L1}",\
"Dial","Local/1003@ext-local-vm/n,30","2026-11-27 06:00:00","2026-11-27 06:00:05",\
"2026-11-27 06:00:30",30,25,"ANSWERED","DOCUMENTATION","{UID}",""
"","2125550147","1003","ext-local-vm","""Pat Caller"" <2125550147>","{L2}",\
"PJSIP/1003-000000a1","Dial","PJSIP/1003,5","2026-11-27 06:00:00",,"2026-11-27 06:00:05",\
5,0,"NO ANSWER","DOCUMENTATION","{HALF2}",""
"","2125550147","1003","ext-local-vm","""Pat Caller"" <2125550147>","{L2}","","VoiceMail",\
"1003@default,u","2026-11-27 06:00:05","2026-11-27 06:00:05","2026-11-27 06:00:30",25,25,\
"ANSWERED","DOCUMENTATION","{HALF2}",""
'''


def _cel(kind: str, at: float, chan: str, uid: str, app: str = "", data: str = "") -> list[str]:
    ctx, exten = ("from-trunk", "5550900") if uid == UID else ("ext-local-vm", "1003")
    head = [kind, f"{1795759200 + at:.6f}", "Pat Caller", "2125550147", "", "", "", exten, ctx]
    return [*head, chan, app, data, "3", "", uid, UID, "", "", "", ""]


def _followme_cel() -> list[list[str]]:
    bridge = '{"bridge_id":"b-1","bridge_technology":"simple_bridge"}'
    rows = [
        _cel("CHAN_START", 0, TRUNK, UID),
        _cel("APP_START", 0.1, TRUNK, UID, "Dial", "Local/1003@ext-local-vm/n,30"),
        _cel("CHAN_START", 0.2, L1, HALF1),
        _cel("CHAN_START", 0.2, L2, HALF2),
        _cel("APP_START", 0.3, L2, HALF2, "Dial", "PJSIP/1003,5"),
        _cel("CHAN_START", 0.3, "PJSIP/1003-000000a1", PHONE),
        _cel("HANGUP", 5.3, "PJSIP/1003-000000a1", PHONE, "AppDial"),
        _cel("CHAN_END", 5.3, "PJSIP/1003-000000a1", PHONE, "AppDial"),
        _cel("APP_START", 5.4, L2, HALF2, "VoiceMail", "1003@default,u"),
        _cel("ANSWER", 5.4, L2, HALF2, "VoiceMail", "1003@default,u"),
        _cel("ANSWER", 5.4, L1, HALF1, "AppDial"),
        _cel("ANSWER", 5.5, TRUNK, UID, "Dial", "Local/1003@ext-local-vm/n,30"),
        _cel("BRIDGE_ENTER", 5.5, L1, HALF1, "AppDial"),
        _cel("BRIDGE_ENTER", 5.5, TRUNK, UID, "Dial", "Local/1003@ext-local-vm/n,30"),
    ]
    rows[-1][16], rows[-1][19], rows[-2][19] = L1, bridge, bridge
    hangup = '{"hangupcause":16,"hangupsource":"PJSIP/trunk-000000a0","dialstatus":"ANSWER"}'
    for uid, chan in ((UID, TRUNK), (HALF1, L1), (HALF2, L2)):
        rows.append(_cel("HANGUP", 30, chan, uid, "Dial"))
        rows[-1][19] = hangup if uid == UID else ""
        rows.append(_cel("CHAN_END", 30, chan, uid, "Dial"))
    rows.append(_cel("LINKEDID_END", 30, TRUNK, UID, "Dial"))
    return rows


def test_cdr_says_answered_where_cel_sees_a_voicemail(tmp_path: Path) -> None:
    """CDR alone counts the follow-me call answered (its Local half's rows folded into it);
    CEL sees the caller bridged only to a Local half whose other half ran VoiceMail."""
    cdr_file = tmp_path / "cdr.csv"
    cdr_file.write_text(FOLLOWME_CDR, encoding="utf-8")
    cdr_calls = list(read_calls(cdr_file))
    assert [(c.direction, c.outcome) for c in cdr_calls] == [
        (CdrDirection.INBOUND, CdrOutcome.ANSWERED),
    ]
    cel_file = _write(tmp_path / "cel.csv", _followme_cel())
    (call,) = read_cel_calls(cel_file)
    assert (call.outcome, call.reason, call.mailbox) == (
        CdrOutcome.MISSED,
        Reason.NO_ANSWER,
        "1003@default",
    )
    assert call.reached_voicemail
    assert call.answered_by is None
    sources = HistorySources()
    merged = list(iter_file_history(cdr_file, cel_file, sources=sources))
    assert [m.source for m in merged] == ["cel"]  # the CDR call is this one CEL call
    assert (sources.cel_calls, sources.cdr_calls, sources.cdr_superseded) == (1, 0, 1)
    assert summarize(merged).missed == 1


def test_cdr_fills_in_for_calls_cel_lacks() -> None:
    """Two different recordings: no call is in both, so CDR is used for all of its own."""
    sources = HistorySources()
    summary = summarize(iter_file_history(CDR, CEL, sources=sources))
    assert (sources.cel_calls, sources.cdr_calls, sources.cdr_superseded) == (15, 15, 0)
    assert summary.by_source == {"cel": 15, "cdr": 15}
    assert sources.describe() == "classified from CEL (15 calls), CDR used for 15"


def test_real_cdr_rows_keyed_like_cel_are_superseded(tmp_path: Path) -> None:
    """The real CDR rows of the queue abandon, re-keyed to the traced call's linkedid."""
    with CDR.open(encoding="utf-8", newline="") as source:
        rows = [r for r in csv.reader(source) if r[16] == "1795758121.148"]
    for row in rows:
        row[16] = "1795756579.28"
    cdr_calls = list(read_calls(_write(tmp_path / "cdr.csv", rows)))
    cel_calls = [c for c in read_cel_calls(CEL) if c.key == "1795756579.28"]
    merged = list(merge_calls(cel_calls, cdr_calls))
    assert [(m.source, m.reason) for m in merged] == [("cel", Reason.ABANDONED)]


def test_header_line_custom_order_and_literal_columns(tmp_path: Path) -> None:
    """A header names the order; --cel-columns gives it, '-' marks a literal column."""
    rows = _rows()
    with_header = _write(tmp_path / "h.csv", [list(CEL_CSV_COLUMNS), *rows])
    want = [(c.key, c.outcome, c.reason) for c in read_cel_calls(CEL)]
    assert [(c.key, c.outcome, c.reason) for c in read_cel_calls(with_header)] == want
    others = [c for c in CEL_CSV_COLUMNS if c != "linkedid"]
    columns = parse_columns(",".join(["linkedid", "-", *others]))
    moved = [[r[15], "My Literal", *(v for i, v in enumerate(r) if i != 15)] for r in rows]
    path = _write(tmp_path / "m.csv", moved)
    assert [(c.key, c.outcome, c.reason) for c in read_cel_calls(path, columns=columns)] == want
    with pytest.raises(ValueError, match="lack uniqueid"):
        parse_columns("eventtype,eventtime,channame")


def test_malformed_lines_are_logged_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Short rows, bad times and rows without an event type are skipped with line numbers."""
    rows = _rows()
    bad = [["CHAN_START", "1"], [*rows[0][:1], "yesterday", *rows[0][2:]], ["", *rows[0][1:]]]
    path = _write(tmp_path / "bad.csv", [rows[0], bad[0], *rows[1:40], bad[1], bad[2], *rows[40:]])
    stats = CelReadStats()
    with caplog.at_level(logging.WARNING):
        calls = list(read_cel_calls(path, stats=stats))
    assert len(calls) == 15
    assert stats.skipped == [2, 42, 43]
    assert stats.events == len(rows)
    assert "bad.csv line 42 skipped: eventtime 'yesterday'" in caplog.text


def test_dateformat_times_are_read_in_the_pbx_zone(tmp_path: Path) -> None:
    """cel.conf dateformat=%F %T: local wall time, read in the zone given."""
    rows = _rows()[:2]
    for row in rows:
        row[1] = "2026-11-27 06:13:27"
    path = _write(tmp_path / "local.csv", rows)
    (event, _) = read_cel_events(path, zone=timezone(timedelta(hours=1)))
    assert event.eventtime == datetime(2026, 11, 27, 5, 13, 27, tzinfo=UTC)


def test_progress_reaches_the_file_size() -> None:
    """The progress callback ends at (size, size)."""
    seen: list[tuple[int, int]] = []
    list(read_cel_calls(CEL, progress=lambda done, total: seen.append((done, total))))
    assert seen[-1] == (CEL.stat().st_size, CEL.stat().st_size)


def test_calls_are_yielded_at_linkedid_end() -> None:
    """A call is classified when its LINKEDID_END arrives, before later events are read;
    without LINKEDID_END (not logged) calls are classified at the end."""
    events = list(read_cel_events(CEL))
    consumed = 0

    def feed() -> Iterator[CelEvent]:
        nonlocal consumed
        for event in events:
            consumed += 1
            yield event

    first = next(group_cel(feed()))
    assert first.key == events[0].linkedid
    assert consumed < len(events) // 5
    without_end = [e for e in events if e.eventtype != "LINKEDID_END"]
    assert [c.outcome for c in group_cel(without_end)] == [c.outcome for c in group_cel(events)]


def test_extra_that_is_not_json_is_ignored() -> None:
    """Asterisk 11 wrote plain text in extra: no bridge id, no dial status, no crash."""
    event = CelEvent("HANGUP", datetime(2026, 1, 1, tzinfo=UTC), "SIP/a-1", "1.1", "1.1")
    assert replace(event, extra="16,SIP/a-1,").extra_field("dialstatus") == ""
    assert replace(event, extra="{bad").extra_field("dialstatus") == ""
    assert replace(event, extra='{"dialstatus":null}').extra_field("dialstatus") == ""
