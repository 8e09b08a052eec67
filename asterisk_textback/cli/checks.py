"""``asterisk-textback check``: every check in order, each with the fix when it fails.

Config, the HELP/STOP answers against the carriers' rules and the first texts for
promotional words (``check_carrier``), the environment variables it names, database, each
PBX's AMI login, clock, read classes and dialplan, the provider and its webhooks. Every
check prints its line whatever the others found: one that cannot run (its secret is unset,
the AMI login above failed) says so as SKIP, and an unexpected error is a FAIL line, never
a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from asterisk_textback.ami.connection import AmiConnection
from asterisk_textback.ami.settings import PbxSettings
from asterisk_textback.app.environment import (
    MissingEnv,
    missing_env,
    missing_message,
    with_placeholders,
)
from asterisk_textback.app.service import database_url
from asterisk_textback.calls.contexts import ContextMatcher
from asterisk_textback.cli.check_ami import clock, login, reach_only
from asterisk_textback.cli.check_carrier import (
    CARRIER,
    FIRST_TEXTS,
    carrier_lines,
    first_text_lines,
)
from asterisk_textback.cli.check_classes import ClassWatch, read_classes
from asterisk_textback.cli.check_provider import provider_line, webhooks_line
from asterisk_textback.cli.check_report import DEFAULT_WATCH, CheckResult
from asterisk_textback.errors import AmiError, ConfigError, TextbackError
from asterisk_textback.sms.registry import Resources, build_provider
from asterisk_textback.store.engine import create_engine, without_password
from asterisk_textback.store.schema import DatabaseUnreadableError, check_schema_readable
from asterisk_textback.textback.loading import PreparedConfig

_HOOK_CONTEXT = "textback-hangup"


def _unexpected(name: str, exc: Exception) -> CheckResult:
    text = str(exc).splitlines()[0] if str(exc) else ""
    why = f"unexpected {type(exc).__name__}: {text}"
    return CheckResult(name, False, why, "run `check -v` and report this line with it")


async def _guarded(name: str, check: Callable[[], Awaitable[CheckResult]]) -> CheckResult:
    """The check's line; an error nobody foresaw is a FAIL line too, never a traceback."""
    try:
        return await check()
    except Exception as exc:  # the last line of defence: whatever it was, say it and go on
        return _unexpected(name, exc)


def _words(loaded: PreparedConfig, config: str) -> list[CheckResult]:
    """The ``carrier rules`` and ``first texts`` lines (a FAIL line, never a traceback)."""
    settings = loaded.settings
    results: list[CheckResult] = []
    for name in (CARRIER, FIRST_TEXTS):
        try:
            if name == CARRIER:
                results += carrier_lines(settings, config)
            else:
                results += first_text_lines(settings)
        except Exception as exc:  # as in _guarded
            results.append(_unexpected(name, exc))
    return results


def _skip(name: str, unset: list[MissingEnv]) -> CheckResult:
    names = ", ".join(dict.fromkeys(m.name for m in unset))
    return CheckResult(name, True, f"not tried: {names} not set (see environment)", skipped=True)


async def _database(
    loaded: PreparedConfig, env: Mapping[str, str], config: str, unset: list[MissingEnv]
) -> CheckResult:
    if unset:
        return _skip("database", unset)
    shown = without_password(loaded.settings.database.url)
    try:
        engine = create_engine(database_url(loaded, env))
    except Exception as exc:  # sqlalchemy's ArgumentError, a driver that is not installed…
        why = f"database.url {shown!r} cannot be used: {str(exc).removeprefix('database.url: ')}"
        fix = f"set database.url in {config} (sqlite+aiosqlite:////path/to/textback.db)"
        return CheckResult("database", False, why, fix)
    try:
        await check_schema_readable(engine)
    except DatabaseUnreadableError as exc:
        return CheckResult("database", False, f"cannot open {shown}: {exc.reason}", _db_fix(engine))
    except TextbackError as exc:
        why = str(exc).partition(": run `")[0]  # the fix is its own line
        return CheckResult("database", False, why, f"asterisk-textback db upgrade -c {config}")
    finally:
        await engine.dispose()
    return CheckResult("database", True, f"schema up to date ({shown})")


def _db_fix(engine: AsyncEngine) -> str:
    """Where to look when the database cannot be opened at all."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        folder = Path(url.database or ".").parent
        return (
            f"look at the directory {folder}: it must exist and be writable by the user "
            f"running the service (install -d -o asterisk-textback -m 0700 {folder})"
        )
    return (
        f"look at the database server at {url.host}:{url.port or 'default port'}: it runs, "
        "accepts this host, and the URL's user and password_env are right"
    )


def _contexts(contexts: frozenset[str], loaded: PreparedConfig, label: str) -> CheckResult:
    """The trunk contexts of ``[tracker]`` among the loaded ones."""
    patterns = loaded.settings.tracker.trunk_contexts
    trunks = sorted(c for c in contexts if ContextMatcher(patterns)(c))
    if not trunks:
        return CheckResult(
            label,
            False,
            f"no loaded context matches tracker.trunk_contexts {list(patterns)}",
            "set tracker.trunk_contexts to your trunk's context (pjsip.conf context=)",
        )
    hook = "loaded" if _HOOK_CONTEXT in contexts else "not loaded (optional: dialplan/README.md)"
    return CheckResult(label, True, f"trunk contexts {', '.join(trunks[:5])}; hook {hook}")


async def _dialplan(
    conn: AmiConnection, loaded: PreparedConfig, label: str
) -> tuple[CheckResult, bool]:
    """The trunk contexts of ``[tracker]`` exist; whether the optional hook is loaded."""
    try:
        contexts = await conn.dialplan_contexts()
    except AmiError as exc:
        fix = "give the AMI user write=reporting (or config): ShowDialPlan needs one of them"
        return CheckResult(label, False, str(exc), fix), False
    except Exception as exc:  # as in _guarded: a line, never a traceback
        return _unexpected(label, exc), False
    return _contexts(contexts, loaded, label), _HOOK_CONTEXT in contexts


async def _pbx(
    conn: AmiConnection,
    pbx: PbxSettings,
    loaded: PreparedConfig,
    labels: tuple[str, str, str, str],
    unset: list[MissingEnv],
    watch: float,
) -> list[CheckResult]:
    """The AMI login, then clock, read classes and dialplan on it (SKIP without a login)."""
    ami, clock_label, classes_label, dialplan_label = labels
    if unset:
        first = await _guarded(ami, lambda: reach_only(pbx, ami, [m.name for m in unset]))
    else:
        first = await _guarded(ami, lambda: login(conn, pbx, ami))
    if not first.ok or first.skipped:
        why = "not tried: needs the AMI login above"
        after = (clock_label, classes_label, dialplan_label)
        return [first, *(CheckResult(n, True, why, skipped=True) for n in after)]
    results = [first, await _guarded(clock_label, lambda: clock(conn, pbx, clock_label))]
    # Start watching at once: the events of the dialplan check's time count too.
    events = ClassWatch(conn)
    dialplan, hook = await _dialplan(conn, loaded, dialplan_label)

    async def classes() -> CheckResult:
        return await read_classes(conn, events, pbx, classes_label, watch, hook)

    results += [await _guarded(classes_label, classes), dialplan]
    return results


async def _provider(
    loaded: PreparedConfig, env: Mapping[str, str], conn: AmiConnection, config: str
) -> CheckResult:
    settings = loaded.settings.provider
    section = f"provider.{settings.name}"
    async with aiohttp.ClientSession() as http:
        try:
            provider = build_provider(settings, Resources(http, env, conn))
        except ConfigError as exc:
            return CheckResult("provider", False, str(exc), f"correct [{section}] in {config}")
        return await provider_line(provider, section)


async def _environment(
    loaded: PreparedConfig, env: Mapping[str, str]
) -> tuple[CheckResult, list[MissingEnv]]:
    """One line for every variable the config names that is not set."""
    try:
        missing = await missing_env(loaded, env)
    except Exception as exc:  # never a traceback: the checks after this say what they can
        why = f"not checked: unexpected {type(exc).__name__}: {exc}"
        return CheckResult("environment", False, why, "run `check -v` and report it"), []
    if not missing:
        return CheckResult("environment", True, "every variable the config names is set"), []
    detail, fix = missing_message(missing)
    return CheckResult("environment", False, detail, fix), missing


def _labels(pbx: PbxSettings, many: bool) -> tuple[str, str, str, str]:
    tail = f" {pbx.name}" if many else ""
    return f"ami{tail}", f"pbx clock{tail}", f"ami classes{tail}", f"dialplan{tail}"


async def run_checks(
    loaded: PreparedConfig,
    environ: Mapping[str, str] | None = None,
    *,
    watch: float = DEFAULT_WATCH,
    config: str = "textback.toml",
) -> list[CheckResult]:
    """Every check, in order; a failing check does not stop the later ones.

    ``watch``: at most this many seconds of AMI events per PBX are examined for the read
    classes when the AMI user may not read manager.conf (GetConfig). ``config``: the file
    as the user named it, for the messages.
    """
    env = os.environ if environ is None else environ
    results = [CheckResult("config", True, f"{config} is valid; templates render")]
    results += _words(loaded, config)
    line, missing = await _environment(loaded, env)
    results.append(line)

    def unset(part: str) -> list[MissingEnv]:
        return [m for m in missing if m.part == part]

    env = with_placeholders(env, missing)  # each check below skips what needs a missing one
    results.append(
        await _guarded("database", lambda: _database(loaded, env, config, unset("database")))
    )
    pbxes = loaded.settings.all_pbxes
    # One attempt each (retry=False); every event counts as evidence of its class.
    conns = [AmiConnection(p, environ=env, skip_events=frozenset(), retry=False) for p in pbxes]
    try:
        for pbx, conn in zip(pbxes, conns, strict=True):
            labels = _labels(pbx, len(pbxes) > 1)
            results += await _pbx(conn, pbx, loaded, labels, unset(labels[0]), watch)
        if unset("provider"):
            results.append(_skip("provider", unset("provider")))
        else:
            results.append(
                await _guarded("provider", lambda: _provider(loaded, env, conns[0], config))
            )
        results.append(webhooks_line(loaded.settings))
    finally:
        for conn in conns:
            await conn.close()
    return results
