"""Flood benchmark: calls that never hang up, then one real missed call.

Run from a checkout: ``python bench/flood.py [--calls 100000] [--open 50000] [--db URL]``.

The attack of issue 13 #10: ``--calls`` calls ring in (their root ``Newchannel``, the first
frame of a real recorded inbound call, with fresh ids and numbers) and never hang up. The
real tracker, capped at ``--open`` open calls, evicts the oldest (outcome ``unknown``) and
hands them to the real recorder, which writes them to a real database (a fresh SQLite file
unless ``--db`` names another, e.g. a PostgreSQL database already migrated). Then a real
recorded missed call (``direct-voicemail-left.ami``, fresh ids) plays through the same
tracker; the figure is how long after its last frame its text is in the outbox.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))  # a plain checkout: the package need not be installed

from asterisk_textback.calls.settings import TrackerSettings  # noqa: E402
from asterisk_textback.calls.tracker import CallTracker  # noqa: E402
from asterisk_textback.config import Settings  # noqa: E402
from asterisk_textback.policy.settings import SuppressionSettings  # noqa: E402
from asterisk_textback.store.engine import create_engine, create_session_factory  # noqa: E402
from asterisk_textback.store.schema import upgrade  # noqa: E402
from asterisk_textback.textback.handler import CallHandler  # noqa: E402
from asterisk_textback.textback.loading import prepare  # noqa: E402

TRACE = _ROOT / "tests" / "fixtures" / "traces" / "direct-voicemail-left.ami"
Event = dict[str, str]


def _events(path: Path) -> list[Event]:
    """A recorded trace as event dicts, without ``Timestamp`` (the calls happen now)."""
    events = []
    for block in path.read_bytes().decode("utf-8").split("\r\n\r\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\r\n") if ": " in line)
        fields.pop("Timestamp", None)
        if "Event" in fields:
            events.append(fields)
    return events


def _renamed(events: list[Event], tag: str) -> list[Event]:
    """The trace with every Uniqueid/Linkedid made unique by ``tag``."""
    return [
        {k: f"{v}{tag}" if k.endswith(("Uniqueid", "Linkedid")) and v else v for k, v in e.items()}
        for e in events
    ]


async def main(calls: int, open_cap: int, db: str | None) -> dict[str, float]:
    """Run the flood, then the real call; the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        url = db or f"sqlite+aiosqlite:///{tmp}/flood.db"
        if db is None:
            await upgrade(url)
        engine = create_engine(url)
        try:
            return await _run(create_session_factory(engine), calls, open_cap)
        finally:
            await engine.dispose()


async def _run(sessions: object, calls: int, open_cap: int) -> dict[str, float]:
    settings = Settings(suppression=SuppressionSettings(quiet_hours=None))
    queued = asyncio.Event()
    recorder = CallHandler(prepare(settings), sessions, on_queued=queued.set)  # type: ignore[arg-type]
    tracker = CallTracker(TrackerSettings(max_open_calls=open_cap))
    trace = _events(TRACE)
    root = trace[0]
    running = asyncio.create_task(recorder.run())
    started = time.perf_counter()
    for i in range(calls):
        ring = {
            **root,
            "Uniqueid": f"9{i:09d}.1",
            "Linkedid": f"9{i:09d}.1",
            "Channel": f"PJSIP/trunk-{i:08x}",
            "CallerIDNum": f"212{5_000_000 + i % 4_000_000:07d}",
        }
        for call in tracker.feed(ring, time.time()):
            recorder.submit(call)
        if i % 1000 == 0:
            await asyncio.sleep(0)  # frames arrive over time; the recorder works meanwhile
    flood_fed = time.perf_counter() - started
    backlog = recorder.backlog
    real = _renamed(trace, "7")
    for event in real:
        for call in tracker.feed(event, time.time()):
            recorder.submit(call)
    hung_up = time.perf_counter()
    await asyncio.wait_for(queued.wait(), 600)
    latency = time.perf_counter() - hung_up
    recorder.stop()
    await running
    return {
        "calls": calls,
        "evicted": tracker.stats.evicted,
        "flood_fed_s": round(flood_fed, 2),
        "backlog_when_real_call_ended": backlog,
        "real_call_text_queued_ms": round(latency * 1000, 1),
        "all_written_s": round(time.perf_counter() - started, 2),
        "recorded": recorder.recorded,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=50_000, help="tracker.max_open_calls")
    parser.add_argument("--db", help="a migrated database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.calls, args.open, args.db)), indent=2))
