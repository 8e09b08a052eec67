"""AmiServer answers GetConfig of manager.conf like Asterisk 22's action_getconfig."""

from __future__ import annotations

from asterisk_textback.ami.sim.accounts import AmiAccount
from asterisk_textback.ami.sim.server import AmiServer
from tests.ami.test_server import RawClient


async def _reply(client: RawClient) -> dict[str, str]:
    """The next response, past any event (FullyBooted after a login that reads system)."""
    while "Response" not in (frame := await client.next()):
        pass
    return frame


async def test_getconfig_renders_the_accounts_as_manager_conf() -> None:
    accounts = {
        "admin": AmiAccount("x", frozenset({"all"}), frozenset({"config", "reporting"})),
        "textback": AmiAccount("secret", frozenset({"call", "user"}), frozenset({"reporting"})),
    }
    async with AmiServer(accounts) as server:
        client = await RawClient.connect(server)
        await client.login("admin", "x")
        await client.send(Action="GetConfig", ActionID="G1", Filename="manager.conf")
        reply = await _reply(client)
        assert reply == {
            "Response": "Success",
            "ActionID": "G1",
            "Category-000000": "general",
            "Line-000000-000000": "enabled=yes",
            "Line-000000-000001": "port=5038",
            "Category-000001": "admin",
            "Line-000001-000000": "secret=x",
            "Line-000001-000001": "read=all",
            "Line-000001-000002": "write=config,reporting",
            "Category-000002": "textback",
            "Line-000002-000000": "secret=secret",
            "Line-000002-000001": "read=call,user",
            "Line-000002-000002": "write=reporting",
        }
        await client.send(
            Action="GetConfig", ActionID="G2", Filename="manager.conf", Category="textback"
        )
        only = await _reply(client)
        assert only["Category-000000"] == "textback"
        assert "Category-000001" not in only
        await client.send(Action="GetConfig", ActionID="G3", Filename="sip.conf")
        assert await _reply(client) == {
            "Response": "Error",
            "ActionID": "G3",
            "Message": "Config file not found",
        }
        await client.close()


async def test_getconfig_needs_write_system_or_config() -> None:
    accounts = {
        "textback": AmiAccount("secret", write=frozenset({"reporting", "message"})),
        "ops": AmiAccount("secret", write=frozenset({"system"})),
    }
    async with AmiServer(accounts) as server:
        client = await RawClient.connect(server)
        await client.login()
        await client.send(Action="GetConfig", ActionID="G1", Filename="manager.conf")
        assert await _reply(client) == {
            "Response": "Error",
            "ActionID": "G1",
            "Message": "Permission denied",
        }
        await client.close()
        ops = await RawClient.connect(server)
        await ops.login("ops")
        await ops.send(Action="GetConfig", ActionID="G2", Filename="manager.conf")
        assert (await _reply(ops))["Response"] == "Success"
        await ops.close()
