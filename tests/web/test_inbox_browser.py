"""The reply box in real headless Chromium, at desktop (1400 px) and phone (390 px) widths.

Typing updates the encoding and SMS-part counter (the page's JavaScript counts exactly as
``templates/segments.py``: a table of bodies is counted by both and compared); Send queues
the reply, the dispatcher sends it to the fake Twilio API from the number the caller texted,
and the thread shows it with its author and delivery status. ``TEXTBACK_SHOTS_DIR`` keeps
the screenshots (README's are made that way).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import ConsoleMessage, Error, Page, async_playwright, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.sms.base import DeliveryReport, DeliveryState
from asterisk_textback.store.delivery import apply_report
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.templates.segments import count_segments
from asterisk_textback.web.dashboard.settings import DashboardSettings
from tests.web.conftest import PASSWORD
from tests.web.inbox_live import Live, live_dashboard
from tests.web.seed import OUR_NUMBER, Seeded

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.fail("Debian's chromium is not installed (apt-get install -y chromium)", pytrace=False)

ALICE = "+12125550101"
#: Bodies where GSM-7 and UCS-2 counting differ: extension characters, emoji (surrogate
#: pairs), the euro sign, line ends, and the part boundaries.
BODIES = [
    "",
    "Hello",
    "a" * 160,
    "a" * 161,
    "a" * 306,
    "a" * 307,
    "€" * 80,
    "€" * 81,
    "^{}[]~\\|" * 20,
    "a" * 152 + "€" + "a" * 10,
    "line one\nline two\n\nthree",
    "Café 🙂 see you",
    "🙂" * 35,
    "🙂" * 36,
    "x" * 66 + "🙂" + "y" * 10,
    "Ж" * 70,
    "Ж" * 71,
    "Zoë’s “quote” — ok",
    "tab\there and ¥£$@ and ÅåÆæ",
]


@pytest.fixture
async def live(
    seeded: tuple[async_sessionmaker[AsyncSession], Seeded], dash_settings: DashboardSettings
) -> AsyncIterator[Live]:
    """The seeded dashboard with a dispatcher and a fake Twilio behind it."""
    async with live_dashboard(seeded[0], dash_settings) as running:
        yield running


async def _overflow(page: Page) -> int:
    """How far the page's own content (``main``) is wider than the window.

    The header's navigation belongs to the shared layout and is checked by the page tests.
    """
    width: int = await page.evaluate(
        "document.querySelector('main').scrollWidth - document.documentElement.clientWidth"
    )
    return width


@pytest.mark.parametrize("width", [1400, 390])
async def test_type_count_send_and_see_the_reply(live: Live, width: int, tmp_path: Path) -> None:
    base = str(live.client.make_url("/")).rstrip("/")
    errors: list[str] = []
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            context = await chromium.new_context(viewport={"width": width, "height": 900})
            page = await context.new_page()
            page.set_default_timeout(15_000)

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    errors.append(f"console: {message.text}")

            def on_error(error: Error) -> None:
                errors.append(f"page error: {error.message}")

            page.on("console", on_console)
            page.on("pageerror", on_error)
            await page.goto(f"{base}/login")
            await page.get_by_label("Username").fill("admin")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Log in").click()
            await expect(page).to_have_url(f"{base}/")

            await page.goto(f"{base}/conversations")
            first = page.locator("table.conversations tbody tr").first
            await expect(first).to_contain_text(ALICE)
            await expect(first.locator(".badge.unread")).to_be_visible()
            await expect(first.locator(".badge.open")).to_have_text("needs an answer")
            assert await _overflow(page) <= 0

            await first.get_by_role("link", name=ALICE).click()
            await expect(page).to_have_url(re.compile(r"/conversations/(\+|%2B)12125550101$"))
            counter = page.locator("#reply-counter")
            await expect(counter).to_have_text("GSM-7 · 0 characters · 0 SMS parts")
            box = page.get_by_label(f"Text to {ALICE}")
            await box.fill("On our way")
            await expect(counter).to_have_text("GSM-7 · 10 characters · 1 SMS part")
            await box.press_sequentially(" 🙂")
            await expect(counter).to_have_text("Unicode (UCS-2) · 12 characters · 1 SMS part")
            await box.fill("x" * 161)
            await expect(counter).to_have_text("GSM-7 · 161 characters · 2 SMS parts")
            await box.fill("{" * 800)
            await expect(counter).to_contain_text("11 SMS parts · too long")

            counted = await page.evaluate(
                "bodies => bodies.map(b => window.textbackCountSegments(b))", BODIES
            )
            for body, js in zip(BODIES, counted, strict=True):
                py = count_segments(body)
                assert (js["encoding"], js["segments"], js["units"], js["length"]) == (
                    py.encoding,
                    py.segments,
                    py.units,
                    py.length,
                ), body

            text = "Hi Alice, we can come at 3pm\ntoday. €40 call-out"
            await box.fill(text)
            await expect(counter).to_have_text(f"GSM-7 · {len(text)} characters · 1 SMS part")
            await page.get_by_role("button", name="Send").click()
            await expect(page).to_have_url(re.compile(rf"/conversations/\{ALICE}\?sent=\d+#reply$"))
            await expect(page.get_by_role("status").first).to_contain_text("Queued")
            staff = page.locator("li.msg.staff")
            await expect(staff).to_have_count(1)
            await expect(staff.locator(".body")).to_have_text(text)
            await expect(staff.locator(".author")).to_have_text("admin")

            (sent,) = await live.sent_to_provider(1)
            assert (sent["To"], sent["From"], sent["Body"]) == (ALICE, OUR_NUMBER, text)
            (row,) = await live.recorded_sent()
            await page.reload()
            status = page.locator("li.msg.staff .delivery")
            await expect(status).to_have_text("sent")
            if width == 1400:
                # The delivery report arrives while the page is open: its refresh (every
                # 10 s) shows it without a reload.
                assert row.provider_message_id is not None
                report = DeliveryReport("twilio", row.provider_message_id, DeliveryState.DELIVERED)
                async with unit_of_work(live.sessions) as db:
                    await apply_report(db, report, now=datetime.now(UTC))
                await expect(status).to_have_text("delivered", timeout=15_000)
            assert await _overflow(page) <= 0
            # Answering handled the thread: no "needs an answer", no Mark handled button.
            await expect(page.locator(".badge.done")).to_have_text("handled")
            await expect(page.get_by_role("button", name="Mark handled")).to_have_count(0)

            shots = Path(os.environ.get("TEXTBACK_SHOTS_DIR") or tmp_path)
            await page.goto(f"{base}/conversations/{ALICE}#reply")
            await page.screenshot(path=shots / f"conversation-{width}.png", full_page=True)
            await context.close()
        finally:
            await chromium.close()
    assert errors == []
