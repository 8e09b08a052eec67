"""``verify()``: a harmless authenticated read that proves the credentials (``check``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from asterisk_textback.errors import ProviderAuthError, ProviderTransientError
from asterisk_textback.sms.base import Provider
from tests.sms.contract.driver import LATE, Answer, Driver
from tests.sms.contract.vendors import TelnyxDriver, TwilioDriver

Verify = Callable[[], Awaitable[str]]


def _verify(driver: Driver, provider: Provider) -> Verify:
    """The adapter's ``verify``; for a driver without one, check it is absent and stop."""
    method: Verify | None = getattr(provider, "verify", None)
    if driver.verify_says is None:
        # The generic webhook has nothing to read: ``check`` reports "nothing to verify".
        assert method is None
        pytest.xfail(f"{driver.id}: no read endpoint to verify against")
    assert method is not None, f"{driver.id} must offer verify()"
    return method


def _networked(driver: Driver) -> None:
    if driver.verify_gap:
        pytest.xfail(f"{driver.id}: {driver.verify_gap}")


async def test_verify_describes_a_working_account(
    driver: Driver, http: aiohttp.ClientSession
) -> None:
    async with driver.serve() as fake:
        verify = _verify(driver, driver.build(http, driver.base_url(fake)))
        said = await verify()
        assert driver.sent(fake) == []  # a read: nothing was texted
    assert driver.verify_says is not None
    assert driver.verify_says in said


async def test_verify_refuses_wrong_credentials_with_the_fix(
    driver: Driver, http: aiohttp.ClientSession
) -> None:
    async with driver.serve() as fake:
        provider = driver.build(http, driver.base_url(fake), good_credentials=False)
        verify = _verify(driver, provider)
        _networked(driver)
        with pytest.raises(ProviderAuthError, match="fix: check"):
            await verify()


async def test_verify_network_trouble_is_transient(
    driver: Driver, http: aiohttp.ClientSession, closed_url: str
) -> None:
    verify = _verify(driver, driver.build(http, closed_url))
    _networked(driver)
    with pytest.raises(ProviderTransientError):
        await verify()


@pytest.mark.parametrize(
    "answer", [Answer(503, raw="busy"), Answer(200, raw="{}", delay=LATE)], ids=["5xx", "timeout"]
)
async def test_verify_server_trouble_is_transient(
    driver: Driver, http: aiohttp.ClientSession, answer: Answer
) -> None:
    async with driver.serve() as fake:
        verify = _verify(driver, driver.build(http, driver.base_url(fake)))
        _networked(driver)
        driver.script(fake, answer)
        with pytest.raises(ProviderTransientError):
            await verify()


async def test_twilio_suspended_account_pauses_sending(http: aiohttp.ClientSession) -> None:
    driver = TwilioDriver()
    async with driver.serve() as fake:
        fake.account_status = "suspended"
        verify = _verify(driver, driver.build(http, driver.base_url(fake)))
        with pytest.raises(ProviderAuthError, match="'Acme Plumbing' is suspended"):
            await verify()


async def test_telnyx_disabled_messaging_profile_pauses_sending(
    http: aiohttp.ClientSession,
) -> None:
    driver = TelnyxDriver(profile=True)
    async with driver.serve() as fake:
        fake.profiles[driver.profile_id]["enabled"] = False
        verify = _verify(driver, driver.build(http, driver.base_url(fake)))
        with pytest.raises(ProviderAuthError, match="disabled"):
            await verify()
