"""Every variable the configuration needs, found in one pass by the readers ``run`` uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from asterisk_textback.app.environment import missing_env, missing_message, require_env
from asterisk_textback.config import settings_from_mapping
from asterisk_textback.errors import ConfigError
from asterisk_textback.textback.loading import load, prepare

SAMPLE = Path(__file__).parents[2] / "contrib" / "textback.toml"


async def test_the_sample_config_needs_only_the_ami_secret() -> None:
    missing = await missing_env(load(SAMPLE), {})
    assert [(m.part, m.keys, m.name) for m in missing] == [
        ("ami", ("pbx.secret_env",), "TEXTBACK_AMI_SECRET")
    ]
    assert await missing_env(load(SAMPLE), {"TEXTBACK_AMI_SECRET": "x"}) == []


async def test_every_part_is_read_and_each_name_found_once() -> None:
    loaded = prepare(
        settings_from_mapping(
            {
                "pbx": {"secret_env": "SHARED", "cdr_db_url_env": "CDR_URL"},
                "pbxes": [{"name": "branch", "secret_env": "SHARED"}],
                "database": {"url": "postgresql+asyncpg://tb@db/tb", "password_env": "DB_PW"},
                "provider": {
                    "name": "telnyx",
                    "default_sender": "+15555550100",
                    "telnyx": {"messaging_profile_id": "x", "api_key_env": "TELNYX_KEY"},
                },
                "crm": {
                    "endpoints": [{"name": "c", "url": "https://crm.test/h", "secret_env": "CRM"}]
                },
            }
        )
    )
    missing = await missing_env(loaded, {"CRM": ""})  # empty counts as unset, as for run
    assert [(m.part, m.name) for m in missing] == [
        ("database", "DB_PW"),
        ("ami default", "SHARED"),
        ("catch-up", "CDR_URL"),
        ("ami branch", "SHARED"),
        ("provider", "TELNYX_KEY"),
        ("crm", "CRM"),
    ]
    detail, fix = missing_message(missing)
    assert detail == "DB_PW, SHARED, CDR_URL, TELNYX_KEY, CRM are not set"
    assert "pbx.secret_env, pbxes[0].secret_env" in fix
    assert "crm.endpoints[0].secret_env" in fix
    with pytest.raises(ConfigError, match=r"^environment: DB_PW, SHARED, CDR_URL, TELNYX_KEY"):
        await require_env(loaded, {})
