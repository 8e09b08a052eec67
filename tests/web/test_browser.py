"""Real headless Chromium (Debian ``chromium``) against the dashboard on a loopback port."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.cdp import CHROMIUM, browser
from tests.web.conftest import PASSWORD, Client
from tests.web.seed import XSS_NAME, Seeded

# Never skipped: the dashboard must be proven in a real browser (.ci/run installs chromium).
if CHROMIUM is None:
    pytest.fail(
        "Debian's chromium is not installed (apt-get install -y chromium); .ci/run installs it",
        pytrace=False,
    )


async def test_login_overview_calculator_and_screenshot(
    client: Client, seeded: tuple[object, Seeded], tmp_path: Path
) -> None:
    """Log in through the form, see KPI cards and SVG charts, run the calculator live."""
    base = str(client.make_url("/")).rstrip("/")
    async with browser(tmp_path / "profile") as page:
        await page.goto(base + "/")
        assert await page.eval("location.pathname") == "/login"
        await page.submit(
            "document.querySelector('input[name=username]').value = 'admin';"
            f"document.querySelector('input[name=password]').value = {PASSWORD!r};"
            "document.querySelector('form[action=\"/login\"]').submit();"
        )
        assert await page.eval("location.pathname") == "/"
        cards = await page.eval("document.querySelectorAll('.card.kpi').length")
        assert cards >= 18
        title = await page.eval("document.getElementById('kpi-missed_call_rate').title")
        assert title.startswith("missed / inbound calls")
        assert (
            await page.eval(
                "document.querySelectorAll('svg.chart polyline, svg.chart circle').length"
            )
            > 0
        )
        assert await page.eval("document.querySelectorAll('main svg').length") == 5
        shot = await page.screenshot(tmp_path / "overview.png")
        assert shot.stat().st_size > 10_000

        await page.goto(base + "/calculator?period=30d")
        before = await page.eval("document.getElementById('revenue').textContent")
        await page.eval(
            "var r = document.getElementById('close_rate'); r.value = '50';"
            "r.dispatchEvent(new Event('input', {bubbles: true}));"
        )
        after = await page.eval("document.getElementById('revenue').textContent")
        missed = int(await page.eval("document.getElementById('missed').value"))
        aov = float(await page.eval("document.getElementById('aov').value"))
        assert before != after
        assert after == f"{missed * 0.5 * aov:,.2f} USD"
        await page.screenshot(tmp_path / "calculator.png")


async def test_hostile_caller_name_is_text(
    client: Client, seeded: tuple[object, Seeded], tmp_path: Path
) -> None:
    """A caller named ``<img src=x onerror=alert(1)>`` shows as text and runs nothing."""
    base = str(client.make_url("/")).rstrip("/")
    xss_call = seeded[1].xss_call
    async with browser(tmp_path / "profile") as page:
        await page.goto(base + "/login")
        await page.submit(
            "document.querySelector('input[name=username]').value = 'admin';"
            f"document.querySelector('input[name=password]').value = {PASSWORD!r};"
            "document.querySelector('form[action=\"/login\"]').submit();"
        )
        for path in ("/calls", f"/calls/{xss_call}"):
            await page.goto(base + path)
            assert await page.eval("document.querySelectorAll('img').length") == 0
            names = await page.eval(
                "Array.from(document.querySelectorAll('.name')).map(e => e.textContent)"
            )
            assert XSS_NAME in names
        # Opening a call from the list works too.
        await page.goto(base + "/calls")
        await page.submit(f"document.querySelector('a[href=\"/calls/{xss_call}\"]').click();")
        assert await page.eval("location.pathname") == f"/calls/{xss_call}"
        assert "opted out" in await page.eval("document.body.textContent")
        assert page.dialogs == []
