"""The AMI ingest benchmark's workload and measurement code on a tiny, unpaced workload."""

from __future__ import annotations

import asyncio

from asterisk_textback.ami.sim.server import AmiServer
from bench.ami_ingest import (
    SECRET,
    USERNAME,
    Tally,
    build_workload,
    ingest_full_path,
    ingest_panoramisk,
    load_traces,
    stream_round,
)

CALLS = 300


async def test_full_path_records_every_call_as_the_manifest_says() -> None:
    traces = load_traces()
    workload = build_workload(traces, CALLS, rate=1000.0)
    tally = Tally.for_traces(traces)
    async with AmiServer({USERNAME: SECRET}) as server:
        sent, got = await asyncio.gather(
            stream_round(server, [workload]), ingest_full_path(server.port, tally)
        )
    assert got.mismatches == []
    assert got.handler_errors == 0
    assert workload.calls == sent.calls == got.records == len(tally.seen) == CALLS
    assert {lid[:-6] for lid in tally.seen} == {t.root for t in traces}
    assert sent.events == workload.events == len(workload.frames)
    assert len(workload.final_hangups) == CALLS


async def test_panoramisk_baseline_counts_every_event() -> None:
    workload = build_workload(load_traces(), 30, rate=1000.0, first=CALLS)
    async with AmiServer({USERNAME: SECRET}) as server:
        sent, got = await asyncio.gather(
            stream_round(server, [workload]), ingest_panoramisk(server.port)
        )
    assert got.events == sent.events == workload.events


def test_clones_of_every_trace_never_share_ids() -> None:
    workload = build_workload(load_traces(), 60, rate=200.0)
    newchannels = [f for f in workload.frames if f.startswith(b"Event: Newchannel\r\n")]
    uniqueids = [f.split(b"\r\nUniqueid: ", 1)[1].split(b"\r\n", 1)[0] for f in newchannels]
    channels = [f.split(b"\r\nChannel: ", 1)[1].split(b"\r\n", 1)[0] for f in newchannels]
    assert len(set(uniqueids)) == len(uniqueids)
    assert len(set(channels)) == len(channels)
    assert workload.calls == 60
