"""``/metrics`` in the Prometheus text format: calls, texts, send latency, AMI, outbox."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

#: Seconds from a text's first due time to the provider accepting it (outages reach minutes).
LATENCY_BUCKETS: tuple[float, ...] = (
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0
)  # fmt: skip


@dataclass(slots=True)
class Histogram:
    """A cumulative-bucket histogram (Prometheus semantics)."""

    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0
    n: int = 0

    def observe(self, value: float) -> None:
        """Count one observation."""
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str) -> list[str]:
        """The exposition lines (``_bucket``, ``_sum``, ``_count``)."""
        out, running = [], 0
        for bound, count in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            out.append(f'{name}_bucket{{le="{le}"}} {running}')
        out += [f"{name}_sum {self.total:.6f}", f"{name}_count {self.n}"]
        return out


@dataclass(frozen=True, slots=True)
class MetricsSource:
    """Where the numbers come from (the running service's parts, read at scrape time)."""

    calls_by_outcome: Callable[[], Mapping[str, int]]
    texts_sent: Callable[[], Counter[str]]
    send_latency: Histogram
    ami_states: Callable[[], Mapping[str, str]]
    outbox_depth: Callable[[], Awaitable[Mapping[str, int]]]
    #: Texts put back for another try, by cause (``connection``, ``throttled``, ...).
    send_retries: Callable[[], Mapping[str, int]] = dict


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


async def render(source: MetricsSource) -> str:
    """The whole scrape body."""
    lines = [
        "# HELP textback_calls_total Finished calls recorded, by outcome.",
        "# TYPE textback_calls_total counter",
    ]
    for outcome, n in sorted(source.calls_by_outcome().items()):
        lines.append(f'textback_calls_total{{outcome="{_escape(outcome)}"}} {n}')
    lines += [
        "# HELP textback_texts_total Texts by what the dispatcher made of them since start.",
        "# TYPE textback_texts_total counter",
    ]
    for status, n in sorted(source.texts_sent().items()):
        lines.append(f'textback_texts_total{{status="{_escape(status)}"}} {n}')
    lines += [
        "# HELP textback_send_retries_total Sends tried again later, by cause.",
        "# TYPE textback_send_retries_total counter",
        *(
            f'textback_send_retries_total{{cause="{_escape(cause)}"}} {n}'
            for cause, n in sorted(source.send_retries().items())
        ),
        "# HELP textback_send_latency_seconds From a text's first due time (the call's end "
        "plus any delay) to the provider's answer, across retries.",
        "# TYPE textback_send_latency_seconds histogram",
        *source.send_latency.lines("textback_send_latency_seconds"),
        "# HELP textback_ami_up 1 when the AMI connection is logged in, per PBX.",
        "# TYPE textback_ami_up gauge",
    ]
    for pbx, state in sorted(source.ami_states().items()):
        up = 1 if state == "ready" else 0
        lines.append(f'textback_ami_up{{pbx="{_escape(pbx)}",state="{_escape(state)}"}} {up}')
    lines += [
        "# HELP textback_outbox_messages Messages in the outbox, by status.",
        "# TYPE textback_outbox_messages gauge",
    ]
    for status, n in sorted((await source.outbox_depth()).items()):
        lines.append(f'textback_outbox_messages{{status="{_escape(status)}"}} {n}')
    return "\n".join(lines) + "\n"


METRICS: web.AppKey[MetricsSource] = web.AppKey("metrics")


async def metrics(request: web.Request) -> web.Response:
    """``GET /metrics``."""
    body = await render(request.app[METRICS])
    return web.Response(text=body, content_type="text/plain", charset="utf-8")


def add_metrics_route(app: web.Application, source: MetricsSource) -> None:
    """Serve ``GET /metrics`` from ``source`` on ``app``."""
    app[METRICS] = source
    app.router.add_get("/metrics", metrics)
