"""``tenant add`` and ``tenant remove``: write a tenant file, or move one aside.

The file is written whole or not at all (a temporary file linked in), readable by the
service's group (0640, the folder 0750), and kept only if the tenant loads as ``run``
would load it without refusing a tenant that loaded before.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from asterisk_textback.config import Settings, load_settings
from asterisk_textback.errors import ConfigError
from asterisk_textback.store.tenant_scope import database_file
from asterisk_textback.tenancy.conflicts import sender_numbers
from asterisk_textback.tenancy.files import (
    load_tenant,
    load_tenants,
    tenant_database_url,
    tenant_file,
)
from asterisk_textback.tenancy.ids import check_tenant_id, schema_for
from asterisk_textback.tenancy.merge import api_token_env

__all__ = ["add", "remove", "starter"]

FILE_MODE = 0o640
FOLDER_MODE = 0o750


def _q(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def starter(
    tenant_id: str, name: str, dids: Sequence[str], pbx_host: str | None, main: Settings
) -> str:
    """The commented tenant file ``tenant add`` writes, valid next to ``main``."""
    lines = [
        f"# Tenant {tenant_id!r}: one business served by this install.",
        "# What this file does not set is the main config's: tables are merged key by key,",
        "# lists and values replaced. database, tenants, cluster, dispatch and web.host/port/",
        "# enabled/trusted_proxies/console are the install's: set them in the main config.",
        "",
        "[tenant]",
        f"name = {_q(name)}",
        "# On a PBX shared with other tenants: the DIDs whose inbound calls are this tenant's.",
        f"dids = [{', '.join(_q(d) for d in dids)}]",
        "",
    ]
    if pbx_host:
        lines += ["[pbx]", f"name = {_q(tenant_id)}", f"host = {_q(pbx_host)}"]
        lines += ["# port = 5038", '# username = "textback"']
        lines += [f'secret_env = "TEXTBACK_AMI_SECRET_{_env(tenant_id)}"', ""]
    else:
        lines += [
            "# Its own PBX (a FreePBX per client); else the main config's [pbx] is used:",
            "# [pbx]",
            f"# name = {_q(tenant_id)}",
            '# host = "10.0.0.5"',
            "# port = 5038",
            '# username = "textback"',
            f'# secret_env = "TEXTBACK_AMI_SECRET_{_env(tenant_id)}"',
            "# On a shared PBX with a context per client, instead of dids:",
            "# [tracker]",
            f'# trunk_contexts = ["from-trunk-{tenant_id}"]',
            "",
        ]
    lines += [
        "[business]",
        f"name = {_q(name)}",
        f"timezone = {_q(main.business.timezone)}",
        "",
        "[provider]",
        f"# The main config's provider ({main.provider.name}) and account are used unless set",
        "# here. Sender numbers are never shared: a STOP to a number is one tenant's.",
        '# name = "twilio"',
        '# default_sender = "+12125550100"',
        '# senders = { "2125550100" = "+12125550100" }',
    ]
    if any(True for _ in sender_numbers(main)):
        lines += ['default_sender = ""', "senders = {}"]
    lines.append("")
    if main.agi.enabled:
        lines += [
            "# The main config's AGI port is taken; give this tenant its own port to use AGI.",
            "[agi]",
            "enabled = false",
            "",
        ]
    lines += [
        "[web.dashboard]",
        f"username = {_q(tenant_id)}",
        "# Nobody logs in until it is set: asterisk-textback web passwd",
        '# password_hash = "scrypt$..."',
        f"api_token_env = {_q(api_token_env(tenant_id))}",
    ]
    return "\n".join(lines) + "\n"


def _env(tenant_id: str) -> str:
    return tenant_id.upper().replace("-", "_")


def _checked_id(tenant_id: str) -> str:
    try:
        return check_tenant_id(tenant_id)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _make_folder(folder: Path) -> None:
    if folder.is_dir():
        return
    try:
        folder.mkdir(parents=True, mode=FOLDER_MODE)
        folder.chmod(FOLDER_MODE)  # the command's umask (0077) would take the group's x off
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot create the tenant folder: {exc.strerror}") from None


def _write(path: Path, text: str) -> None:
    """``text`` into a new ``path``, whole (a temporary file linked in), mode 0640.

    Linked, not renamed over: of two ``tenant add`` of one id at once, one writes the file
    and the other is told it exists; a reload never reads half a file.
    """
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the tenant file: {exc.strerror}") from None
    temp = Path(name)
    try:
        try:
            os.fchmod(fd, FILE_MODE)
            os.write(fd, text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(temp, path)
    except FileExistsError:
        raise ConfigError(f"tenant {path.stem!r} exists already: {path}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the tenant file: {exc.strerror}") from None
    finally:
        temp.unlink(missing_ok=True)


def add(
    config: Path,
    tenant_id: str,
    *,
    name: str | None,
    dids: Sequence[str],
    pbx_host: str | None,
    out: TextIO,
) -> int:
    """Write ``tenants.d/<id>.toml``; ``ConfigError`` (nothing kept) when it would not load."""
    tenant_id = _checked_id(tenant_id)
    before = load_tenants(config)
    path = tenant_file(config, before.main.settings, tenant_id)
    if path.exists() or path.is_symlink():
        raise ConfigError(f"tenant {tenant_id!r} exists already: {path}")
    text = starter(tenant_id, name or tenant_id, dids, pbx_host, before.main.settings)
    _make_folder(path.parent)
    _write(path, text)
    loaded = {t.id for t in before.tenants}
    try:
        tenant = load_tenant(config, tenant_id)
        hurt = [r for r in load_tenants(config).refused if r.id in loaded]
        if hurt:
            raise ConfigError(f"it would refuse tenant {hurt[0].id!r}: {hurt[0].reason}")
    except ConfigError as exc:
        path.unlink(missing_ok=True)
        hint = "" if dids or pbx_host else " (--did or --pbx-host tell its calls apart)"
        raise ConfigError(f"{exc}{hint}; {path} was not kept") from None
    base = tenant.loaded.settings.web.webhooks.public_base_url or ""
    provider = tenant.loaded.settings.provider.name
    hook = provider if provider != "log" else "<provider>"
    out.write(
        f"tenant {tenant_id!r} written to {path}\n"
        "next:\n"
        f"  edit {path} (its PBX, provider numbers, dashboard password)\n"
        f"  asterisk-textback tenant check {tenant_id} -c {config}\n"
        f"  asterisk-textback db upgrade -c {config}\n"
        "  systemctl reload asterisk-textback\n"
        f"dashboard: {base.rstrip('/')}/t/{tenant_id}/\n"
        f"webhooks:  {base.rstrip('/')}/t/{tenant_id}/webhooks/{hook}\n"
    )
    return 0


def _move_aside(path: Path, folder: Path, stem: str) -> Path:
    """Move ``path`` to ``folder/<stem>.toml`` (``<stem>-2.toml``… if taken); the new path."""
    for attempt in range(1, 100):
        target = folder / (f"{stem}.toml" if attempt == 1 else f"{stem}-{attempt}.toml")
        try:
            # link + unlink, not rename: a file already there is never replaced.
            os.link(path, target, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError as exc:
            raise ConfigError(f"{path}: cannot move it to {folder}: {exc.strerror}") from None
        path.unlink()
        return target
    raise ConfigError(f"{path}: cannot move it to {folder}: too many removed copies")


def remove(config: Path, tenant_id: str, *, yes: bool, out: TextIO) -> int:
    """Move ``tenants.d/<id>.toml`` to ``tenants.d/removed/``; the tenant's rows stay."""
    tenant_id = _checked_id(tenant_id)
    settings = load_settings(config)
    path = tenant_file(config, settings, tenant_id)
    if not (path.exists() or path.is_symlink()):
        raise ConfigError(f"no tenant {tenant_id!r}: {path} does not exist")
    if not yes:
        if not sys.stdin.isatty():
            raise ConfigError(f"pass --yes to move {path} aside")
        try:
            answer = input(
                f"move {path} aside (tenant {tenant_id!r} stops at the next reload)? [y/N] "
            )
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            out.write("nothing changed\n")
            return 1
    folder = path.parent / "removed"
    _make_folder(folder)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = _move_aside(path, folder, f"{tenant_id}.{stamp}")
    url = settings.database.url
    if url.startswith("sqlite"):
        database = database_file(tenant_database_url(url, tenant_id))
        where = f"file {database} (delete it to drop them)"
    else:
        schema = schema_for(tenant_id)
        where = f"schema {schema} (DROP SCHEMA {schema} CASCADE drops them)"
    out.write(
        f"tenant {tenant_id!r}: {path} moved to {target}\n"
        f"its rows are kept in {where}\n"
        "apply: systemctl reload asterisk-textback\n"
    )
    return 0
