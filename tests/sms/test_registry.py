"""Every provider name in the config builds its adapter and its webhook verifier."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from asterisk_textback.config import settings_from_mapping
from asterisk_textback.errors import ConfigError
from asterisk_textback.sms.registry import Resources, build_provider, build_webhooks

ED25519_PUBLIC = base64.b64encode(
    ed25519.Ed25519PrivateKey.generate()
    .public_key()
    .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
).decode()
RSA_PEM = (
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    .decode()
)

CASES: dict[str, tuple[dict[str, object], dict[str, str]]] = {
    "twilio": ({"account_sid": "AC" + "0" * 32}, {"TWILIO_AUTH_TOKEN": "t"}),
    "signalwire": (
        {"space": "example", "project_id": "00000000-0000-0000-0000-000000000000"},
        {"SIGNALWIRE_API_TOKEN": "t", "SIGNALWIRE_SIGNING_KEY": "k"},
    ),
    "telnyx": ({"public_key": ED25519_PUBLIC}, {"TELNYX_API_KEY": "k"}),
    "plivo": ({"auth_id": "MA123"}, {"PLIVO_AUTH_TOKEN": "t"}),
    "vonage": (
        {
            "application_id": "app",
            "private_key_env": "VONAGE_KEY",
            "signature_secret_env": "VONAGE_SIG",
        },
        {"VONAGE_KEY": RSA_PEM, "VONAGE_SIG": "s"},
    ),
    "bandwidth": (
        {
            "account_id": "9900000",
            "application_id": "app",
            "client_id": "id",
            "client_secret_env": "BW_SECRET",
            "callback_username": "cb",
            "callback_password_env": "BW_CB",
        },
        {"BW_SECRET": "s", "BW_CB": "p"},
    ),
}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """One shared HTTP session, as the service has."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.mark.parametrize("name", sorted(CASES))
async def test_each_provider_builds_with_its_webhook(
    name: str, http: aiohttp.ClientSession
) -> None:
    section, env = CASES[name]
    settings = settings_from_mapping({"provider": {"name": name, name: section}})
    provider = build_provider(settings.provider, Resources(http, env))
    assert provider.name == name
    webhooks = build_webhooks(settings.provider, Resources(http, env))
    assert list(webhooks) == [name]


@pytest.mark.parametrize("name", sorted(CASES))
async def test_a_missing_secret_names_its_key(name: str, http: aiohttp.ClientSession) -> None:
    section, _ = CASES[name]
    settings = settings_from_mapping({"provider": {"name": name, name: section}})
    with pytest.raises(ConfigError, match=rf"provider\.{name}\.\w+_env"):
        build_provider(settings.provider, Resources(http, {}))


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_missing_section_names_it(name: str) -> None:
    with pytest.raises(ConfigError, match=rf"there is no \[provider\.{name}\]"):
        settings_from_mapping({"provider": {"name": name}})
