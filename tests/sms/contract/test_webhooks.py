"""The webhook contract: genuinely signed callbacks parse; forged or tampered ones are refused."""

from __future__ import annotations

from dataclasses import replace

import aiohttp
import pytest

from asterisk_textback.config import settings_from_mapping
from asterisk_textback.errors import WebhookAuthError
from asterisk_textback.sms.base import DeliveryReport, DeliveryState, InboundSms, WebhookRequest
from asterisk_textback.sms.registry import Resources, build_webhooks
from tests.sms.contract.kits import Kit, Stamp, all_kits
from tests.sms.contract.vendors import WebhookDriver

KITS = all_kits()
NOW = 1_700_000_000
URL = "https://sms.example.com/textback/webhooks/{name}/inbound"
CALLER, DID = "+12125550147", "+15550100001"


def _url(kit: Kit) -> str:
    return URL.format(name=kit.name)


def _inbound(kit: Kit) -> WebhookRequest:
    body = kit.inbound("in-0001", CALLER, DID, "Yes please call me back 👍")
    return kit.request(_url(kit), body, Stamp(NOW))


def _refused(kit: Kit, request: WebhookRequest) -> None:
    with pytest.raises(WebhookAuthError):
        kit.adapter.parse(request, float(NOW))


@pytest.fixture(params=KITS, ids=[k.name for k in KITS])
def kit(request: pytest.FixtureRequest) -> Kit:
    """Each vendor's webhook kit in turn."""
    result: Kit = request.param
    return result


def test_signed_inbound_text_parses(kit: Kit) -> None:
    (event,) = kit.adapter.parse(_inbound(kit), float(NOW))
    assert isinstance(event, InboundSms)
    assert (event.provider, event.provider_message_id) == (kit.name, "in-0001")
    assert (event.from_number, event.to_number) == (CALLER, DID)
    assert event.body == "Yes please call me back 👍"


def test_signed_delivery_report_parses(kit: Kit) -> None:
    request = kit.request(_url(kit), kit.delivered("out-0001"), Stamp(NOW))
    (event,) = kit.adapter.parse(request, float(NOW))
    assert isinstance(event, DeliveryReport)
    assert (event.provider, event.provider_message_id) == (kit.name, "out-0001")
    assert event.state is DeliveryState.DELIVERED
    assert event.failure is None


def test_tampered_body_is_refused(kit: Kit) -> None:
    genuine = _inbound(kit)
    if not kit.covers_body:
        pytest.xfail(f"{kit.name}: {kit.body_reason}")
    _refused(kit, replace(genuine, body=genuine.body.replace(b"please", b"PLEASE")))


def test_resigned_with_another_key_is_refused(kit: Kit) -> None:
    body = kit.inbound("in-0001", CALLER, DID, "STOP")
    _refused(kit, kit.request(_url(kit), body, Stamp(NOW), wrong=True))


def test_missing_credentials_are_refused(kit: Kit) -> None:
    genuine = _inbound(kit)
    headers = {k: v for k, v in genuine.headers.items() if k not in kit.credential_headers}
    _refused(kit, replace(genuine, headers=headers))


def test_truncated_signature_is_refused(kit: Kit) -> None:
    genuine = _inbound(kit)
    name = kit.credential_headers[0]
    headers = dict(genuine.headers) | {name: genuine.headers[name][:-6]}
    _refused(kit, replace(genuine, headers=headers))


@pytest.mark.parametrize("kit", [k for k in KITS if k.covers_url], ids=lambda k: k.name)
def test_signature_for_another_url_is_refused(kit: Kit) -> None:
    genuine = _inbound(kit)
    _refused(kit, replace(genuine, url=genuine.url.replace("/inbound", "/status")))


@pytest.mark.parametrize("kit", [k for k in KITS if k.tolerance], ids=lambda k: k.name)
@pytest.mark.parametrize("age", [-3600, 3600], ids=["stale", "future"])
def test_stale_or_future_signature_is_refused(kit: Kit, age: int) -> None:
    body = kit.inbound("in-0001", CALLER, DID, "hello")
    _refused(kit, kit.request(_url(kit), body, Stamp(NOW - age)))


async def test_generic_webhook_has_no_callbacks_to_verify() -> None:
    driver = WebhookDriver()
    assert driver.kit is None
    assert driver.no_kit_reason
    settings = settings_from_mapping(
        {"provider": {"name": "webhook", "webhook": {"url": "https://gw.example/send"}}}
    )
    async with aiohttp.ClientSession() as http:
        assert build_webhooks(settings.provider, Resources(http, {})) == {}
