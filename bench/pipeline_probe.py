"""Run ``asterisk_textback`` with timers around each await of the pipeline (bench only).

``python bench/pipeline_probe.py OUT.json -m asterisk_textback run -c textback.toml`` wraps
the recorder's and dispatcher's database calls and the provider's send in timers, watches
the event loop's lag, and writes per-step statistics (ms) to ``OUT.json`` at exit. Nothing in
the package is changed on disk; the wrappers are installed in this process only.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from asterisk_textback.app import service  # noqa: E402
from asterisk_textback.calls.model import CallEnded  # noqa: E402
from asterisk_textback.cli import main as cli  # noqa: E402
from asterisk_textback.sms.vendors.webhook import WebhookProvider  # noqa: E402
from asterisk_textback.store import history, outbox, results  # noqa: E402
from asterisk_textback.textback import handler as pipeline  # noqa: E402


class Probe:
    """Durations per named step, queue waits, and event-loop lag samples (seconds)."""

    def __init__(self) -> None:
        self.steps: dict[str, list[float]] = {}
        self.submitted: dict[str, float] = {}
        #: Set by the first call handed to the recorder: loop lag counts from then on.
        self.live = False

    def add(self, name: str, seconds: float) -> None:
        """Record one duration."""
        self.steps.setdefault(name, []).append(seconds)

    def timed(self, name: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """``fn`` with its duration recorded under ``name``."""

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - began)

        return wrapper

    def summary(self) -> dict[str, dict[str, float]]:
        """Count, total, p50, p99 and max (ms) per step."""
        out = {}
        for name, values in sorted(self.steps.items()):
            ordered = sorted(values)
            n = len(ordered)
            out[name] = {
                "count": n,
                "total_s": round(sum(ordered), 3),
                "p50_ms": round(ordered[n // 2] * 1000, 2),
                "p99_ms": round(ordered[min(n - 1, int(n * 0.99))] * 1000, 2),
                "max_ms": round(ordered[-1] * 1000, 2),
            }
        return out


def _wrap(owner: object, attribute: str, probe: Probe, name: str) -> None:
    setattr(owner, attribute, probe.timed(name, getattr(owner, attribute)))


def install(probe: Probe) -> None:
    """Wrap the pipeline's awaits (module attributes, as the call sites look them up)."""
    _wrap(history, "contact_history", probe, "recorder.contact_history")
    _wrap(outbox, "cancel_if_handled", probe, "recorder.cancel_if_handled")
    _wrap(pipeline, "record_call_and_enqueue", probe, "recorder.record_call_and_enqueue")
    _wrap(outbox, "claim_due", probe, "dispatch.claim_due")
    _wrap(outbox, "expire_due", probe, "dispatch.expire_due")
    _wrap(results, "mark_sending_many", probe, "dispatch.mark_sending_many")
    _wrap(results, "mark_sent_many", probe, "dispatch.mark_sent_many")
    _wrap(WebhookProvider, "send", probe, "dispatch.provider_send")

    submit = pipeline.CallHandler.submit
    record = pipeline.CallHandler.record

    def timed_submit(self: pipeline.CallHandler, call: CallEnded) -> None:
        probe.submitted[call.linkedid] = time.perf_counter()
        probe.live = True
        submit(self, call)

    async def timed_record(self: pipeline.CallHandler, call: CallEnded) -> pipeline.CallResult:
        began = time.perf_counter()
        queued_at = probe.submitted.pop(call.linkedid, began)
        probe.add("recorder.queue_wait", began - queued_at)
        try:
            return await record(self, call)
        finally:
            probe.add("recorder.record_total", time.perf_counter() - began)

    setattr(pipeline.CallHandler, "submit", timed_submit)  # noqa: B010 - patched on purpose
    setattr(pipeline.CallHandler, "record", timed_record)  # noqa: B010
    serve = service.serve

    async def serve_with_lag(*args: Any, **kwargs: Any) -> service.RunningService:
        async def watch() -> None:
            while True:
                began = time.perf_counter()
                await asyncio.sleep(0.005)
                if probe.live:  # not start-up work (heap.settle, connecting)
                    probe.add("loop.lag", time.perf_counter() - began - 0.005)

        watcher = asyncio.create_task(watch())
        try:
            return await serve(*args, **kwargs)
        finally:
            watcher.cancel()

    setattr(service, "serve", serve_with_lag)  # noqa: B010 - cli.run calls service.serve
    collecting: dict[int, float] = {}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        # Each collection's pause, per generation: a full one stops the event loop.
        if phase == "start":
            collecting[info["generation"]] = time.perf_counter()
        elif (began := collecting.pop(info["generation"], None)) is not None:
            when = "" if probe.live else ".before_first_call"
            probe.add(f"gc.gen{info['generation']}{when}", time.perf_counter() - began)

    gc.callbacks.append(on_gc)


def main() -> int:
    """``pipeline_probe.py OUT.json -m asterisk_textback ARGS...``."""
    out = Path(sys.argv[1])
    if sys.argv[2:4] != ["-m", "asterisk_textback"]:
        raise SystemExit("usage: pipeline_probe.py OUT.json -m asterisk_textback ARGS...")
    probe = Probe()
    install(probe)
    try:
        return cli.main(sys.argv[4:])
    finally:
        out.write_text(json.dumps(probe.summary(), indent=1))


if __name__ == "__main__":
    sys.exit(main())
