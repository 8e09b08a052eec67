"""Real headless Chromium (Debian's ``chromium``, driven by Playwright) against the dashboard.

Playwright drives the system browser (``executable_path``): no ``playwright install``, no
downloaded browser. Every page is watched for JavaScript dialogs, uncaught errors and console
errors (a Content-Security-Policy violation is one); a test fails on any of them.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import ConsoleMessage, Dialog, Error, Page, async_playwright, expect

from tests.web.conftest import PASSWORD, Client
from tests.web.seed import XSS_NAME, Seeded

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PNG = b"\x89PNG\r\n\x1a\n"

# Never skipped: the dashboard must be proven in a real browser (.ci/run installs chromium).
if CHROMIUM is None:
    pytest.fail(
        "Debian's chromium is not installed (apt-get install -y chromium); .ci/run installs it",
        pytrace=False,
    )


@dataclass
class Browser:
    """A page on the dashboard and what it raised: dialogs, script errors, console errors."""

    page: Page
    base: str
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: HTTP statuses a test provokes on purpose (the console reports each as an error).
    refusals: set[int] = field(default_factory=set)

    def unexpected_errors(self) -> list[str]:
        """Console and script errors, less the refusals the test asked for."""
        expected = [f"status of {status} " for status in self.refusals]
        return [e for e in self.errors if not any(text in e for text in expected)]

    def url(self, path: str) -> str:
        """The dashboard's absolute URL of ``path``."""
        return self.base + path

    async def goto(self, path: str) -> None:
        """Open ``path`` and wait for it to load."""
        response = await self.page.goto(self.url(path))
        assert response is not None
        assert response.ok, f"{path}: {response.status}"

    async def login(self) -> None:
        """Log in through the form."""
        await self.page.goto(self.url("/login"))
        await self.page.get_by_label("Username").fill("admin")
        await self.page.get_by_label("Password").fill(PASSWORD)
        await self.page.get_by_role("button", name="Log in").click()
        await expect(self.page).to_have_url(self.url("/"))


@pytest.fixture
async def browser(client: Client) -> AsyncIterator[Browser]:
    """Headless Chromium on a fresh profile, pointed at the seeded dashboard."""
    base = str(client.make_url("/")).rstrip("/")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            context = await chromium.new_context(viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            page.set_default_timeout(15_000)
            seen = Browser(page, base)
            dismissing: set[asyncio.Task[None]] = set()

            def on_dialog(dialog: Dialog) -> None:
                seen.dialogs.append(f"{dialog.type}: {dialog.message}")
                task = asyncio.ensure_future(dialog.dismiss())
                dismissing.add(task)
                task.add_done_callback(dismissing.discard)

            def on_console(message: ConsoleMessage) -> None:
                # Only the plain-text error pages lack the <link rel=icon> that stops this.
                favicon = message.location.get("url", "").endswith("/favicon.ico")
                if message.type == "error" and not favicon:
                    seen.errors.append(f"console: {message.text}")

            def on_error(error: Error) -> None:
                seen.errors.append(f"page error: {error.message}")

            page.on("dialog", on_dialog)
            page.on("console", on_console)
            page.on("pageerror", on_error)
            yield seen
            await asyncio.gather(*dismissing)
            await context.close()
        finally:
            await chromium.close()
    assert seen.dialogs == [], "a page opened a dialog: script ran"
    assert seen.unexpected_errors() == []


async def test_login_overview_charts_and_screenshot(browser: Browser, tmp_path: Path) -> None:
    """Log in through the form; KPI cards with definitions, five SVG charts with points."""
    page = browser.page
    await page.goto(browser.url("/"))
    await expect(page).to_have_url(re.compile(r"/login\?next=(%2F|/)$"))
    await browser.login()
    cards = page.locator(".card.kpi")
    assert await cards.count() >= 18
    assert (await page.locator("#kpi-missed_call_rate").get_attribute("title") or "").startswith(
        "missed / inbound calls"
    )
    await expect(page.locator("#kpi-missed_call_rate .value")).to_have_text("33.3%")
    charts = page.locator("main svg.chart")
    await expect(charts).to_have_count(5)
    for n in range(5):
        chart = charts.nth(n)
        points = await chart.locator("circle.dot").count()
        assert points > 0, await chart.get_attribute("aria-label")
        assert await chart.bounding_box() is not None  # laid out, not hidden
    await expect(page.locator("main svg.chart polyline").first).to_be_attached()
    shot = tmp_path / "overview.png"
    await page.screenshot(path=shot, full_page=True)
    data = shot.read_bytes()
    assert data.startswith(PNG)
    assert len(data) > 10_000


async def test_calculator_updates_live(browser: Browser, tmp_path: Path) -> None:
    """Changing an input recomputes the result in the page, without a round trip."""
    await browser.login()
    page = browser.page
    await browser.goto("/calculator?period=30d")
    revenue = page.locator("#revenue")
    await expect(revenue).to_have_text("200.00 USD")  # 4 missed x 25% x 200
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    await page.locator("#close_rate").fill("50")
    missed = int(await page.locator("#missed").input_value())
    aov = float(await page.locator("#aov").input_value())
    await expect(revenue).to_have_text(f"{missed * 0.5 * aov:,.2f} USD")
    await page.locator("#aov").fill("1000")
    await expect(revenue).to_have_text(f"{missed * 0.5 * 1000:,.2f} USD")
    await expect(page.locator("#bookings")).to_have_text("2.0 bookings")
    assert requests == []
    await page.screenshot(path=tmp_path / "calculator.png")
    assert (tmp_path / "calculator.png").read_bytes().startswith(PNG)


async def test_hostile_caller_name_and_mark_booked(
    browser: Browser, seeded: tuple[object, Seeded]
) -> None:
    """Open a call from the list: its ``<img onerror>`` name is text; book it with a value."""
    await browser.login()
    page = browser.page
    xss_call = seeded[1].xss_call
    await page.get_by_role("link", name="Calls", exact=True).click()
    await expect(page).to_have_url(browser.url("/calls"))
    await expect(page.get_by_text(XSS_NAME, exact=True)).to_be_visible()
    await expect(page.locator("img")).to_have_count(0)
    await page.locator(f'a[href="/calls/{xss_call}"]').click()
    await expect(page).to_have_url(browser.url(f"/calls/{xss_call}"))
    await expect(page.locator("h1 .name")).to_have_text(XSS_NAME)
    await expect(page.locator("img")).to_have_count(0)
    await expect(page.get_by_text("opted out", exact=True)).to_be_visible()

    browser.refusals.add(400)  # the bad value's answer
    value = page.get_by_label("Value (USD)")
    mark = page.get_by_role("button", name="Mark booked")
    await value.fill("-5")
    await mark.click()
    await expect(page.get_by_role("alert")).to_have_text("Not saved: value must not be negative.")
    await expect(page.get_by_text("No booking credited to this call.")).to_be_visible()
    await page.get_by_label("Value (USD)").fill("249.50")
    await page.get_by_role("button", name="Mark booked").click()
    await expect(page).to_have_url(browser.url(f"/calls/{xss_call}?booked=1#booking"))
    await expect(page.get_by_role("status")).to_have_text("Booking saved.")
    await expect(page.locator(".bookings .value")).to_have_text("249.50 USD")
    await expect(page.locator(".facts")).to_contain_text("Bookedyes")


async def test_form_post_without_csrf_token_is_refused(
    browser: Browser, seeded: tuple[object, Seeded]
) -> None:
    """A form whose token was removed is answered 403 and stores nothing."""
    await browser.login()
    page = browser.page
    call = seeded[1].failed_call
    await browser.goto(f"/calls/{call}")
    await page.locator("form.mark-booked input[name=csrf]").evaluate("field => field.remove()")
    await page.get_by_label("Value (USD)").fill("10")
    browser.refusals.add(403)
    async with page.expect_navigation() as navigation:
        await page.get_by_role("button", name="Mark booked").click()
    response = await navigation.value
    assert response is not None
    assert response.status == 403
    await expect(page.locator("body")).to_contain_text("CSRF")
    await browser.goto(f"/calls/{call}")
    await expect(page.get_by_text("No booking credited to this call.")).to_be_visible()


async def test_conversation_experiments_and_logout(browser: Browser) -> None:
    """A caller's thread in order, the experiments page, then log out for good."""
    await browser.login()
    page = browser.page
    await page.get_by_role("link", name="Conversations").click()
    await page.get_by_role("link", name="+12125550102").click()
    await expect(page).to_have_url(browser.url("/conversations/%2B12125550102"))
    await expect(page.locator("h1")).to_have_text("Conversation with +12125550102")
    bodies = await page.locator(".thread .body").all_text_contents()
    assert bodies[-1] == "STOP"
    assert "Sorry we missed your call" in bodies[0]
    await expect(page.locator(".thread")).to_be_visible()

    await page.get_by_role("link", name="Experiments").click()
    await expect(page.locator("main")).to_contain_text("opening")
    await expect(page.locator("main")).to_contain_text("Hook × CTA")
    await expect(page.locator("main")).to_contain_text("Not enough data yet")

    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(browser.url("/login"))
    await page.goto(browser.url("/calls"))
    await expect(page).to_have_url(re.compile(r"/login\?next=(%2F|/)calls$"))
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
