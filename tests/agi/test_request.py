"""The AGI request parser, the environment reader and the explicit-request policy."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from asterisk_textback.agi.request import TextRequest, parse_request
from asterisk_textback.agi.server import read_environment
from asterisk_textback.agi.settings import AgiSettings
from asterisk_textback.agi.texter import explicit_policy
from tests.agi.support import environment, textback_settings

SETTINGS = AgiSettings()


def _env(script: str = "textback?template=booking", **extra: str) -> dict[str, str]:
    env = {
        "agi_network": "yes",
        "agi_network_script": script,
        "agi_uniqueid": "1717484400.17",
        "agi_channel": "PJSIP/trunk-00000001",
        "agi_callerid": "2125550147",
        "agi_calleridname": "JORDAN SMITH",
        "agi_callingpres": "0",
        "agi_dnid": "2125550100",
    }
    return env | extra


def test_a_plain_request() -> None:
    assert parse_request(_env(), SETTINGS) == TextRequest(
        script="textback",
        template="booking",
        uniqueid="1717484400.17",
        channel="PJSIP/trunk-00000001",
        to="2125550147",
        caller_name="JORDAN SMITH",
        did="2125550100",
        delay=0.0,
    )


def test_parameters_override_the_channel() -> None:
    env = _env("textback?template=booking&to=%2B12125550199&delay=90&did=5550100")
    request = parse_request(env, SETTINGS)
    assert (request.to, request.delay, request.did) == ("+12125550199", 90.0, "5550100")


@pytest.mark.parametrize(
    ("env", "texted"),
    [
        (_env(agi_callerid="unknown"), ""),
        (_env(agi_callingpres="35"), ""),  # prohib_passed_screen
        (_env(agi_callingpres="1"), "2125550147"),  # allowed_passed_screen
        (_env(agi_callingpres="not a number"), "2125550147"),
        (_env("textback?template=booking&to=2125550199", agi_callingpres="35"), "2125550199"),
    ],
)
def test_withheld_caller_ids_are_not_used(env: dict[str, str], texted: str) -> None:
    assert parse_request(env, SETTINGS).to == texted


def test_an_unknown_dnid_means_no_did() -> None:
    assert parse_request(_env(agi_dnid="unknown"), SETTINGS).did == ""


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"agi_network": "yes"}, "no agi_network_script"),
        (_env("other?template=booking"), "not one of agi.scripts"),
        (_env("textback"), "no template="),
        (_env("textback?template="), "no template="),
        (_env("textback?template=a&template=b"), "given twice"),
        (_env("textback?template=booking&colour=red"), "unknown parameter"),
        (_env("textback?template=booking&delay"), "unknown parameter"),
        (_env("textback?template=booking&delay=soon"), "not a number"),
        (_env("textback?template=booking&delay=nan"), "between 0 and 3600"),
        (_env("textback?template=booking&delay=3601"), "between 0 and 3600"),
        (_env(agi_uniqueid=""), "agi_uniqueid"),
        (_env(agi_uniqueid="x" * 151), "agi_uniqueid"),
    ],
)
def test_bad_requests_say_what_is_wrong(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_request(env, SETTINGS)


def test_scripts_are_configurable() -> None:
    settings = AgiSettings(scripts=("textback", "ivr/booking"))
    assert parse_request(_env("/ivr/booking?template=booking"), settings).script == "ivr/booking"


@pytest.mark.parametrize("scripts", [(), ("textback?x=1",), ("",), ("../etc",)])
def test_script_names_are_validated(scripts: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError):
        AgiSettings(scripts=scripts)


def test_settings_defaults() -> None:
    assert (SETTINGS.enabled, SETTINGS.host, SETTINGS.port) == (False, "127.0.0.1", 4573)


def _reader(data: bytes, *, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=4096)
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


async def test_the_environment_is_read_to_the_blank_line() -> None:
    env = await read_environment(_reader(environment() + b"200 result=1\n"), 1)
    assert env["agi_network_script"] == "textback?template=booking"
    assert env["agi_accountcode"] == ""
    assert len(env) == 22


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"\n", ValueError, "empty"),
        (b"agi_network: yes\nnonsense\nagi_x: 1\n\n", ValueError, "not an AGI variable"),
        (b"AGI_NETWORK: yes\n\n", ValueError, "not an AGI variable"),
        (b"agi_x: " + b"y" * 5000 + b"\n\n", ValueError, "over 4096 bytes"),
        (b"agi_x: 1\n" * 200 + b"\n", ValueError, "longer than 128 lines"),
        (b"agi_network: yes\n", EOFError, "closed before the end"),
    ],
)
async def test_what_is_not_an_environment(
    data: bytes, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        await read_environment(_reader(data), 1)


async def test_a_silent_peer_times_out() -> None:
    with pytest.raises(TimeoutError):
        await read_environment(_reader(b"agi_network: yes\n", eof=False), 0.05)


def test_the_explicit_policy_keeps_the_caps_and_drops_cooldown_and_quiet_hours() -> None:
    settings = textback_settings(daily_cap=5, global_rate_per_minute=7)
    policy = explicit_policy(settings, "booking", 30.0)
    [rule] = policy.rules
    assert (rule.template, rule.send_delay_seconds) == ("booking", 30.0)
    assert policy.suppression.cooldown_hours == 0
    assert policy.suppression.quiet_hours is None
    assert (policy.suppression.daily_cap, policy.suppression.global_rate_per_minute) == (5, 7)
    assert policy.suppression.block_number_types == settings.suppression.block_number_types
    assert policy.business == settings.business
