"""Shared helpers of the pipeline tests and ``bench/pipeline.py``.

A fake SMS gateway (aiohttp, 127.0.0.1) counting idempotency keys, a workload builder that
gives every cloned call its own caller number, a ``textback.toml`` writer, the service as a
subprocess (or forked from a pre-imported interpreter: :mod:`.prefork`), a pausable paced
streamer and read-only looks at the SQLite database.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import frame_timestamp, read_trace
from asterisk_textback.ami.sim.workload import call_stream, caller_number

# Re-exported: the tests and bench/pipeline.py have always found these here.
from tests.pipeline.service import ROOT
from tests.pipeline.service import ServiceProcess as ServiceProcess
from tests.pipeline.service import wait_logged_in as wait_logged_in

TRACES = ROOT / "tests" / "fixtures" / "traces"
AMI_USER = "textback"
AMI_SECRET = "pipeline-secret"
PBX_NAME = "pbx-test"
SENDER = "+15555550100"
#: Area codes for made-up callers; each gets the 555-0100..555-0199 block reserved for fiction.
_AREAS = (
    "212", "415", "617", "312", "713", "206", "305", "404", "503", "720",
    "202", "303", "602", "702", "801", "919", "512", "614", "615", "704",
    "816", "913", "971", "978", "904", "860", "847", "818", "813", "832",
    # More US area codes for long benchmark runs (10,000 distinct callers in all).
    "201", "203", "205", "207", "208", "209", "210", "213", "214", "215",
    "216", "217", "218", "219", "220", "223", "224", "225", "227", "228",
    "229", "231", "234", "239", "240", "248", "251", "252", "253", "254",
    "256", "260", "262", "267", "269", "270", "272", "274", "276", "279",
    "281", "301", "302", "304", "307", "308", "309", "310", "313", "314",
    "315", "316", "317", "318", "319", "320", "321", "323", "325", "330",
    "334", "336", "337", "339", "347", "351", "352", "360", "361", "385",
)  # fmt: skip
_ID_RE = re.compile(rb"^[A-Za-z]*(?:Uniqueid|Linkedid): \d+\.\d*?(\d{6})\r$", re.MULTILINE)
_LINKEDID_RE = re.compile(rb"^Linkedid: ([^\r]+)\r$", re.MULTILINE)
_HANGUP = b"Event: Hangup\r\n"


def unique_number(index: int) -> str:
    """The made-up 10-digit caller number of call ``index`` (distinct for 10,000 calls)."""
    area, rest = divmod(index, 100)
    if area >= len(_AREAS):
        raise ValueError(f"only {len(_AREAS) * 100} distinct numbers; call {index} asked")
    return f"{_AREAS[area]}5550{100 + rest}"


def load_traces(directory: Path = TRACES) -> list[list[bytes]]:
    """Every recorded trace in ``directory``, in name order."""
    return [read_trace(p) for p in sorted(directory.glob("*.ami"))]


@dataclass(slots=True)
class Workload:
    """An interleaved call stream and, per external call, its number and last Hangup frame."""

    frames: list[bytes]
    calls: int
    #: Call index -> its unique caller number (external calls only).
    numbers: dict[int, str] = field(default_factory=dict)
    #: Call index -> index in ``frames`` of its last Hangup frame.
    final_hangup: dict[int, int] = field(default_factory=dict)
    #: Call index -> its Linkedid (the root channel's, as the tracker reports it).
    linkedids: dict[int, str] = field(default_factory=dict)
    #: Call index -> index in ``frames`` of its first frame.
    first_frame: dict[int, int] = field(default_factory=dict)

    def event_count(self) -> int:
        """How many frames the stream holds."""
        return len(self.frames)


def build_workload(
    traces: Sequence[Sequence[bytes]],
    calls: int,
    *,
    rate: float,
    start_at: float,
    max_gap: float | None = None,
    seed: int = 0,
) -> Workload:
    """``call_stream`` with a distinct caller number per call (no two calls share a caller)."""
    frames = call_stream(
        traces,
        calls,
        rate=rate,
        start_at=start_at,
        seed=seed,
        fresh_numbers=False,
        max_gap=max_gap,
    )
    originals = [caller_number(t) for t in traces]
    work = Workload(frames=[], calls=calls)
    for position, frame in enumerate(frames):
        match = _ID_RE.search(frame)
        if match is None:
            work.frames.append(frame)
            continue
        index = int(match.group(1)) - 1  # clone k of call i is i + 1 (call_stream)
        old = originals[index % len(traces)]
        if old is not None and len(old) >= 10:
            new = unique_number(index)
            work.numbers[index] = new
            frame = frame.replace(old, new.encode())
        if frame.startswith(_HANGUP):
            work.final_hangup[index] = position
        work.first_frame.setdefault(index, position)
        if index not in work.linkedids:
            linked = _LINKEDID_RE.search(frame)
            if linked is not None:
                work.linkedids[index] = linked.group(1).decode()
        work.frames.append(frame)
    return work


def group_by_instant(frames: Sequence[bytes]) -> list[tuple[float | None, int, int]]:
    """``(timestamp, start, stop)`` runs of frames stamped with the same instant."""
    groups: list[tuple[float | None, int, int]] = []
    i = 0
    while i < len(frames):
        ts = frame_timestamp(frames[i])
        j = i + 1
        while j < len(frames) and frame_timestamp(frames[j]) in (None, ts):
            j += 1
        groups.append((ts, i, j))
        i = j
    return groups


class PausingStreamer:
    """Streams a workload at its recorded pace, but only while a client is logged in.

    The pacing clock stops while nobody is logged in, so a crashed service misses only what
    was in flight when it died, not everything that fell due while it was restarting.
    """

    def __init__(self, server: AmiServer, frames: Sequence[bytes], *, speed: float = 1.0) -> None:
        self._server = server
        self._frames = frames
        self._speed = speed
        self.written = 0
        self.paused_seconds = 0.0
        self.done = asyncio.Event()

    async def _wait_for_client(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._server.logged_in:
            return
        began = loop.time()
        # AmiServer has no logout event; a short poll bounds how long a dead client is fed.
        while not self._server.logged_in:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        self.paused_seconds += loop.time() - began

    async def run(self) -> None:
        """Stream every frame; returns when the last one was written."""
        loop = asyncio.get_running_loop()
        await self._wait_for_client(loop)
        began = loop.time()
        origin: float | None = None
        for ts, start, stop in group_by_instant(self._frames):
            if ts is not None:
                origin = ts if origin is None else origin
                while True:
                    await self._wait_for_client(loop)
                    due = began + self.paused_seconds + (ts - origin) / self._speed
                    delay = due - loop.time()
                    if delay <= 0:
                        break
                    await asyncio.sleep(min(delay, 0.01))
            await self._wait_for_client(loop)
            await self._server.stream(self._frames[start:stop])
            self.written = stop
        self.done.set()


@dataclass(slots=True)
class Received:
    """One request the fake gateway got."""

    key: str
    to: str
    at: float


class FakeGateway:
    """A local HTTP SMS gateway: counts every idempotency key it is sent, answers 200."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self.keys: Counter[str] = Counter()
        self.requests: list[Received] = []
        self.arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        # Counted on arrival (headers read): the strictest reading of "the text left".
        key = request.headers.get("Idempotency-Key", "")
        at = time.time()
        payload: dict[str, Any] = await request.json()
        self.keys[key] += 1
        self.requests.append(Received(key, str(payload.get("to", "")), at))
        self.arrived.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.json_response({"id": f"fake-{len(self.requests)}"})

    async def start(self) -> None:
        """Listen on 127.0.0.1 at an ephemeral port (``url``)."""
        app = web.Application()
        app.router.add_post("/sms", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/sms"

    async def stop(self) -> None:
        """Close the listener and every open connection."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeGateway:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def duplicates(self) -> dict[str, int]:
        """Keys received more than once, with their counts."""
        return {k: n for k, n in self.keys.items() if n > 1}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(
    path: Path,
    *,
    ami_port: int,
    gateway_url: str,
    database_url: str,
    suppression: Mapping[str, Any] | None = None,
    dispatch: Mapping[str, Any] | None = None,
    web_port: int | None = None,
    provider: Mapping[str, Any] | None = None,
    pbx: Mapping[str, Any] | None = None,
) -> Path:
    """A ``textback.toml`` texting every missed inbound caller at once through the fake."""
    sections: dict[str, dict[str, Any]] = {
        "pbx": {
            "name": PBX_NAME,
            "host": "127.0.0.1",
            "port": ami_port,
            "username": AMI_USER,
            "secret": AMI_SECRET,
            "reconnect_min": 0.05,
            "reconnect_max": 0.5,
            **(pbx or {}),
        },
        "business": {"name": "Acme Plumbing", "booking_link": "https://acme.example/book"},
        # Caps off: cooldown 0, a high daily cap, rate caps 0 (= off), quiet hours off
        # (TOML has no null: false), no misdial minimum, no delay.
        "suppression": {
            "cooldown_hours": 0,
            "daily_cap": 100,
            "global_rate_per_minute": 0,
            "per_prefix_rate_per_minute": 0,
            "quiet_hours": False,
            "misdial_min_seconds": 0,
            "send_delay_seconds": 0,
            **(suppression or {}),
        },
        "provider": {
            "name": "webhook",
            "default_sender": SENDER,
            "rate_per_second": 100000,
            **(provider or {}),
        },
        "provider.webhook": {"url": gateway_url, "timeout_seconds": 5},
        "database": {"url": database_url},
        "dispatch": {"poll_seconds": 0.2, **(dispatch or {})},
        "web": {"enabled": web_port is not None, "port": web_port or 0},
    }
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in values.items())
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite+aiosqlite:///{path}"


def query(db: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run one read-only query on the SQLite file (WAL: never blocks the service)."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return list(connection.execute(sql, params).fetchall())
    finally:
        connection.close()


def status_counts(db: Path) -> Counter[str]:
    """Messages per status."""
    return Counter({s: n for s, n in query(db, "SELECT status, count(*) FROM messages GROUP BY 1")})


async def wait_until_quiet(db: Path, *, settle: float = 1.0) -> Counter[str]:
    """Wait until nothing is queued or sending and the calls table stops growing."""
    last = -1
    while True:
        counts = await asyncio.to_thread(status_counts, db)
        ((calls,),) = await asyncio.to_thread(query, db, "SELECT count(*) FROM calls")
        if counts["queued"] == 0 and counts["sending"] == 0 and calls == last:
            return counts
        last = calls
        await asyncio.sleep(settle)
