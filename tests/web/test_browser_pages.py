"""Every page in real headless Chromium at a desktop's and a phone's width.

For each page (login, Overview, Calls, a Call, Conversations, a Conversation, Experiments,
Calculator, Health) at 1400 and 390 px: no console or script errors, nothing wider than the
window (``scrollWidth <= innerWidth``), no serious or critical axe-core accessibility
violation, and call times shown in the business's zone (New York here).

axe-core comes from the npm registry (``.ci/run`` installs it under ``.ci/node``, ignored by
git); Playwright injects it into each page (``add_script_tag``, served from the page's own
origin so the Content-Security-Policy stays on) after the page's own checks have run.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.async_api import ConsoleMessage, Error, Page, async_playwright, expect

from asterisk_textback.web.dashboard.settings import DashboardSettings
from asterisk_textback.wording.times import people_time, short_time
from tests.web.conftest import NY, PASSWORD, Client, business_client
from tests.web.seed import T0, Seeded

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"
INSTALL_AXE = "npm install --prefix .ci/node --no-save --no-audit --no-fund axe-core@4"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTHS = (1400, 390)
#: axe impacts that fail the sweep (minor and moderate ones are reported by axe, not failed).
BLOCKING = {"serious", "critical"}
#: Where the page loads axe from: the dashboard's own origin, so its Content-Security-Policy
#: (``script-src 'self'``) stays on; Playwright answers it from AXE, the server never sees it.
AXE_URL = "/__axe-core__.js"

# Never skipped: a missing tool fails with the command that installs it.
if CHROMIUM is None:
    pytest.fail(
        "Debian's chromium is not installed (apt-get install -y chromium); .ci/run installs it",
        pytrace=False,
    )
if not AXE.is_file():
    pytest.fail(f"axe-core is not installed: run `{INSTALL_AXE}` (as .ci/run does)", pytrace=False)


@dataclass
class Sweep:
    """One browser page and the errors it reported."""

    page: Page
    base: str
    width: int
    errors: list[str] = field(default_factory=list)

    async def open(self, path: str) -> None:
        """Load ``path`` (200 expected) and let it settle."""
        response = await self.page.goto(self.base + path)
        assert response is not None
        assert response.status == 200, f"{path}: {response.status}"
        await self.page.wait_for_load_state("load")

    async def check(self, path: str) -> list[str]:
        """Every problem with the page open now, as readable lines (empty: none)."""
        where = f"{path} at {self.width}px"
        problems = [f"{where}: {e}" for e in self.errors]
        self.errors.clear()
        widths = await self.page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        if widths[0] > widths[1]:
            wide = await self.page.evaluate(_WIDEST)
            problems.append(f"{where}: {widths[0]}px wide in a {widths[1]}px window ({wide})")
        await self.page.add_script_tag(url=self.base + AXE_URL)
        result: dict[str, Any] = await self.page.evaluate(
            "async () => await axe.run(document, {resultTypes: ['violations']})"
        )
        for violation in result["violations"]:
            if violation["impact"] in BLOCKING:
                nodes = "; ".join(" ".join(n["target"]) for n in violation["nodes"][:3])
                problems.append(
                    f"{where}: axe {violation['impact']} {violation['id']}: "
                    f"{violation['help']} ({nodes})"
                )
        return problems


#: The elements sticking out of the window, to name in a failure.
_WIDEST = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
  .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''))
  .join(', ')"""


@pytest.fixture
async def business(
    tmp_path: Path, sqlite_migrated: Path, dash_settings: DashboardSettings
) -> AsyncIterator[tuple[Client, Seeded]]:
    """A seeded New York business's dashboard (the HTTP client is only used for its URL)."""
    async for pair in business_client(tmp_path, sqlite_migrated, dash_settings):
        yield pair


@pytest.fixture(params=WIDTHS, ids=lambda w: f"{w}px")
async def sweep(
    request: pytest.FixtureRequest, business: tuple[Client, Seeded]
) -> AsyncIterator[Sweep]:
    """Headless Chromium at one width, on a fresh profile, watching for errors."""
    width: int = request.param
    base = str(business[0].make_url("/")).rstrip("/")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            context = await chromium.new_context(viewport={"width": width, "height": 900})
            await context.route(
                base + AXE_URL,
                lambda route: route.fulfill(path=AXE, content_type="text/javascript"),
            )
            page = await context.new_page()
            page.set_default_timeout(15_000)
            seen = Sweep(page, base, width)

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    seen.errors.append(f"console: {message.text}")

            def on_error(error: Error) -> None:
                seen.errors.append(f"page error: {error.message}")

            page.on("console", on_console)
            page.on("pageerror", on_error)
            yield seen
            await context.close()
        finally:
            await chromium.close()


async def test_every_page_reads_well_at_this_width(
    sweep: Sweep, business: tuple[Client, Seeded]
) -> None:
    """Login, then each page: no errors, no overflow, no serious axe finding, local times."""
    seeded = business[1]
    page = sweep.page
    problems: list[str] = []
    await sweep.open("/login")
    problems += await sweep.check("/login")
    await page.get_by_label("Username").fill("admin")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(sweep.base + "/")

    local = people_time(T0, NY)  # "Mon, Nov 2, 2026, 10:00 AM EST"
    pages = {
        "/?period=30d": "4 missed calls, 2 texted",
        "/calls": short_time(T0, NY),  # "Nov 2, 10:00 AM" (the page names the zone)
        f"/calls/{seeded.alice_call}": local,
        "/conversations": "+12125550101",
        f"/conversations/{quote('+12125550101')}": local,
        "/experiments?period=30d": "Replies",
        "/calculator?period=30d": "Revenue left on the table",
        "/health": "Not healthy",
    }
    for path, expected in pages.items():
        await sweep.open(path)
        await expect(page.locator("main")).to_contain_text(expected)
        problems += await sweep.check(path)
    assert problems == []


async def test_the_nav_reaches_every_page_on_a_phone(
    tmp_path: Path, sqlite_migrated: Path, dash_settings: DashboardSettings
) -> None:
    """At 390 px every nav link is on screen (wrapped, not cut off) and can be tapped."""
    async for client, _ in business_client(tmp_path, sqlite_migrated, dash_settings):
        base = str(client.make_url("/")).rstrip("/")
        async with async_playwright() as playwright:
            chromium = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                context = await chromium.new_context(viewport={"width": 390, "height": 844})
                page = await context.new_page()
                await page.goto(base + "/login")
                await page.get_by_label("Username").fill("admin")
                await page.get_by_label("Password").fill(PASSWORD)
                await page.get_by_role("button", name="Log in").click()
                await expect(page).to_have_url(base + "/")
                links = page.locator("header.top nav a")
                assert await links.count() == 6
                for n in range(6):
                    box = await links.nth(n).bounding_box()
                    assert box is not None
                    assert box["x"] >= 0, box
                    assert box["x"] + box["width"] <= 390, box
                await page.get_by_role("link", name="Health").click()
                await expect(page).to_have_url(base + "/health")
            finally:
                await chromium.close()
