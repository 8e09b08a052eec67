"""AMI ingest benchmark: real Asterisk traces, cloned by the thousand, over loopback TCP.

Run from a checkout: ``python bench/ami_ingest.py [--calls N] [--quick]`` (see README.md).

Every figure comes from separate processes on 127.0.0.1: an :class:`AmiServer` process
streams the workload, a fresh client process ingests it, and the parent only orchestrates,
so the client's peak RSS is its own. Both sides stamp times with ``time.monotonic()``
(CLOCK_MONOTONIC, system-wide on Linux), so server and client times can be subtracted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import resource
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))  # a plain checkout: the package need not be installed

from panoramisk import Manager  # noqa: E402

from asterisk_textback.ami.connection import AmiConnection  # noqa: E402
from asterisk_textback.ami.framing import TRACKED_VARIABLES  # noqa: E402
from asterisk_textback.ami.settings import PbxSettings  # noqa: E402
from asterisk_textback.ami.sim.server import AmiServer  # noqa: E402
from asterisk_textback.ami.sim.tracefile import clone, interleave, read_trace  # noqa: E402
from asterisk_textback.ami.types import AmiEvent  # noqa: E402
from asterisk_textback.calls.listener import CallListener  # noqa: E402
from asterisk_textback.calls.model import CallEnded  # noqa: E402
from asterisk_textback.calls.tracker import CallTracker  # noqa: E402
from asterisk_textback.cli.replay import END_MARKER  # noqa: E402

TRACES = _ROOT / "tests" / "fixtures" / "traces"
USERNAME = "bench"
SECRET = "bench-secret"
END_FRAME = f"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: {END_MARKER}\r\n\r\n".encode()
#: Recorded ids get a 6-digit clone suffix (``tracefile.clone``); traces get disjoint ranges.
_CLONE_SPACE = 10**6
_SUFFIX = 6
#: Workload time origin: any epoch works, this one is after every recording.
_ORIGIN = 1_800_000_000.0
_FIELDS = ("direction", "outcome", "reason", "caller_number", "caller_name", "did", "mailbox")
_TIMESTAMP_RE = re.compile(rb"^Timestamp: (\d+(?:\.\d+)?)\r$", re.MULTILINE)
_UNIQUEID_RE = re.compile(rb"\r\nUniqueid: ([^\r]*)\r\n")
_LINKEDID_RE = re.compile(rb"\r\nLinkedid: ([^\r]*)\r\n")
_NEWCHANNEL = b"Event: Newchannel\r\n"
_HANGUP = b"Event: Hangup\r\n"
_TIMEOUT = 600.0


# -- workload --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trace:
    """One recorded call: its frames, root Linkedid and what the manifest says it is."""

    name: str
    frames: list[bytes]
    root: str
    expected: tuple[str | None, ...]


@dataclass(slots=True)
class Workload:
    """An interleaved stream of cloned calls and what a correct ingest must produce."""

    frames: list[bytes]
    events: int
    calls: int
    #: Stream index of each call's last Hangup frame -> that call's Linkedid.
    final_hangups: dict[int, str] = field(default_factory=dict)


def load_traces(directory: Path = TRACES) -> list[Trace]:
    """Every trace of the manifest with its single expected call."""
    manifest = json.loads((directory / "manifest.json").read_text())
    traces = []
    for name, entry in sorted(manifest["traces"].items()):
        (call,) = entry["calls"]
        frames = read_trace(directory / name)
        roots = {uid for uid, linked in map(_ids, frames) if uid is not None and uid == linked} & {
            _ids(f)[0] for f in frames if f.startswith(_NEWCHANNEL)
        }
        if len(roots) != 1:
            raise SystemExit(f"{name}: expected one root Newchannel, found {sorted(roots)}")
        expected = tuple(call.get(key) for key in _FIELDS)
        traces.append(Trace(name, frames, roots.pop(), expected))
    if len({t.root for t in traces}) != len(traces):
        raise SystemExit("two traces share a root Linkedid: records could not be told apart")
    return traces


def _ids(frame: bytes) -> tuple[str | None, str | None]:
    uid = _UNIQUEID_RE.search(frame)
    linked = _LINKEDID_RE.search(frame)
    return (
        None if uid is None else uid.group(1).decode(),
        None if linked is None else linked.group(1).decode(),
    )


def _shift(frames: Sequence[bytes], delta: float) -> list[bytes]:
    """Move every Timestamp of a trace by ``delta`` seconds."""

    def moved(m: re.Match[bytes]) -> bytes:
        return b"Timestamp: %.6f\r" % (float(m.group(1)) + delta)

    return [_TIMESTAMP_RE.sub(moved, frame) for frame in frames]


def _first_timestamp(frames: Sequence[bytes]) -> float:
    for frame in frames:
        match = _TIMESTAMP_RE.search(frame)
        if match:
            return float(match.group(1))
    raise SystemExit("a trace without Timestamp headers cannot be paced")


def clone_calls(traces: Sequence[Trace], first: int, count: int, rate: float) -> list[list[bytes]]:
    """Calls ``first .. first+count-1``: call j is trace ``j % T``, starting at ``j / rate`` s.

    Copy c of trace t gets clone index ``t * (10**6 // T) + c + 1``: disjoint per trace, so
    ids and channel names never collide across traces or calls.
    """
    n_traces = len(traces)
    per_trace = _CLONE_SPACE // n_traces
    out: list[list[bytes]] = []
    for t, trace in enumerate(traces):
        # Calls j = t + c * T with first <= j < first + count.
        c0 = max(0, -(-(first - t) // n_traces))
        c1 = max(c0, -(-(first + count - t) // n_traces))
        if c1 == c0:
            continue
        if c1 >= per_trace:
            raise SystemExit(f"at most {per_trace * n_traces} calls fit the clone id space")
        start_at = _ORIGIN + (t + c0 * n_traces) / rate
        base = _shift(trace.frames, start_at - _first_timestamp(trace.frames))
        out.extend(clone(base, c1 - c0, spacing=n_traces / rate, start=t * per_trace + c0 + 1))
    return out


def build_workload(traces: Sequence[Trace], calls: int, *, rate: float, first: int = 0) -> Workload:
    """Clone and interleave ``calls`` calls into one stream (see :func:`clone_calls`)."""
    return describe(interleave(clone_calls(traces, first, calls, rate)))


def describe(frames: list[bytes]) -> Workload:
    """Count events and root Newchannels; find each call's final Hangup frame."""
    events = 0
    roots: set[str] = set()
    finals: dict[str, int] = {}
    for index, frame in enumerate(frames):
        if not frame.startswith(b"Event: "):
            continue
        events += 1
        if frame.startswith(_NEWCHANNEL):
            uid, linked = _ids(frame)
            if uid is not None and uid == linked:
                roots.add(uid)
        elif frame.startswith(_HANGUP):
            linked = _ids(frame)[1]
            if linked is not None:
                finals[linked] = index
    # Only a call's own Linkedid counts: Local halves may hang up under another one.
    last = {index: lid for lid, index in finals.items() if lid in roots}
    return Workload(frames, events, len(roots), last)


# -- the client side: our full path, and plain panoramisk -------------------------------------


@dataclass(slots=True)
class Tally:
    """Checks every record against the manifest as it is emitted; keeps no records."""

    expected: dict[str, tuple[str, tuple[str | None, ...]]]
    clock: Callable[[], float] = time.monotonic
    keep_times: bool = False
    records: int = 0
    last_record_at: float = 0.0
    mismatches: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    ended_at: dict[str, float] = field(default_factory=dict)

    @classmethod
    def for_traces(cls, traces: Sequence[Trace], *, keep_times: bool = False) -> Tally:
        """A tally expecting the calls of ``traces`` (by root Linkedid)."""
        return cls({t.root: (t.name, t.expected) for t in traces}, keep_times=keep_times)

    def on_call(self, call: CallEnded) -> None:
        """Record one finished call; note any difference from the manifest."""
        now = self.clock()
        self.records += 1
        self.last_record_at = now
        linkedid = call.linkedid
        if self.keep_times:
            self.ended_at[linkedid] = now
        if linkedid in self.seen:
            self._mismatch(f"{linkedid}: emitted twice")
            return
        self.seen.add(linkedid)
        entry = self.expected.get(linkedid[:-_SUFFIX])
        if entry is None:
            self._mismatch(f"{linkedid}: no trace has this root Linkedid")
            return
        name, want = entry
        got = (
            call.direction,
            call.outcome,
            call.reason,
            call.caller_number,
            call.caller_name,
            call.did,
            call.mailbox,
        )
        if got != want:
            self._mismatch(f"{linkedid} ({name}): got {got}, manifest says {want}")

    def _mismatch(self, text: str) -> None:
        if len(self.mismatches) < 20:
            self.mismatches.append(text)
        else:
            self.mismatches[-1] = "… and more"


@dataclass(slots=True)
class ClientResult:
    """What a client process reports back."""

    events: int = 0
    records: int = 0
    mismatches: list[str] = field(default_factory=list)
    done_at: float = 0.0
    ended_at: dict[str, float] = field(default_factory=dict)
    rss_mb: float = 0.0
    handler_errors: int = 0


def _settings(port: int) -> PbxSettings:
    return PbxSettings(
        host="127.0.0.1", port=port, username=USERNAME, secret=SECRET, ping_interval=3600.0
    )


async def ingest_full_path(
    port: int, tally: Tally, *, keep_variables: frozenset[str] | None = TRACKED_VARIABLES
) -> ClientResult:
    """AmiConnection -> CallListener -> CallTracker until the end marker; tally the records."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def on_event(event: AmiEvent) -> None:
        if event.get("UserEvent") == END_MARKER and not done.done():
            done.set_result(None)

    tracker = CallTracker(pbx="bench")
    listener = CallListener(tracker, tally.on_call, on_event=on_event)
    settings = _settings(port)
    async with AmiConnection(settings, environ={}, keep_variables=keep_variables) as conn:
        consumer = loop.create_task(conn.run_consumer(listener.handle))
        try:
            async with asyncio.timeout(_TIMEOUT):
                await asyncio.wait({done, consumer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await conn.close()
            await consumer
    return ClientResult(
        events=tracker.stats.events,
        records=tally.records,
        mismatches=list(tally.mismatches),
        done_at=tally.last_record_at,
        ended_at=tally.ended_at,
        handler_errors=conn.stats.handler_errors + listener.errors,
    )


@dataclass(slots=True)
class _Counter:
    events: int = 0


async def ingest_panoramisk(port: int) -> ClientResult:
    """Plain panoramisk ``Manager`` with a trivial ``*`` callback counting events."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[float] = loop.create_future()
    counter = _Counter()

    def on_event(manager: Any, event: Any) -> None:
        counter.events += 1
        if event.get("UserEvent") == END_MARKER and not done.done():
            done.set_result(time.monotonic())

    logged_in: asyncio.Future[None] = loop.create_future()
    manager = Manager(
        loop=loop,
        host="127.0.0.1",
        port=port,
        username=USERNAME,
        secret=SECRET,
        on_login=lambda _manager: logged_in.set_result(None),
    )
    manager.register_event("*", on_event)
    await manager.connect()
    try:
        async with asyncio.timeout(_TIMEOUT):
            await logged_in
            done_at = await done
    finally:
        manager.close()
    # FullyBooted (after login) and the end marker are not part of the workload.
    return ClientResult(events=counter.events - 2, done_at=done_at)


# -- the server side -----------------------------------------------------------------------


async def stream_round(
    server: AmiServer,
    blocks: Iterable[Workload] | AsyncIterator[Workload],
    *,
    pace: bool = False,
    track_hangups: bool = False,
) -> RoundResult:
    """Wait for a client to log in, stream every block then the end marker."""
    await server.wait_logged_in()
    result = RoundResult(started_at=time.monotonic())
    written = result.hangup_written

    async def each() -> AsyncIterator[Workload]:
        if isinstance(blocks, AsyncIterator):
            async for item in blocks:
                yield item
        else:
            for item in blocks:
                yield item

    async for block in each():
        finals = block.final_hangups

        def on_written(index: int, _t: float, finals: dict[int, str] = finals) -> None:
            linkedid = finals.get(index)
            if linkedid is not None:
                written[linkedid] = time.monotonic()

        await server.stream(
            block.frames, pace=pace, on_written=on_written if track_hangups else None
        )
        result.events += block.events
        result.calls += block.calls
        result.frames += len(block.frames)
    await server.stream([END_FRAME])
    return result


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """What a server process streams and how."""

    calls: int
    rate: float
    rounds: int = 1
    pace: bool = False
    #: Calls per interleaved block (unpaced); each is cloned by one pool worker.
    block: int = 5_000
    #: False: clone while streaming (bounded by nothing but speed; for the RSS run).
    prebuilt: bool = True
    nice: int = 0
    workers: int = 2


@dataclass(slots=True)
class RoundResult:
    """Server-side facts of one streamed round."""

    started_at: float
    events: int = 0
    calls: int = 0
    frames: int = 0
    hangup_written: dict[str, float] = field(default_factory=dict)


def _block_job(args: tuple[int, int, float]) -> Workload:
    first, count, rate = args
    return build_workload(load_traces(), count, rate=rate, first=first)


def _clone_job(args: tuple[int, int, float]) -> list[list[bytes]]:
    first, count, rate = args
    return clone_calls(load_traces(), first, count, rate)


def _jobs(calls: int, rate: float, size: int) -> list[tuple[int, int, float]]:
    return [(first, min(size, calls - first), rate) for first in range(0, calls, size)]


def _server_process(pipe: Connection, spec: ServerSpec) -> None:
    if spec.nice:
        os.nice(spec.nice)  # the pool inherits it
    asyncio.run(_serve(pipe, spec))


async def _serve(pipe: Connection, spec: ServerSpec) -> None:
    loop = asyncio.get_running_loop()
    async with AmiServer({USERNAME: SECRET}) as server:
        with mp.get_context("spawn").Pool(spec.workers) as pool:
            if spec.pace:
                # Paced: one stream in Timestamp order over the whole run.
                size = -(-spec.calls // spec.workers)
                parts = pool.map(_clone_job, _jobs(spec.calls, spec.rate, size))
                blocks = [describe(interleave([c for part in parts for c in part]))]
                del parts
            else:
                results = pool.imap(_block_job, _jobs(spec.calls, spec.rate, spec.block))
                blocks = list(results) if spec.prebuilt else []
            pipe.send(("port", server.port))
            if spec.prebuilt or spec.pace:
                # Built up front so cloning never slows the measured stream down.
                for _ in range(spec.rounds):
                    got = await stream_round(
                        server, blocks, pace=spec.pace, track_hangups=spec.pace
                    )
                    pipe.send(("round", got))
                    # The next round must not start while this client is still logged in.
                    while server.logged_in:  # noqa: ASYNC110 - AmiServer has no logout event
                        await asyncio.sleep(0.01)
                return

            async def lazily() -> AsyncIterator[Workload]:
                # Block the loop never: the next block may still be cloning.
                while (block := await loop.run_in_executor(None, next, results, None)) is not None:
                    yield block

            pipe.send(("round", await stream_round(server, lazily())))


# -- orchestration ---------------------------------------------------------------------------


def _client_process(pipe: Connection, kind: str, port: int) -> None:
    if kind == "panoramisk":
        result = asyncio.run(ingest_panoramisk(port))
    else:
        tally = Tally.for_traces(load_traces(), keep_times=kind == "paced")
        keep = None if kind == "every-varset" else TRACKED_VARIABLES
        result = asyncio.run(ingest_full_path(port, tally, keep_variables=keep))
    result.rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pipe.send(result)


@dataclass(frozen=True, slots=True)
class Measured:
    """One client's run against one server round."""

    server: RoundResult
    client: ClientResult

    @property
    def elapsed(self) -> float:
        """From the server's first write to the client's last record (or end marker)."""
        return self.client.done_at - self.server.started_at

    @property
    def events_per_s(self) -> float:
        """Event frames sent on the wire per second of elapsed time."""
        return self.server.events / self.elapsed


def _recv(pipe: Connection, proc: BaseProcess) -> Any:
    while not pipe.poll(0.1):
        if not proc.is_alive():
            raise SystemExit(f"{proc.name}: the process died (exit code {proc.exitcode})")
    return pipe.recv()


@dataclass(slots=True)
class ServerHandle:
    """A running server process and its pipe."""

    proc: BaseProcess
    pipe: Connection
    port: int = 0

    @classmethod
    def start(cls, spec: ServerSpec) -> ServerHandle:
        """Spawn the server process; it starts cloning right away."""
        ctx = mp.get_context("spawn")
        ours, theirs = ctx.Pipe()
        proc = ctx.Process(target=_server_process, args=(theirs, spec), name="ami-server")
        proc.start()
        return cls(proc, ours)

    def measure(self, kinds: Sequence[str]) -> list[Measured]:
        """One fresh client process per entry of ``kinds``, in turn, one round each."""
        ctx = mp.get_context("spawn")
        if not self.port:
            self.port = _recv(self.pipe, self.proc)[1]
        out = []
        for kind in kinds:
            ours, theirs = ctx.Pipe()
            client = ctx.Process(target=_client_process, args=(theirs, kind, self.port), name=kind)
            client.start()
            result = _recv(ours, client)
            client.join()
            out.append(Measured(_recv(self.pipe, self.proc)[1], result))
        return out

    def stop(self) -> None:
        """Wait for the server process to finish (it ends after its last round)."""
        self.proc.join(timeout=30)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join()


def check(measured: Measured, what: str, *, full_path: bool) -> None:
    """Fail loudly unless every call was recorded exactly once, as the manifest says."""
    server, client = measured.server, measured.client
    problems = list(client.mismatches)
    if full_path:
        if client.records != server.calls:
            problems.append(f"{client.records} records for {server.calls} calls in the stream")
        if client.handler_errors:
            problems.append(f"{client.handler_errors} handler errors")
    elif client.events != server.events:
        problems.append(f"panoramisk saw {client.events} events of {server.events} sent")
    if problems:
        raise SystemExit(f"{what}: FAILED\n  " + "\n  ".join(problems))


# -- main ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    """Run the measurements and print the summary line last."""
    parser = argparse.ArgumentParser(description="AMI ingest benchmark on real traces.")
    parser.add_argument("--calls", type=int, default=100_000, help="calls for the RSS run")
    parser.add_argument("--quick", action="store_true", help="small workloads (a smoke run)")
    args = parser.parse_args(argv)
    rss_calls = min(args.calls, 5_000) if args.quick else args.calls
    thr_calls = 2_000 if args.quick else 10_000
    paced_calls = 1_000 if args.quick else 6_000
    began = time.monotonic()
    print(f"traces: {len(load_traces())} real Asterisk 22 recordings, one call each")

    thr = ServerHandle.start(ServerSpec(thr_calls, rate=1000.0, rounds=3))
    ours, every, base = thr.measure(["ours", "every-varset", "panoramisk"])
    thr.stop()
    check(ours, "throughput (full path)", full_path=True)
    check(every, "throughput (full path, every VarSet)", full_path=True)
    check(base, "throughput (panoramisk)", full_path=False)
    print(
        f"throughput: {ours.server.calls} calls, {ours.server.events} events, unpaced, "
        f"blocks of 5000 interleaved calls"
    )
    print(
        f"  full path (AmiConnection->CallListener->CallTracker): {ours.elapsed:.2f} s, "
        f"{ours.events_per_s:,.0f} events/s; {ours.client.records} records match the manifest"
    )
    print(
        f"  same, keep_variables=None (every VarSet parsed):     {every.elapsed:.2f} s, "
        f"{every.events_per_s:,.0f} events/s"
    )
    print(
        f"  baseline (panoramisk Manager + '*' callback):        {base.elapsed:.2f} s, "
        f"{base.events_per_s:,.0f} events/s"
    )

    # The RSS run's server clones its 100k calls (niced) while the paced run idles along.
    rss_server = ServerHandle.start(ServerSpec(rss_calls, rate=1000.0, prebuilt=False, nice=19))
    paced_server = ServerHandle.start(ServerSpec(paced_calls, rate=200.0, pace=True))
    (paced,) = paced_server.measure(["paced"])
    paced_server.stop()
    check(paced, "paced (full path)", full_path=True)
    written = paced.server.hangup_written
    latencies = [
        (at - written[lid]) * 1000 for lid, at in paced.client.ended_at.items() if lid in written
    ]
    if len(latencies) != paced.server.calls:
        raise SystemExit(f"paced: {len(latencies)} latencies for {paced.server.calls} calls")
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    p50, p99 = cuts[49], cuts[98]
    print(
        f"paced: {paced.server.calls} calls at 200 calls/s, {paced.elapsed:.1f} s; final Hangup "
        f"written -> CallEnded emitted: p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
        f"max {max(latencies):.2f} ms"
    )

    t = time.monotonic()
    (rss,) = rss_server.measure(["ours"])
    rss_server.stop()
    check(rss, "rss (full path)", full_path=True)
    print(
        f"rss: {rss.server.calls} calls, {rss.server.events} events replayed in "
        f"{time.monotonic() - t:.1f} s (cloned meanwhile); client peak RSS "
        f"{rss.client.rss_mb:.1f} MB; all {rss.client.records} records match the manifest"
    )
    print(f"total {time.monotonic() - began:.0f} s")
    ratio = ours.events_per_s / base.events_per_s
    print(
        f"ingest events_per_s={ours.events_per_s:.0f} baseline_events_per_s="
        f"{base.events_per_s:.0f} ratio={ratio:.2f} decide_p99_ms={p99:.1f} "
        f"rss_mb={rss.client.rss_mb:.1f}"
    )


if __name__ == "__main__":
    main()
