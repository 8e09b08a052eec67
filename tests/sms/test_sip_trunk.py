"""Texts over the SIP trunk: AMI MessageSend against the in-repo AMI server over TCP."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest

from asterisk_textback.ami.connection import AmiConnection
from asterisk_textback.ami.settings import PbxSettings
from asterisk_textback.ami.sim.accounts import AmiAccount
from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.errors import ProviderAuthError, ProviderTransientError
from asterisk_textback.sms.base import OutboundSms
from asterisk_textback.sms.settings import SipTrunkSettings
from asterisk_textback.sms.vendors.sip_trunk import SipTrunkProvider

TRUNK = SipTrunkSettings(
    endpoint="trunk", carrier_host="sms.carrier.example", from_host="pbx.example"
)
SMS = OutboundSms(
    message_id=1,
    idempotency_key="default:1.1:textback",
    to="+12125550147",
    sender="+15555550100",
    body="Hi Jürgen, sorry we missed you.\nReply STOP to opt out.",
)


@pytest.fixture
async def server() -> AsyncIterator[AmiServer]:
    """An AMI server whose users differ only in their write classes."""
    accounts = {
        "full": AmiAccount("pw"),
        "readonly": AmiAccount("pw", write=frozenset({"reporting"})),
    }
    async with AmiServer(accounts) as srv:
        srv.message_endpoints = frozenset({"trunk"})
        yield srv


async def _connected(server: AmiServer, user: str) -> AmiConnection:
    conn = AmiConnection(PbxSettings(port=server.port, username=user, secret="pw"), environ={})
    await conn.start()
    await conn.wait_ready()
    return conn


async def test_message_send_goes_out_on_the_trunk(server: AmiServer) -> None:
    conn = await _connected(server, "full")
    try:
        result = await SipTrunkProvider(TRUNK, conn).send(SMS)
    finally:
        await conn.close()
    (sent,) = server.messages
    assert sent["To"] == "pjsip:trunk/sip:+12125550147@sms.carrier.example"
    assert sent["From"] == "sip:+15555550100@pbx.example"
    # Newlines and UTF-8 survive because the body travels as Base64Body.
    assert base64.b64decode(sent["Base64Body"]).decode() == SMS.body
    assert result.provider == "sip_trunk"
    assert result.provider_message_id == sent["ActionID"]


async def test_numbers_without_plus_when_the_carrier_wants_them(server: AmiServer) -> None:
    conn = await _connected(server, "full")
    try:
        trunk = TRUNK.model_copy(update={"plus_prefix": False})
        await SipTrunkProvider(trunk, conn).send(SMS)
    finally:
        await conn.close()
    assert server.messages[0]["To"] == "pjsip:trunk/sip:12125550147@sms.carrier.example"


async def test_missing_write_class_pauses_with_the_fix(server: AmiServer) -> None:
    conn = await _connected(server, "readonly")
    try:
        with pytest.raises(ProviderAuthError, match="'message'"):
            await SipTrunkProvider(TRUNK, conn).send(SMS)
    finally:
        await conn.close()
    assert server.messages == []


async def test_wrong_endpoint_is_a_configuration_error(server: AmiServer) -> None:
    conn = await _connected(server, "full")
    try:
        wrong = TRUNK.model_copy(update={"endpoint": "nope"})
        with pytest.raises(ProviderAuthError, match=r"provider\.sip_trunk"):
            await SipTrunkProvider(wrong, conn).send(SMS)
    finally:
        await conn.close()


async def test_connection_down_is_transient(server: AmiServer) -> None:
    conn = AmiConnection(PbxSettings(port=server.port, username="full", secret="pw"), environ={})
    with pytest.raises(ProviderTransientError):
        await SipTrunkProvider(TRUNK, conn).send(SMS)
    await conn.close()
