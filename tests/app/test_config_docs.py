"""Every settings key is shown in ``contrib/textback.toml`` (commented-out keys count).

Keys that existed only in the source sent a real admin looking through it. The settings
models reachable from :class:`Settings` are walked; a key is documented when the example has
``key =`` (or ``# key =``) under its section, its own ``[section]``/``[[section]]`` header,
or sits in an inline table (``hours = { mon = … }``).
"""

from __future__ import annotations

import re
import typing
from pathlib import Path

from pydantic import BaseModel

from asterisk_textback.config import Settings, settings_from_mapping

EXAMPLE = Path(__file__).resolve().parents[2] / "contrib" / "textback.toml"

_HEADER = re.compile(r"^\[\[?\s*([\w.\-]+)\s*\]\]?")
_KEY = re.compile(r"^([A-Za-z_][\w\-]*)\s*=\s*(.*)$")
_INLINE_KEY = re.compile(r"([A-Za-z_][\w\-]*)\s*=")


def _models(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def settings_keys(model: type[BaseModel] = Settings, prefix: str = "") -> list[str]:
    """Dotted paths of every field reachable from ``model`` (each model class once)."""
    keys: list[str] = []
    seen: set[type[BaseModel]] = set()

    def walk(current: type[BaseModel], path: str) -> None:
        seen.add(current)
        for name, field in current.model_fields.items():
            key = f"{path}.{field.alias or name}" if path else field.alias or name
            keys.append(key)
            for sub in _models(field.annotation):
                # [[pbxes]] repeats [pbx]: the same model is documented once.
                if sub not in seen:
                    walk(sub, key)

    walk(model, prefix)
    return keys


def documented(text: str) -> set[str]:
    """Dotted keys and section names in a TOML text, commented-out ones included."""
    found: set[str] = set()
    section = ""
    for raw in text.splitlines():
        line = raw.strip().lstrip("#").strip()
        header = _HEADER.match(line)
        if header:
            section = header[1]
            found.add(section)
            continue
        key = _KEY.match(line)
        if key is None:
            continue
        path = f"{section}.{key[1]}" if section else key[1]
        found.add(path)
        value = key[2]
        if value.startswith("{"):
            found.update(f"{path}.{inner}" for inner in _INLINE_KEY.findall(value))
    return found


def test_every_settings_key_is_in_the_example_config() -> None:
    missing = [key for key in settings_keys() if key not in documented(EXAMPLE.read_text())]
    assert not missing, f"add these keys to contrib/textback.toml (commented is fine): {missing}"


def test_the_walk_sees_nested_and_repeated_sections() -> None:
    keys = settings_keys()
    assert "provider.twilio.api_base_url" in keys
    assert "business.hours.sun" in keys
    assert "crm.endpoints.url" in keys
    assert "pbxes" in keys
    assert "pbxes.host" not in keys  # same model as [pbx]
    assert len(keys) == len(set(keys))


def test_the_scan_counts_commented_keys_and_inline_tables() -> None:
    text = (
        '[pbx]\nhost = "x"\n# connect_timeout = 5\n# [provider.twilio]\n'
        '# api_base_url = "https://api.twilio.com"\n[business]\nhours = { mon = [], sat = [] }\n'
        "# Prose = not a key, but this line is read as one: harmless\n"
    )
    found = documented(text)
    assert {"pbx.host", "pbx.connect_timeout", "provider.twilio.api_base_url"} <= found
    assert {"business.hours.mon", "business.hours.sat"} <= found
    assert "business.hours.sun" not in found
    assert "pbx.secret" not in found


def test_the_example_config_is_valid() -> None:
    import tomllib

    settings_from_mapping(tomllib.loads(EXAMPLE.read_text()))


def _every_path(model: type[BaseModel] = Settings, path: str = "") -> set[str]:
    """Every key a file may hold: a model under two names (``pbx``, ``pbxes``) under both."""
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        key = f"{path}.{field.alias or name}" if path else field.alias or name
        keys.add(key)
        for sub in _models(field.annotation):
            keys |= _every_path(sub, key)
    return keys


def test_every_key_in_the_example_is_a_real_setting() -> None:
    """The other way round: a stale or misspelt key in the example misleads as much."""
    from asterisk_textback.templates.settings import TemplateSettings

    template_keys = _every_path(TemplateSettings)
    real = _every_path()
    stale = []
    for key in documented(EXAMPLE.read_text()):
        parts = key.split(".")
        if parts[0] == "templates" and len(parts) > 2:  # [templates.<any name>.…]
            if ".".join(parts[2:]) in template_keys:
                continue
        elif parts[0] == "templates" and len(parts) == 2 and parts[1] not in real:
            continue  # a template of one's own: [templates.booking]
        if key not in real:
            stale.append(key)
    # Prose that reads like a key ("-> TEXTBACK_STATUS") is the only exception.
    assert set(stale) <= {"agi.TEXTBACK_STATUS"}, stale


def test_every_provider_model_is_reachable_from_the_settings() -> None:
    """A provider's model that no ``[provider.…]`` key reaches is neither loaded nor documented."""
    import importlib
    import inspect
    import pkgutil

    import asterisk_textback.sms.settings as sms_settings
    from asterisk_textback.sms.settings._frozen import Frozen

    reached: set[type[BaseModel]] = set()

    def walk(model: type[BaseModel]) -> None:
        reached.add(model)
        for field in model.model_fields.values():
            for sub in _models(field.annotation):
                if sub not in reached:
                    walk(sub)

    walk(Settings)
    modules = [sms_settings] + [
        importlib.import_module(f"{sms_settings.__name__}.{info.name}")
        for info in pkgutil.iter_modules(sms_settings.__path__)
    ]
    defined = {
        cls
        for module in modules
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Frozen) and cls is not Frozen
    }
    # Built in code from [provider.lookup], not a section: the one model the walk skips.
    unreached = {cls.__name__ for cls in defined - reached} - {"TwilioLookupSettings"}
    assert not unreached
    assert {"TwilioSettings", "TelnyxSettings", "BandwidthSettings"} <= {
        cls.__name__ for cls in defined & reached
    }


def test_the_walk_includes_list_of_model_fields() -> None:
    paths = _every_path()
    assert {"pbxes.host", "pbxes.cdr_csv", "crm.endpoints.secret_env", "rules.template"} <= paths
