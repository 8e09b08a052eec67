"""Screenshots of the dashboard for README: the Overview and a Conversation, desktop and phone.

Run by hand from the repository's root (needs Debian's ``chromium``; the test extras give
Playwright)::

    .venv/bin/python docs/screenshots.py

It seeds a demo SQLite database through the store functions (a month of a New York plumbing
company's calls: missed calls texted back, delivery reports, replies, bookings, one STOP),
serves the dashboard on a free local port, logs in and saves ``docs/overview-1400.png``,
``docs/overview-390.png``, ``docs/conversation-1400.png`` and ``docs/conversation-390.png``.
Nothing leaves the machine; the database lives in a temporary folder.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason  # noqa: E402
from asterisk_textback.inbound.kinds import InboundKind  # noqa: E402
from asterisk_textback.kpi.settings import KpiSettings  # noqa: E402
from asterisk_textback.policy.decision import Action  # noqa: E402
from asterisk_textback.sms.base import DeliveryReport, DeliveryState  # noqa: E402
from asterisk_textback.store.bookings import mark_booked  # noqa: E402
from asterisk_textback.store.calls import CallDecision, record_call_and_enqueue  # noqa: E402
from asterisk_textback.store.delivery import apply_report  # noqa: E402
from asterisk_textback.store.engine import create_engine, create_session_factory  # noqa: E402
from asterisk_textback.store.inbound import NewInbound, record_inbound  # noqa: E402
from asterisk_textback.store.outbox import NewMessage, claim_due  # noqa: E402
from asterisk_textback.store.results import mark_sent  # noqa: E402
from asterisk_textback.store.schema import upgrade  # noqa: E402
from asterisk_textback.store.uow import unit_of_work  # noqa: E402
from asterisk_textback.web.dashboard.app import DashboardDeps  # noqa: E402
from asterisk_textback.web.dashboard.auth import hash_password  # noqa: E402
from asterisk_textback.web.dashboard.mount import dashboard_app  # noqa: E402
from asterisk_textback.web.dashboard.settings import DashboardSettings  # noqa: E402

ZONE = ZoneInfo("America/New_York")
OUR_NUMBER = "+12125550100"
DID = "2125550100"
PASSWORD = "screenshots only"
#: The caller whose conversation is photographed.
STAR = "+13475550123"
BODY = (
    "Sorry we missed your call! This is Acme Plumbing - reply here and we'll call you "
    "right back, or book a visit at https://acme.example/book. Reply STOP to opt out."
)
REPLIES = (
    "Hi, water heater is leaking in the basement. Can someone come today?",
    "Yes please call me back",
    "Need a quote for a bathroom remodel",
    "Kitchen sink is clogged, are you free tomorrow morning?",
)


def _call(n: int, at: datetime, outcome: Outcome, number: str) -> CallEnded:
    missed = outcome is not Outcome.ANSWERED
    return CallEnded(
        linkedid=f"1800000000.{n}",
        direction=Direction.INBOUND,
        outcome=outcome,
        reason=Reason.NO_ANSWER if missed else Reason.ANSWERED,
        caller_number=number,
        caller_name=f"Caller {n}",
        did=DID,
        queue=None,
        mailbox="100" if outcome is Outcome.MISSED_VOICEMAIL else None,
        started_at=(at - timedelta(seconds=24)).timestamp(),
        ended_at=at.timestamp(),
        ring_seconds=24.0,
    )


async def _inbound(
    db: AsyncSession, k: int, number: str, body: str, at: datetime, kind: InboundKind
) -> None:
    new = NewInbound("twilio", f"in-{k}", number, OUR_NUMBER, body, at, kind)
    await record_inbound(db, new, now=at)


async def seed(factory: async_sessionmaker[AsyncSession], now: datetime) -> None:
    """A month of calls: a third answered, the rest missed and (mostly) texted back."""
    rng = random.Random(15)
    calls: dict[str, int] = {}
    async with unit_of_work(factory) as db:
        for n in range(60):
            at = now - timedelta(days=rng.uniform(0.2, 29.5))
            number = STAR if n == 0 else f"+1347555{1000 + n:04d}"
            outcome = rng.choice(
                [Outcome.ANSWERED, Outcome.MISSED_NO_VOICEMAIL, Outcome.MISSED_VOICEMAIL]
            )
            if n == 0:
                outcome, at = Outcome.MISSED_VOICEMAIL, now - timedelta(hours=3)
            texted = outcome is not Outcome.ANSWERED and (n == 0 or rng.random() < 0.85)
            reason = "answered" if outcome is Outcome.ANSWERED else None if texted else "landline"
            message = None
            if texted:
                message = NewMessage(
                    to_e164=number,
                    sender=OUR_NUMBER,
                    body=BODY,
                    segments=2,
                    encoding="gsm7",
                    send_at=at,
                    template="missed",
                    variant=None,
                    experiment=None,
                )
            decision = CallDecision(
                Action.SEND if texted else Action.SUPPRESS,
                suppress_reason=reason,
                template="missed" if texted else None,
            )
            recorded = await record_call_and_enqueue(
                db, _call(n, at, outcome, number), decision, message, caller_e164=number, now=at
            )
            if texted:
                calls[number] = recorded.call.id
    claimed = await claim_due(factory, "screenshots", now, 200)
    async with unit_of_work(factory) as db:
        for k, row in enumerate(claimed):
            sent_at = row.send_at + timedelta(seconds=rng.uniform(1.2, 4.0))
            pm = f"SM{row.id:030d}"
            await mark_sent(db, row.id, now=sent_at, provider="twilio", provider_message_id=pm)
            if rng.random() < 0.95 or row.to_e164 == STAR:
                report = DeliveryReport("twilio", pm, DeliveryState.DELIVERED)
                await apply_report(db, report, now=sent_at + timedelta(seconds=3))
            number = row.to_e164
            if number == STAR or k % 4 == 1:
                body = REPLIES[0] if number == STAR else REPLIES[k % len(REPLIES)]
                at = sent_at + timedelta(minutes=rng.uniform(1, 30))
                await _inbound(db, k, number, body, at, InboundKind.REPLY)
                if number == STAR or k % 8 == 1:
                    value = rng.choice([18500, 24000, 32500, 41000])
                    await mark_booked(db, calls[number], value_minor=value, currency="USD", now=at)
            elif k % 13 == 5:
                at = sent_at + timedelta(minutes=2)
                await _inbound(db, k, number, "STOP", at, InboundKind.STOP)
        await db.commit()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: What the staff member types into the reply box before the conversation is photographed.
STAFF_REPLY = "Hi! Tomorrow 9-11 AM works. Mike will text when he is on the way. - Acme Plumbing"


async def deliver(factory: async_sessionmaker[AsyncSession]) -> None:
    """Play the dispatcher and the provider for the staff reply: sent, then delivered."""
    now = datetime.now(UTC)
    claimed = await claim_due(factory, "screenshots", now, 10)
    async with unit_of_work(factory) as db:
        for row in claimed:
            pm = f"SMstaff{row.id:026d}"
            await mark_sent(db, row.id, now=now, provider="twilio", provider_message_id=pm)
            report = DeliveryReport("twilio", pm, DeliveryState.DELIVERED)
            await apply_report(db, report, now=now + timedelta(seconds=2))


async def shoot(base: str, out: Path, delivered: Callable[[], Awaitable[None]]) -> list[Path]:
    """Log in, answer the caller from the reply box, save the Overview and the conversation."""
    chromium_path = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium_path is None:
        raise SystemExit("chromium is not installed: apt-get install -y chromium")
    saved = []
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=chromium_path)
        try:
            for width in (1400, 390):
                context = await chromium.new_context(
                    viewport={"width": width, "height": 900}, device_scale_factor=1
                )
                page = await context.new_page()
                await page.goto(f"{base}/login")
                await page.get_by_label("Username").fill("admin")
                await page.get_by_label("Password").fill(PASSWORD)
                await page.get_by_role("button", name="Log in").click()
                await page.wait_for_url(f"{base}/")
                for name, path in (
                    ("overview", "/?period=30d"),
                    ("conversation", f"/conversations/{quote(STAR)}"),
                ):
                    await page.goto(base + path)
                    if name == "conversation" and width == 1400:
                        # A staff reply, typed and sent through the real reply box.
                        await page.get_by_label(f"Text to {STAR}").fill(STAFF_REPLY)
                        await page.get_by_role("button", name="Send").click()
                        await page.wait_for_selector(".msg.staff")
                        await delivered()
                        await page.goto(base + path)
                    target = out / f"{name}-{width}.png"
                    await page.screenshot(path=target, full_page=True)
                    saved.append(target)
                await context.close()
        finally:
            await chromium.close()
    return saved


async def main() -> None:
    """Seed, serve, photograph, stop."""
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'screens.db'}"
        await upgrade(url)
        engine = create_engine(url)
        factory = create_session_factory(engine)
        await seed(factory, now)
        deps = DashboardDeps(
            settings=DashboardSettings(
                password_hash=hash_password(PASSWORD, n=2**10), cookie_secure=False
            ),
            sessions=factory,
            kpi=KpiSettings(average_order_value=275.0),
            zone=ZONE,
        )
        runner = web.AppRunner(dashboard_app(deps))
        await runner.setup()
        port = _free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            shots = await shoot(f"http://127.0.0.1:{port}", ROOT / "docs", lambda: deliver(factory))
            for path in shots:
                print(f"saved {path.relative_to(ROOT)}")
        finally:
            await runner.cleanup()
            await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
