"""Local legs of ring groups are part of the call that dialled them, not internal calls."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from asterisk_textback.cdr.csvfile import read_calls, read_rows
from asterisk_textback.cdr.locallegs import fold_local_legs, local_peer
from asterisk_textback.cdr.model import CdrDirection, CdrOutcome

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cdr"
#: Same two calls, without and with cdr_csv's ``newcdrcolumns`` (linkedid).
LOCAL_FILES = ("local-ringgroup.csv", "local-ringgroup-newcdrcolumns.csv")


@pytest.mark.parametrize("name", LOCAL_FILES)
def test_ring_group_over_local_channels_is_two_inbound_calls(name: str) -> None:
    calls = list(read_calls(FIXTURES / name))
    assert len(list(read_rows(FIXTURES / name))) == 13
    assert [(c.direction, c.outcome, c.caller, c.did) for c in calls] == [
        (CdrDirection.INBOUND, CdrOutcome.ANSWERED, "9175550123", "5550800"),
        (CdrDirection.INBOUND, CdrOutcome.MISSED, "9175550124", "5550800"),
    ]
    assert calls[1].reached_voicemail
    # Every row of the file is in one of the two calls, each once.
    assert sum(len(c.rows) for c in calls) == 13
    assert all(c.rows[0].channel.startswith("PJSIP/trunk-") for c in calls)


def test_master_csv_without_local_channels_is_unchanged() -> None:
    calls = list(read_calls(FIXTURES / "Master.csv"))
    assert len(calls) == 15
    assert sum(c.direction is CdrDirection.INTERNAL for c in calls) == 1


def test_local_peer_names_the_other_half() -> None:
    assert local_peer("Local/1001@ext-local-0000000a;2") == "Local/1001@ext-local-0000000a;1"
    assert local_peer("Local/1001@ext-local-0000000a;1") == "Local/1001@ext-local-0000000a;2"
    assert local_peer("PJSIP/1001-00000040") is None
    assert local_peer("Local/1001@ext-local") is None


def test_a_leg_is_joined_only_to_a_call_whose_time_holds_it() -> None:
    rows = list(read_rows(FIXTURES / "local-ringgroup.csv"))
    # The missed call's legs, with the answered call left out: nothing names their peers.
    legs_only = {r.uniqueid: [r] for r in rows if r.channel.startswith("Local/")}
    assert fold_local_legs(legs_only) == legs_only
    # A trunk row naming the peer but hours earlier is another call (names are reused).
    trunk = next(r for r in rows if r.dstchannel == "Local/1001@ext-local-00000003;1")
    leg = next(r for r in rows if r.channel == "Local/1001@ext-local-00000003;2")
    early = replace(trunk, start=trunk.start.replace(hour=1), end=trunk.start.replace(hour=1))
    apart = fold_local_legs({"trunk": [early], "leg": [leg]})
    assert sorted(apart) == ["leg", "trunk"]
    joined = fold_local_legs({"trunk": [trunk], "leg": [leg]})
    assert list(joined) == ["trunk"]
    assert joined["trunk"] == [trunk, leg]


def test_a_loop_of_local_legs_stops() -> None:
    rows = list(read_rows(FIXTURES / "local-ringgroup.csv"))
    leg = next(r for r in rows if r.channel == "Local/1001@ext-local-00000003;2")
    # Two legs each naming the other's peer: bad data must not hang or lose rows.
    one = replace(leg, dstchannel="Local/1002@ext-local-00000004;1")
    two = replace(
        leg, channel="Local/1002@ext-local-00000004;2", dstchannel="Local/1001@ext-local-00000003;1"
    )
    folded = fold_local_legs({"a": [one], "b": [two]})
    assert sorted(r.channel for rs in folded.values() for r in rs) == sorted(
        [one.channel, two.channel]
    )
