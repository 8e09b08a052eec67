"""Read the tenants of an install: the main config and every ``tenants.d/<id>.toml``.

A tenant file is the main config's TOML with the file's own on top
(:func:`~asterisk_textback.tenancy.merge.deep_merge`), validated like the main config, its
problems reported with the tenant file's lines. A tenant file that does not load (bad TOML,
an unknown key, a key only the main config sets, a sender number or PBX calls another
tenant already has) is refused on its own: the others load. Only a bad main config stops
everything (``ConfigError``, as without tenants).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asterisk_textback.config import Settings, TomlLines, settings_from_mapping, with_lines
from asterisk_textback.errors import ConfigError
from asterisk_textback.store.tenant_scope import tenant_url
from asterisk_textback.tenancy.conflicts import find_conflict
from asterisk_textback.tenancy.ids import DEFAULT_TENANT, check_tenant_id
from asterisk_textback.tenancy.merge import main_only_key, tenant_data
from asterisk_textback.tenancy.model import RefusedTenant, Tenant
from asterisk_textback.textback.loading import PreparedConfig, load, prepare

__all__ = [
    "TenantSet",
    "load_tenant",
    "load_tenants",
    "tenant_database_url",
    "tenant_file",
    "tenants_dir",
]

#: What a tenant file is called: ``<id>.toml``.
SUFFIX = ".toml"


@dataclass(frozen=True)
class TenantSet:
    """The install as read now: the main config, the tenants that loaded, those refused."""

    main: PreparedConfig
    #: The default tenant first (when the main config is a business), then files by id.
    tenants: tuple[Tenant, ...]
    refused: tuple[RefusedTenant, ...]

    def find(self, tenant_id: str) -> Tenant | None:
        """The loaded tenant ``tenant_id``, if it loaded."""
        return next((t for t in self.tenants if t.id == tenant_id), None)


def tenants_dir(main_path: Path, settings: Settings) -> Path:
    """The folder of tenant files: ``tenants.directory``, relative to the main config's."""
    return Path(main_path).parent / settings.tenants.directory


def tenant_file(main_path: Path, settings: Settings, tenant_id: str) -> Path:
    """Where tenant ``tenant_id``'s file is (or would be)."""
    return tenants_dir(main_path, settings) / f"{tenant_id}{SUFFIX}"


def load_tenants(main_path: str | os.PathLike[str], *, carrier_rules: bool = True) -> TenantSet:
    """Load the main config and every tenant file beside it.

    ``ConfigError`` only when the main config is bad (or the tenant folder cannot be
    listed); a tenant file that does not load is in ``refused`` with the reason.
    """
    path = Path(main_path)
    main = load(path, carrier_rules=carrier_rules)
    base = _read_toml(path, what="config")
    tenants: list[Tenant] = []
    if main.settings.tenants.main_business:
        tenants.append(Tenant(DEFAULT_TENANT, main, None))
    refused: list[RefusedTenant] = []
    for file in _tenant_files(tenants_dir(path, main.settings)):
        try:
            tenant = _load_file(file, base, main.settings, tenants, carrier_rules=carrier_rules)
        except ConfigError as exc:
            refused.append(RefusedTenant(file.stem, file, str(exc)))
        else:
            tenants.append(tenant)
    return TenantSet(main, tuple(tenants), tuple(refused))


def load_tenant(
    main_path: str | os.PathLike[str], tenant_id: str, *, carrier_rules: bool = True
) -> Tenant:
    """Tenant ``tenant_id`` as ``run`` would load it; ``ConfigError`` saying why it would not.

    ``default`` is the main config's own business (unless ``tenants.main_business`` is
    false). The checks against the other tenants are made too: a tenant ``run`` would
    refuse is not valid here either.
    """
    found = load_tenants(main_path, carrier_rules=carrier_rules)
    tenant = found.find(tenant_id)
    if tenant is not None:
        return tenant
    for refusal in found.refused:
        if refusal.id == tenant_id:
            raise ConfigError(refusal.reason)
    if tenant_id == DEFAULT_TENANT:
        raise ConfigError(
            "tenants.main_business = false: the main config is not a tenant (no 'default')"
        )
    where = tenant_file(Path(main_path), found.main.settings, tenant_id)
    raise ConfigError(f"no tenant {tenant_id!r}: {where} does not exist")


def tenant_database_url(main_url: str, tenant_id: str) -> str:
    """:func:`~asterisk_textback.store.tenant_scope.tenant_url`, a bad URL a ``ConfigError``."""
    return tenant_url(main_url, tenant_id)  # a bad URL is a ConfigError there


def _read_toml(path: Path, *, what: str) -> dict[str, Any]:
    text = _read_text(path, what=what)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _read_text(path: Path, *, what: str) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text") from None


def _tenant_files(folder: Path) -> list[Path]:
    """The ``<id>.toml`` files of ``folder`` by id; none when it does not exist."""
    if not folder.is_dir():
        return []
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot list the tenant files: {exc.strerror}") from None
    # Not ``is_file()``: a dangling link is a tenant file that cannot be read, not none.
    files = [
        p for p in entries if p.suffix == SUFFIX and not p.name.startswith(".") and not p.is_dir()
    ]
    return sorted(files, key=lambda p: p.stem)


def _named(message: str, file: Path) -> str:
    """``message`` starting with the tenant file's name (and line, when it has one)."""
    return message if message.startswith(str(file)) else f"{file}: {message}"


def _sets(data: dict[str, Any], key: str) -> bool:
    """Whether the tenant file's own ``data`` holds ``key`` (``pbxes[0]``, ``agi.port``)."""
    value: Any = data
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", key):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(value, list) or index >= len(value):
                return False
            value = value[index]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return False
    return True


def _load_file(
    file: Path,
    base: dict[str, Any],
    main: Settings,
    accepted: list[Tenant],
    *,
    carrier_rules: bool,
) -> Tenant:
    """One tenant file, merged over ``base`` and checked against the ``accepted`` tenants."""
    try:
        tenant_id = check_tenant_id(file.stem)
    except ValueError as exc:
        raise ConfigError(f"{file}: {exc} (the file's name is the tenant's id)") from None
    text = _read_text(file, what="tenant")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    lines = TomlLines(text, str(file))
    refused = main_only_key(data)
    if refused is not None:
        key, why = refused
        raise ConfigError(
            _named(f"{lines.where(key)}{key}: set in the main config only ({why})", file)
        )
    try:
        settings = settings_from_mapping(tenant_data(base, data, tenant_id), lines)
        url = tenant_database_url(main.database.url, tenant_id)
    except ConfigError as exc:
        raise ConfigError(_named(str(exc), file)) from None
    settings = settings.model_copy(
        update={"database": settings.database.model_copy(update={"url": url})}
    )
    try:
        prepared = prepare(settings, carrier_rules=carrier_rules)
    except ConfigError as exc:
        raise ConfigError(_named(with_lines(str(exc), file), file)) from None
    conflict = find_conflict(settings, [(t.id, t.loaded.settings) for t in accepted])
    if conflict is not None:
        if _sets(data, conflict.key):
            raise ConfigError(_named(f"{lines.where(conflict.key)}{conflict.message}", file))
        raise ConfigError(f"{file}: {conflict.message} (the value comes from the main config)")
    return Tenant(tenant_id, prepared, file)
