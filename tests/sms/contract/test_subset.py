"""The part of the contract that applies to the adapters without an HTTP API.

``sip_trunk`` (AMI ``MessageSend`` over the listener's connection) and ``log`` (records only)
have no vendor answers to map. What applies, and is run here:

============================  ======================================  =======================
scenario                      sip_trunk                               log
============================  ======================================  =======================
success                       the PJSIP MESSAGE carries to/from/body  id ``log-<outbox key>``
connection refused / down     ProviderTransientError (not sent)       n/a: no connection
auth failure                  ProviderAuthError (no ``message`` class) n/a: no credentials
config refused by the PBX     ProviderAuthError (unknown endpoint)    n/a
============================  ======================================  =======================

Not applicable to either: invalid number, landline, opted out, 429, 5xx and malformed JSON
(AMI's ``MessageSend`` answers only Success/Error: Asterisk hands the text to PJSIP and
learns nothing from the carrier), and ``verify`` (the AMI login that ``check`` already
performs is the credential check).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest

from asterisk_textback.ami.connection import AmiConnection
from asterisk_textback.ami.settings import PbxSettings
from asterisk_textback.ami.sim.accounts import AmiAccount
from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.errors import ProviderAuthError, ProviderTransientError
from asterisk_textback.sms.settings import SipTrunkSettings
from asterisk_textback.sms.vendors.log import LogProvider
from asterisk_textback.sms.vendors.sip_trunk import SipTrunkProvider
from tests.sms.contract.driver import SMS

TRUNK = SipTrunkSettings(endpoint="trunk", carrier_host="sms.carrier.example", from_host="pbx")


@pytest.fixture
async def pbx() -> AsyncIterator[AmiServer]:
    """An AMI server with a full user and one without the ``message`` write class."""
    accounts = {"full": AmiAccount("pw"), "ro": AmiAccount("pw", write=frozenset({"reporting"}))}
    async with AmiServer(accounts) as server:
        server.message_endpoints = frozenset({"trunk"})
        yield server


async def _send(server: AmiServer, user: str, trunk: SipTrunkSettings = TRUNK) -> None:
    conn = AmiConnection(PbxSettings(port=server.port, username=user, secret="pw"), environ={})
    try:
        await conn.start()
        await conn.wait_ready()
        result = await SipTrunkProvider(trunk, conn).send(SMS)
        assert result.provider == "sip_trunk"
        assert result.provider_message_id  # the action id: AMI reports no delivery id
    finally:
        await conn.close()


async def test_sip_trunk_success_carries_the_text(pbx: AmiServer) -> None:
    await _send(pbx, "full")
    (sent,) = pbx.messages
    assert sent["To"] == f"pjsip:trunk/sip:{SMS.to}@sms.carrier.example"
    assert sent["From"] == f"sip:{SMS.sender}@pbx"
    assert base64.b64decode(sent["Base64Body"]).decode() == SMS.body


async def test_sip_trunk_connection_down_is_transient(pbx: AmiServer) -> None:
    conn = AmiConnection(PbxSettings(port=pbx.port, username="full", secret="pw"), environ={})
    with pytest.raises(ProviderTransientError):
        await SipTrunkProvider(TRUNK, conn).send(SMS)
    await conn.close()
    assert pbx.messages == []


@pytest.mark.parametrize(
    ("user", "trunk"),
    [("ro", TRUNK), ("full", TRUNK.model_copy(update={"endpoint": "nope"}))],
    ids=["no-message-class", "unknown-endpoint"],
)
async def test_sip_trunk_refusals_pause_sending(
    pbx: AmiServer, user: str, trunk: SipTrunkSettings
) -> None:
    with pytest.raises(ProviderAuthError) as info:
        await _send(pbx, user, trunk)
    assert type(info.value) is ProviderAuthError
    assert pbx.messages == []


async def test_log_success_records_without_sending() -> None:
    provider = LogProvider()
    result = await provider.send(SMS)
    assert (result.provider, result.provider_message_id) == ("log", f"log-{SMS.idempotency_key}")
    assert provider.sent == 1
    assert not hasattr(provider, "verify")
