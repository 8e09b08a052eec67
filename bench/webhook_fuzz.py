"""Webhook fuzzing: forged provider callbacks must never be accepted, stored or crash the server.

``python bench/webhook_fuzz.py [--requests N] [--seed S]`` serves the real ``webhook_app``
with the real adapters of Twilio, SignalWire, Telnyx, Plivo, Vonage and Bandwidth (the
generic webhook provider has no callback verifier) on a loopback port, over a fresh SQLite
database, and sends N fuzzed requests spread over the vendors: genuine ones (the control),
random bodies and encodings, truncated/random/missing signatures, requests re-signed with the
wrong key, mutated genuine requests, oversized bodies, wrong content types and methods, stale
or future timestamps, other URLs and other vendors' endpoints.

A request is *forged* unless its credential headers are exactly what the vendor itself would
send for that URL, body and (fresh) timestamp — computed by the independent signers in
``tests/sms/contract/kits.py``. ``stored_forged`` counts rows in the database that no
authentic request accounts for.

A second phase (``bench/route_fuzz.py``; ``--per-route 0`` skips it) fuzzes every other route
of ``run``'s web app too (bookings, ``/healthz``, ``/metrics``, the dashboard, ``/api/v1``) with
hostile path, query, header and body values; its 5xx count is added to ``server_errors``.
The last line is
``webhook_fuzz requests=<n> accepted_forged=<n> server_errors=<n> stored_forged=<n>``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import json
import logging
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))  # a plain checkout: the package need not be installed

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from sqlalchemy import select  # noqa: E402

from asterisk_textback.inbound.inbox import Inbox  # noqa: E402
from asterisk_textback.inbound.settings import ConsentSettings  # noqa: E402
from asterisk_textback.policy.numbers import parse_caller  # noqa: E402
from asterisk_textback.sms.base import InboundSms, WebhookRequest  # noqa: E402
from asterisk_textback.store.engine import create_engine, create_session_factory  # noqa: E402
from asterisk_textback.store.models import Contact, InboundMessage, PendingDeliveryReport  # noqa: E402
from asterisk_textback.store.schema import upgrade  # noqa: E402
from asterisk_textback.web.settings import WebhookServerSettings  # noqa: E402
from asterisk_textback.web.webhooks import webhook_app  # noqa: E402
from bench.route_fuzz import report as route_report  # noqa: E402
from bench.route_fuzz import run_routes  # noqa: E402
from tests.sms.contract.kits import Kit, Stamp, all_kits  # noqa: E402

PUBLIC = "https://sms.example.com/textback"
MAX_BODY = 64 * 1024
KINDS = {  # kind -> weight
    "genuine": 10,
    "replay": 3,
    "garbage": 12,
    "truncated_sig": 8,
    "random_sig": 8,
    "no_sig": 5,
    "wrong_key": 10,
    "mutated": 14,
    "reencoded": 6,
    "noisy_headers": 5,
    "oversized": 3,
    "stale": 6,
    "other_url": 4,
    "other_vendor": 4,
    "wrong_method": 2,
}
TEXTS = ["STOP", "yes please call me", "HELP", "start", "Remove me", "ok 👍", "a" * 900]
WEIRD = ["\x00", "\r\n", "%", "&", "=", "+", "\u202e", "\ud7ff", "🙂", '"', "\\", "<", "é"]


@dataclass
class Shot:
    """One request to send, and whether it is authentic."""

    kind: str
    kit: Kit  # the vendor whose endpoint receives it
    path: str
    method: str
    headers: dict[str, str]
    body: bytes
    stamp: Stamp
    forged: bool = True
    #: The body as the server sees it (after an HTTP ``Content-Encoding``), if different.
    decoded: bytes | None = None

    @property
    def content(self) -> bytes:
        """What the adapter verifies."""
        return self.body if self.decoded is None else self.decoded


@dataclass
class Tally:
    """What happened, per kind and in total."""

    requests: int = 0
    accepted_forged: int = 0
    server_errors: int = 0
    stored_forged: int = 0
    disconnects: int = 0
    adapter_exceptions: int = 0
    store_failures: int = 0
    stored_rows: int = 0
    genuine: int = 0
    genuine_accepted: int = 0
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    allowed_messages: set[tuple[str, str]] = field(default_factory=set)
    allowed_numbers: set[str] = field(default_factory=set)


class _Failures(logging.Handler):
    """Counts the webhook route's errors: adapter bugs (answered 400), store failures (503)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        """Count one by its message; the first line of each goes to stderr."""
        self.counts["store" if "could not store" in record.msg else "adapter"] += 1
        cause = record.exc_info[1] if record.exc_info else None
        print(f"{record.getMessage()}: {cause!r}"[:300], file=sys.stderr)


class Fuzzer:
    """Makes shots; classifies each by comparing it with what the vendor would send."""

    def __init__(self, kits: list[Kit], rng: random.Random, clock: Callable[[], float]) -> None:
        self.kits, self.rng, self.clock = kits, rng, clock
        self.genuine: list[Shot] = []

    def _text(self) -> str:
        r = self.rng
        return "".join(r.choice(WEIRD) if r.random() < 0.2 else r.choice(TEXTS)[:20] for _ in "ab")

    def _number(self) -> str:
        return f"+1{self.rng.randint(200, 999)}555{self.rng.randint(0, 9999):04d}"

    def _payload(self, kit: Kit, n: int) -> bytes:
        r, ident = self.rng, f"fz-{n:06d}"
        roll = r.random()
        if roll < 0.5:
            return kit.inbound(ident, self._number(), "+15550100001", self._text())
        if roll < 0.8:
            return kit.delivered(ident)
        return kit.failed(ident, r.choice(["21610", "40300", "200", "4775", "1050", "4720"]))

    def _garbage(self) -> bytes:
        r = self.rng
        roll = r.random()
        if roll < 0.3:
            return r.randbytes(r.randint(0, 2048))
        if roll < 0.6:
            return json.dumps(self._json(3)).encode()
        if roll < 0.8:
            return "&".join(
                f"{self._text()}={self._text()}" for _ in range(r.randint(0, 8))
            ).encode("utf-8", "surrogatepass")
        return self._text().encode("utf-8", "surrogatepass")

    def _json(self, depth: int) -> object:
        r = self.rng
        if depth == 0 or r.random() < 0.3:
            return r.choice([None, True, 1, -1.5, 10**30, self._text(), "", []])
        if r.random() < 0.5:
            return [self._json(depth - 1) for _ in range(r.randint(0, 4))]
        keys = ["data", "payload", "message", "type", "id", "status", "MessageSid", "to", "from"]
        return {r.choice(keys): self._json(depth - 1) for _ in range(r.randint(0, 5))}

    def _mutate(self, body: bytes) -> bytes:
        r, data = self.rng, bytearray(body)
        for _ in range(r.randint(1, 4)):
            op, at = r.random(), r.randrange(len(data) + 1)
            if op < 0.3 and data:
                data[min(at, len(data) - 1)] ^= 1 << r.randrange(8)
            elif op < 0.5:
                data[at:at] = r.choice([b"&Body=STOP", b'"x"', b"0", b"\xff", b"%00", b" "])
            elif op < 0.7 and data:
                del data[at : at + r.randint(1, 16)]
            elif op < 0.85:
                data = data.replace(b"1", b"2", 1) if r.random() < 0.5 else data.swapcase()
            else:
                data = data[: r.randrange(len(data) + 1)]
        return bytes(data)

    def _reencode(self, body: bytes, headers: dict[str, str]) -> bytes:
        r, text = self.rng, body.decode("utf-8", "replace")
        roll = r.random()
        if roll < 0.3:
            return text.encode("utf-16")
        if roll < 0.5:
            return b"\xef\xbb\xbf" + body
        if roll < 0.7:
            headers["content-encoding"] = "gzip"
            return gzip.compress(body)
        if roll < 0.85:
            return text.encode("latin-1", "replace")
        return "".join(f"%{b:02X}" if r.random() < 0.3 else chr(b) for b in body).encode()

    def _sig(self, value: str, how: str) -> str:
        # An auth scheme is case-insensitive ("bearer" is "Bearer"): only the credentials change.
        scheme, space, value = value.rpartition(" ")
        return scheme + space + self._credential(value, how)

    def _credential(self, value: str, how: str) -> str:
        r = self.rng
        if how == "truncated":
            return value[: r.randrange(len(value))]
        # Random bytes of a plausible shape; flips only in the first half, where base64 has
        # no unused bits (a flip there is a different signature, not the same one re-spelled).
        if r.random() < 0.5 and len(value) > 8:
            at = r.randrange(len(value) // 2)
            flipped = "A" if value[at] != "A" else "B"
            return value[:at] + flipped + value[at + 1 :]
        return base64.b64encode(r.randbytes(r.choice([16, 20, 32, 64]))).decode()

    def shot(self, n: int) -> Shot:
        """The ``n``-th fuzzed request."""
        r = self.rng
        kind = r.choices(list(KINDS), weights=list(KINDS.values()))[0]
        if kind == "replay" and self.genuine:
            old = r.choice(self.genuine)
            again = Shot(
                "replay", old.kit, old.path, "POST", dict(old.headers), old.body, old.stamp
            )
            again.forged = not self.authentic(again)
            return again
        kit = r.choice(self.kits)
        path = f"/webhooks/{kit.name}" + r.choice(["", "/status", "/inbound"])
        stamp = Stamp(int(self.clock()), f"nonce-{n}")
        body = self._payload(kit, n)
        wrong = kind == "wrong_key" or (kind == "stale" and not kit.tolerance)
        if kind == "stale" and kit.tolerance:
            offset = kit.tolerance + r.choice([31, 600, 86_400, 10**7])
            stamp = Stamp(stamp.at + (offset if r.random() < 0.4 else -offset), stamp.nonce)
        if kind == "oversized":
            body = body + b" " * (MAX_BODY + r.randint(1, 4096))
        headers = {"content-type": kit.content_type} | kit.sign(
            PUBLIC + path, body, stamp, wrong=wrong
        )
        method = r.choice(["GET", "PUT", "DELETE", "PATCH"]) if kind == "wrong_method" else "POST"
        original = body
        if kind == "garbage":
            body = self._garbage()
            headers = {k: self._sig(v, "random") for k, v in headers.items()} | {
                "content-type": r.choice(["application/json", kit.content_type, "text/plain"])
            }
        elif kind in ("truncated_sig", "random_sig"):
            name = r.choice(kit.credential_headers)
            headers[name] = self._sig(headers[name], kind.split("_")[0])
        elif kind == "no_sig":
            for name in kit.credential_headers:
                if r.random() < 0.7:
                    headers.pop(name, None)
        elif kind == "mutated":
            body = self._mutate(body)
        elif kind == "reencoded":
            body = self._reencode(body, headers)
        elif kind == "noisy_headers":
            headers["content-type"] = r.choice(["text/plain", "application/xml", "", "x/y"])
            headers["x-forwarded-host"] = "evil.example"
        elif kind == "other_url":
            path = path + r.choice(["/", "?a=1", "x", "?MessageSid=evil"])
        elif kind == "other_vendor":
            kit = r.choice([k for k in self.kits if k is not kit])
            path = f"/webhooks/{kit.name}"
        shot = Shot(kind, kit, path, method, headers, body, stamp)
        if headers.get("content-encoding") == "gzip":
            shot.decoded = original  # aiohttp undoes the transfer coding before the adapter
        shot.forged = not self.authentic(shot)
        if kind == "genuine" and not shot.forged:
            self.genuine.append(shot)
        return shot

    def authentic(self, shot: Shot) -> bool:
        """Whether the vendor itself would have sent exactly these credentials."""
        kit = shot.kit
        if kit.tolerance and abs(self.clock() - shot.stamp.at) > kit.tolerance:
            return False
        expected = kit.sign(PUBLIC + shot.path, shot.content, shot.stamp)
        return all(
            shot.headers.get(h, "").strip() == expected.get(h, "").strip()
            for h in kit.credential_headers
        )


def _allow(tally: Tally, shot: Shot, now: float) -> None:
    """Record what an authentic request may legitimately store."""
    url = PUBLIC + shot.path
    request = WebhookRequest(shot.method, url, shot.headers, shot.content)
    try:
        events = shot.kit.adapter.parse(request, now)
    except Exception:
        return
    for event in events:
        tally.allowed_messages.add((event.provider, event.provider_message_id))
        if isinstance(event, InboundSms):
            tally.allowed_numbers.add(event.from_number)
            caller = parse_caller(event.from_number, "US")
            if caller.e164:
                tally.allowed_numbers.add(caller.e164)


async def _fire(http: aiohttp.ClientSession, base: str, shot: Shot, tally: Tally) -> None:
    try:
        async with http.request(
            shot.method, base + shot.path, data=shot.body, headers=shot.headers
        ) as resp:
            status = resp.status
            await resp.read()
    except (aiohttp.ClientError, OSError):
        # The server may close an oversized upload after answering 413 before reading it.
        tally.disconnects += 1
        status = 0
    tally.requests += 1
    tally.statuses[(shot.kind, status)] += 1
    if status >= 500:
        tally.server_errors += 1
    if shot.forged and 200 <= status < 300:
        tally.accepted_forged += 1
        print(f"ACCEPTED FORGED {shot.kind} {shot.kit.name}{shot.path}", file=sys.stderr)
    if not shot.forged and shot.kind == "genuine":
        tally.genuine += 1
        tally.genuine_accepted += 200 <= status < 300


async def _stored_forged(sessions: object, tally: Tally) -> int:
    async with sessions() as session:  # type: ignore[operator]
        inbound = (
            await session.execute(
                select(InboundMessage.provider, InboundMessage.provider_message_id)
            )
        ).all()
        reports = (
            await session.execute(
                select(PendingDeliveryReport.provider, PendingDeliveryReport.provider_message_id)
            )
        ).all()
        numbers = (await session.scalars(select(Contact.e164))).all()
    rows = [tuple(r) for r in (*inbound, *reports)]
    tally.stored_rows = len(rows) + len(numbers)
    strays = [r for r in rows if r not in tally.allowed_messages]
    strays += [n for n in numbers if n not in tally.allowed_numbers]
    return len(strays)


async def run(requests: int = 10_000, seed: int = 1, concurrency: int = 8) -> Tally:
    """Serve the real app, fire ``requests`` fuzzed requests, and count what got through."""
    kits, tally = all_kits(), Tally()
    failures = _Failures()
    web_log = logging.getLogger("asterisk_textback.web.webhooks")
    # Refusals are logged as warnings by design: 10,000 of them are noise here.
    web_log.addHandler(failures)
    web_log.propagate = False
    fuzzer = Fuzzer(kits, random.Random(seed), time.time)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'fuzz.db'}"
        await upgrade(url)
        engine = create_engine(url)
        sessions = create_session_factory(engine)
        inbox = Inbox(sessions, ConsentSettings(contact="+1 555 0100"), business_name="Acme")
        settings = WebhookServerSettings(public_base_url=PUBLIC, max_body_bytes=MAX_BODY)
        app = webhook_app({k.name: k.adapter for k in kits}, inbox, settings, sweep_seconds=None)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        gate = asyncio.Semaphore(concurrency)

        async def one(n: int, http: aiohttp.ClientSession) -> None:
            async with gate:
                shot = fuzzer.shot(n)
                if not shot.forged:
                    _allow(tally, shot, time.time())
                await _fire(http, f"http://127.0.0.1:{port}", shot, tally)

        try:
            async with aiohttp.ClientSession() as http:
                await asyncio.gather(*(one(n, http) for n in range(requests)))
            tally.stored_forged = await _stored_forged(sessions, tally)
        finally:
            await runner.cleanup()
            await engine.dispose()
            web_log.removeHandler(failures)
            web_log.propagate = True
    tally.adapter_exceptions = failures.counts["adapter"]
    tally.store_failures = failures.counts["store"]
    return tally


def report(tally: Tally) -> str:
    """Counts per kind and status, then the summary line."""
    lines = [
        f"{kind:14} HTTP {status or 'drop'}: {count}"
        for (kind, status), count in sorted(tally.statuses.items())
    ]
    lines.append(f"genuine control requests accepted: {tally.genuine_accepted}/{tally.genuine}")
    lines.append(f"connections dropped by the server: {tally.disconnects}")
    lines.append(f"adapter exceptions (answered 400): {tally.adapter_exceptions}")
    lines.append(f"store failures (answered 503, provider retries): {tally.store_failures}")
    lines.append(f"rows stored (inbound, pending reports, contacts): {tally.stored_rows}")
    lines.append(
        f"webhook_fuzz requests={tally.requests} accepted_forged={tally.accepted_forged} "
        f"server_errors={tally.server_errors} stored_forged={tally.stored_forged}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the fuzzer; exit 1 if anything forged got through or the server failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--per-route", type=int, default=200, help="hostile requests per route")
    args = parser.parse_args(argv)
    tally = asyncio.run(run(args.requests, args.seed, args.concurrency))
    if args.per_route:
        routes = asyncio.run(run_routes(args.per_route, args.seed, args.concurrency))
        print("\n".join(route_report(routes)))
        tally.requests += routes.requests
        tally.server_errors += routes.server_errors
    print(report(tally))
    return 1 if tally.accepted_forged or tally.server_errors or tally.stored_forged else 0


if __name__ == "__main__":
    sys.exit(main())
