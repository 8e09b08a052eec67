"""``/metrics`` in the Prometheus text format: calls, texts, send latency, AMI, outbox.

:func:`families` is the one list of series; :func:`render` writes one business's
``/metrics`` from it and ``web.tenant_metrics`` the same series for every tenant, labelled.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

#: Seconds from a text's first due time to the provider accepting it (outages reach minutes).
LATENCY_BUCKETS: tuple[float, ...] = (
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0
)  # fmt: skip

#: Label pairs of one sample, in the order they are written.
Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Sample:
    """One line of a family: ``<family name><suffix>{labels} value``."""

    suffix: str
    labels: Labels
    #: An int is written as one; a float with six decimals (a histogram's ``_sum``).
    value: int | float


@dataclass(frozen=True, slots=True)
class Family:
    """One metric: its name, type, help text and samples."""

    name: str
    kind: str
    help: str
    samples: tuple[Sample, ...]


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

    def samples(self) -> list[Sample]:
        """The ``_bucket``, ``_sum`` and ``_count`` samples."""
        out, running = [], 0
        for bound, count in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            out.append(Sample("_bucket", (("le", le),), running))
        out += [Sample("_sum", (), self.total), Sample("_count", (), self.n)]
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


def _by(label: str, values: Mapping[str, int]) -> tuple[Sample, ...]:
    return tuple(Sample("", ((label, key),), n) for key, n in sorted(values.items()))


def outbox_family(depth: Mapping[str, int]) -> Family:
    """``textback_outbox_messages``: the outbox by status (read from the database)."""
    return Family(
        "textback_outbox_messages",
        "gauge",
        "Messages in the outbox, by status.",
        _by("status", depth),
    )


def running_families(source: MetricsSource) -> list[Family]:
    """Every family read from the running parts (all but the outbox, which needs a query)."""
    ami = tuple(
        Sample("", (("pbx", pbx), ("state", state)), 1 if state == "ready" else 0)
        for pbx, state in sorted(source.ami_states().items())
    )
    return [
        Family(
            "textback_calls_total",
            "counter",
            "Finished calls recorded, by outcome.",
            _by("outcome", source.calls_by_outcome()),
        ),
        Family(
            "textback_texts_total",
            "counter",
            "Texts by what the dispatcher made of them since start.",
            _by("status", source.texts_sent()),
        ),
        Family(
            "textback_send_retries_total",
            "counter",
            "Sends tried again later, by cause.",
            _by("cause", source.send_retries()),
        ),
        Family(
            "textback_send_latency_seconds",
            "histogram",
            "From a text's first due time (the call's end plus any delay) to the provider's "
            "answer, across retries.",
            tuple(source.send_latency.samples()),
        ),
        Family("textback_ami_up", "gauge", "1 when the AMI connection is logged in, per PBX.", ami),
    ]


async def families(source: MetricsSource) -> list[Family]:
    """Every series of one business's ``/metrics``, in the order they are written."""
    return [*running_families(source), outbox_family(await source.outbox_depth())]


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.6f}"


def sample_line(name: str, sample: Sample) -> str:
    """One exposition line."""
    labels = ",".join(f'{key}="{_escape(value)}"' for key, value in sample.labels)
    braces = f"{{{labels}}}" if labels else ""
    return f"{name}{sample.suffix}{braces} {_number(sample.value)}"


def exposition(metrics: Iterable[Family]) -> str:
    """The text format: each family's HELP and TYPE, then its samples."""
    lines = []
    for family in metrics:
        lines += [f"# HELP {family.name} {family.help}", f"# TYPE {family.name} {family.kind}"]
        lines += [sample_line(family.name, s) for s in family.samples]
    return "\n".join(lines) + "\n"


async def render(source: MetricsSource) -> str:
    """The whole scrape body."""
    return exposition(await families(source))


METRICS: web.AppKey[MetricsSource] = web.AppKey("metrics")


async def metrics(request: web.Request) -> web.Response:
    """``GET /metrics``."""
    body = await render(request.app[METRICS])
    return web.Response(text=body, content_type="text/plain", charset="utf-8")


def add_metrics_route(app: web.Application, source: MetricsSource) -> None:
    """Serve ``GET /metrics`` from ``source`` on ``app``."""
    app[METRICS] = source
    app.router.add_get("/metrics", metrics)
