"""The send contract: every HTTP adapter maps the same situations onto the same outcomes."""

from __future__ import annotations

import aiohttp
import pytest

from asterisk_textback.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNumberError,
    ProviderOptedOutError,
    ProviderOutcomeUnknownError,
    ProviderTransientError,
)
from asterisk_textback.sms.base import DeliveryReport, FailureKind
from tests.sms.contract.driver import SMS, Answer, Driver, Gap, Scenario, Sent
from tests.sms.contract.kits import Stamp

NOW = 1_700_000_000
#: Where the vendor has no synchronous answer, the failed-delivery callback must say this.
CALLBACK_FAILURE = {
    Scenario.LANDLINE: FailureKind.NUMBER,
    Scenario.OPTED_OUT: FailureKind.OPTED_OUT,
}


def _callback_equivalent(driver: Driver, scenario: Scenario, gap: Gap) -> None:
    """Check the documented equivalent of a missing answer: the failed-delivery callback."""
    if gap.callback_code is None or driver.kit is None:
        pytest.xfail(f"{driver.id}: {gap.reason}")
    kit = driver.kit
    url = f"https://sms.example.com/webhooks/{kit.name}"
    body = kit.failed("gap-0001", gap.callback_code)
    (event,) = kit.adapter.parse(kit.request(url, body, Stamp(NOW)), float(NOW))
    assert isinstance(event, DeliveryReport), gap.reason
    assert event.provider_message_id == "gap-0001"
    assert event.failure is CALLBACK_FAILURE[scenario], gap.reason


async def _refused(
    driver: Driver, http: aiohttp.ClientSession, scenario: Scenario, error: type[ProviderError]
) -> ProviderError | None:
    """Script the vendor's answer to ``scenario``; the send must raise exactly ``error``."""
    answer = driver.answer(scenario)
    if isinstance(answer, Gap):
        _callback_equivalent(driver, scenario, answer)
        return None
    assert isinstance(answer, Answer), f"{driver.id} must state its answer to {scenario}"
    async with driver.serve() as fake:
        driver.script(fake, answer)
        provider = driver.build(http, driver.base_url(fake))
        with pytest.raises(error) as info:
            await provider.send(SMS)
        # Mapped once at the boundary, and never retried inside the adapter.
        assert len(driver.sent(fake)) == 1
    assert type(info.value) is error
    assert str(info.value)
    return info.value


async def test_success_returns_the_vendor_id(driver: Driver, http: aiohttp.ClientSession) -> None:
    async with driver.serve() as fake:
        driver.script(fake, driver.accepted("vendor-msg-0001"))
        result = await driver.build(http, driver.base_url(fake)).send(SMS)
        assert driver.sent(fake) == [Sent(SMS.to, SMS.sender, SMS.body)]
    assert result.provider == driver.provider
    assert result.provider_message_id == "vendor-msg-0001"


async def test_invalid_number(driver: Driver, http: aiohttp.ClientSession) -> None:
    await _refused(driver, http, Scenario.INVALID_NUMBER, ProviderNumberError)


async def test_landline_or_not_sms_capable(driver: Driver, http: aiohttp.ClientSession) -> None:
    await _refused(driver, http, Scenario.LANDLINE, ProviderNumberError)


async def test_opted_out(driver: Driver, http: aiohttp.ClientSession) -> None:
    await _refused(driver, http, Scenario.OPTED_OUT, ProviderOptedOutError)


async def test_rate_limited_honours_retry_after(
    driver: Driver, http: aiohttp.ClientSession
) -> None:
    error = await _refused(driver, http, Scenario.RATE_LIMITED, ProviderTransientError)
    answer = driver.answer(Scenario.RATE_LIMITED)
    assert isinstance(error, ProviderTransientError)
    assert isinstance(answer, Answer)
    assert error.retry_after == float(answer.headers["Retry-After"])


async def test_server_error_is_transient(driver: Driver, http: aiohttp.ClientSession) -> None:
    await _refused(driver, http, Scenario.SERVER_ERROR, ProviderTransientError)


async def test_timeout_is_outcome_unknown(driver: Driver, http: aiohttp.ClientSession) -> None:
    await _refused(driver, http, Scenario.TIMEOUT, ProviderOutcomeUnknownError)


async def test_connection_refused_is_transient(
    driver: Driver, http: aiohttp.ClientSession, closed_url: str
) -> None:
    with pytest.raises(ProviderTransientError):
        await driver.build(http, closed_url).send(SMS)


async def test_malformed_2xx_is_never_a_crash_nor_a_resend(
    driver: Driver, http: aiohttp.ClientSession
) -> None:
    if not driver.id_optional:
        await _refused(driver, http, Scenario.MALFORMED_2XX, ProviderOutcomeUnknownError)
        return
    # A 2xx is the acceptance itself and the id optional: the outbox key stands in for it.
    answer = driver.answer(Scenario.MALFORMED_2XX)
    assert isinstance(answer, Answer)
    async with driver.serve() as fake:
        driver.script(fake, answer)
        result = await driver.build(http, driver.base_url(fake)).send(SMS)
        assert len(driver.sent(fake)) == 1
    assert result.provider_message_id == SMS.idempotency_key


async def test_auth_failure(driver: Driver, http: aiohttp.ClientSession) -> None:
    answer = driver.answer(Scenario.AUTH_FAILURE)
    if answer is not None:
        await _refused(driver, http, Scenario.AUTH_FAILURE, ProviderAuthError)
        return
    # The vendor's own check refuses credentials it did not issue.
    async with driver.serve() as fake:
        provider = driver.build(http, driver.base_url(fake), good_credentials=False)
        with pytest.raises(ProviderAuthError):
            await provider.send(SMS)
        assert driver.sent(fake) == []
