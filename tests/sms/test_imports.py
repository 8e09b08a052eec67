"""Reading the config loads no vendor code; building a provider loads only its adapter."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from typing import get_args

import pytest

from asterisk_textback.sms.registry import PROVIDERS
from asterisk_textback.sms.settings import ProviderSettings


def _loaded_after(code: str) -> list[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def _vendor_code(modules: list[str]) -> list[str]:
    return [m for m in modules if m.startswith(("aiohttp", "asterisk_textback.sms.vendors"))]


def test_importing_the_settings_loads_no_aiohttp_and_no_adapter() -> None:
    loaded = _loaded_after("import asterisk_textback.sms.settings")
    assert "asterisk_textback.sms.settings.twilio" in loaded  # the probe did import them
    assert _vendor_code(loaded) == []
    assert not [m for m in loaded if m.startswith(("cryptography", "jwt"))]


def test_building_a_provider_imports_only_its_own_adapter() -> None:
    loaded = _loaded_after(
        "from asterisk_textback.sms.registry import Resources, build_provider\n"
        "from asterisk_textback.sms.settings import ProviderSettings\n"
        "build_provider(ProviderSettings(), Resources(None, {}))"  # the log provider
    )
    assert _vendor_code(loaded) == [
        "asterisk_textback.sms.vendors",
        "asterisk_textback.sms.vendors.log",
    ]


def test_every_configurable_name_has_one_registry_line() -> None:
    names = get_args(ProviderSettings.model_fields["name"].annotation)
    assert sorted(names) == sorted(PROVIDERS)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_every_registry_line_points_at_a_builder(name: str) -> None:
    entry = PROVIDERS[name]
    for ref in (entry.provider, entry.webhook, entry.lookup):
        if ref is None:
            continue
        module, _, attr = ref.partition(":")
        assert callable(getattr(importlib.import_module(module), attr)), ref
