"""The console in real headless Chromium at 1400 and 390 px, and the way into a tenant.

Log in, read both tenants' figures in the table, follow "Open dashboard" of Beta and land
on Beta's Overview as the integrator; every page without console errors, wider than the
window nowhere, and with no serious or critical axe-core finding (as test_browser_pages).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import ConsoleMessage, Error, Page, async_playwright, expect

from asterisk_textback.web.console.settings import ConsoleSettings
from asterisk_textback.web.dashboard.auth import hash_password
from asterisk_textback.web.dashboard.settings import DashboardSettings
from tests.web.console_tenants import ALPHA, BETA, CONSOLE_PASSWORD, Tenants, two_tenants
from tests.web.test_browser_pages import AXE, AXE_URL, CHROMIUM, WIDTHS, Sweep


@pytest.fixture
async def tenants(
    tmp_path: Path, sqlite_migrated: Path, dash_settings: DashboardSettings
) -> AsyncIterator[Tenants]:
    """Alpha and Beta running behind one host, the console enabled."""
    console = ConsoleSettings(
        enabled=True, password_hash=hash_password(CONSOLE_PASSWORD, n=2**10), cookie_secure=False
    )
    async with two_tenants(tmp_path, sqlite_migrated, dash_settings, console) as found:
        yield found


async def _sweep(page: Page, base: str, width: int) -> Sweep:
    seen = Sweep(page, base, width)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            seen.errors.append(f"console: {message.text}")

    def on_error(error: Error) -> None:
        seen.errors.append(f"page error: {error.message}")

    page.on("console", on_console)
    page.on("pageerror", on_error)
    return seen


@pytest.mark.parametrize("width", WIDTHS, ids=lambda w: f"{w}px")
async def test_the_console_and_the_way_into_a_tenant(tenants: Tenants, width: int) -> None:
    base = str(tenants.client.make_url("/")).rstrip("/")
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
            sweep = await _sweep(page, base, width)
            problems: list[str] = []

            await sweep.open("/console/")  # not signed in: on to the login form
            await expect(page).to_have_url(base + "/console/login")
            problems += await sweep.check("/console/login")
            await page.get_by_label("Username").fill("integrator")
            await page.get_by_label("Password").fill(CONSOLE_PASSWORD)
            await page.get_by_role("button", name="Log in").click()
            await expect(page).to_have_url(base + "/console/")

            table = page.locator("#tenants")
            for tenant, figures in (("alpha", ALPHA), ("beta", BETA)):
                row = table.locator(f'tr[data-tenant="{tenant}"]')
                for key in ("missed", "texted", "replied", "booked"):
                    await expect(row.locator(f"td.{key}")).to_have_text(str(figures[key]))
                await expect(row.locator("td.revenue")).to_have_text(
                    f"{figures['revenue']:,.2f} USD"
                )
            problems += await sweep.check("/console/")

            await (
                table.locator('tr[data-tenant="beta"]')
                .get_by_role("link", name="Open dashboard")
                .click()
            )
            await expect(page).to_have_url(base + "/t/beta/")
            await expect(page.locator("header.top")).to_contain_text(
                "Signed in as integrator integrator"
            )
            await sweep.open("/t/beta/?period=30d")
            await expect(page.locator("main")).to_contain_text("3 missed calls, 3 texted")
            problems += await sweep.check("/t/beta/?period=30d")

            # Log out from the tenant's header: the console session ends everywhere.
            await page.get_by_role("button", name="Log out").click()
            await expect(page).to_have_url(base + "/console/login")
            await page.goto(base + "/t/beta/")
            await expect(page).to_have_url(base + "/t/beta/login?next=/t/beta/")
            assert problems == []
        finally:
            await chromium.close()
