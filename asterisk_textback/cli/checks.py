"""``asterisk-textback check``: every check in order, each with the fix when it fails.

Config, database, each PBX's AMI login, clock, read classes and dialplan, the provider and
its webhooks; a failing check does not stop the later ones.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping

import aiohttp

from asterisk_textback.ami.clock import NTP_FIX, measure_offset, skew_detail
from asterisk_textback.ami.connection import AmiConnection
from asterisk_textback.ami.settings import PbxSettings
from asterisk_textback.app.service import database_url
from asterisk_textback.calls.contexts import ContextMatcher
from asterisk_textback.cli.check_classes import ClassWatch, read_classes
from asterisk_textback.cli.check_report import DEFAULT_WATCH, CheckResult
from asterisk_textback.errors import AmiError, ProviderError, TextbackError
from asterisk_textback.sms.base import Provider
from asterisk_textback.sms.registry import Resources, build_provider
from asterisk_textback.store.engine import create_engine
from asterisk_textback.store.schema import check_schema
from asterisk_textback.textback.loading import PreparedConfig


async def _database(loaded: PreparedConfig, env: Mapping[str, str]) -> CheckResult:
    url = database_url(loaded, env)
    engine = create_engine(url)
    try:
        await check_schema(engine)
    except TextbackError as exc:
        return CheckResult("database", False, str(exc), "asterisk-textback db upgrade -c FILE")
    except Exception as exc:  # unreachable server, bad URL…
        return CheckResult("database", False, repr(exc), "check database.url")
    finally:
        await engine.dispose()
    return CheckResult("database", True, f"schema up to date ({loaded.settings.database.url})")


async def _ami(conn: AmiConnection, pbx: PbxSettings, label: str) -> CheckResult:
    try:
        async with asyncio.timeout(pbx.connect_timeout * 2):
            await conn.start()
            await conn.wait_ready()
        alive = await conn.core_show_channels()
    except TimeoutError:
        return CheckResult(
            label, False, f"no AMI login at {pbx.host}:{pbx.port}", "check pbx.host/pbx.port"
        )
    except AmiError as exc:
        return CheckResult(label, False, str(exc), "see dialplan/manager_custom.conf")
    return CheckResult(
        label,
        True,
        f"logged in to {pbx.host}:{pbx.port} as {pbx.username} "
        f"(AMI {conn.version}); {len(alive)} channel(s) up",
    )


async def _clock(conn: AmiConnection, pbx: PbxSettings, label: str) -> CheckResult:
    try:
        offset = await measure_offset(conn)
    except AmiError as exc:
        return CheckResult(label, True, f"not measured: {exc}", warn=True)
    if offset is None:
        return CheckResult(label, True, "the PBX's Ping reply has no Timestamp", warn=True)
    detail = skew_detail(pbx.name, offset)
    if abs(offset) <= pbx.max_clock_skew:
        return CheckResult(label, True, f"{detail} (pbx.max_clock_skew {pbx.max_clock_skew:g})")
    why = f"{detail}: call times come from this server's clock instead"
    return CheckResult(label, True, why, NTP_FIX, warn=True)


_HOOK_CONTEXT = "textback-hangup"
_WITH_CALLBACKS = frozenset({"twilio", "signalwire", "telnyx", "plivo", "vonage", "bandwidth"})


async def _dialplan(
    conn: AmiConnection, loaded: PreparedConfig, label: str
) -> tuple[CheckResult, bool]:
    """The trunk contexts of ``[tracker]`` exist; whether the optional hook is loaded."""
    try:
        contexts = await conn.dialplan_contexts()
    except AmiError as exc:
        fix = "give the AMI user write=reporting (or config): ShowDialPlan needs one of them"
        return CheckResult(label, False, str(exc), fix), False
    return _contexts(contexts, loaded, label), _HOOK_CONTEXT in contexts


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


def _webhooks(loaded: PreparedConfig) -> CheckResult:
    """Providers that call back need the public URL their signatures are computed over."""
    settings = loaded.settings
    name = settings.provider.name
    if name not in _WITH_CALLBACKS:
        return CheckResult("webhooks", True, f"{name}: no provider callbacks")
    base = settings.web.webhooks.public_base_url
    if base is None or not settings.web.enabled:
        return CheckResult(
            "webhooks",
            False,
            f"{name} delivery reports, replies and STOP need a public webhook URL",
            "set [web.webhooks] public_base_url (behind your TLS proxy) and keep web enabled",
        )
    return CheckResult("webhooks", True, f"set {base}/webhooks/{name} in the {name} console")


async def _provider(provider: Provider) -> CheckResult:
    verify: Callable[[], Awaitable[str]] | None = getattr(provider, "verify", None)
    if verify is None:
        return CheckResult("provider", True, f"{provider.name}: nothing to verify")
    try:
        return CheckResult("provider", True, f"{provider.name}: {await verify()}")
    except ProviderError as exc:
        return CheckResult("provider", False, f"{provider.name}: {exc}", "check [provider]")


async def run_checks(
    loaded: PreparedConfig,
    environ: Mapping[str, str] | None = None,
    *,
    watch: float = DEFAULT_WATCH,
) -> list[CheckResult]:
    """Every check, in order; a failing check does not stop the later ones.

    ``watch``: at most this many seconds of AMI events per PBX are examined for the read
    classes when the AMI user may not read manager.conf (GetConfig).
    """
    env = os.environ if environ is None else environ
    results = [CheckResult("config", True, "textback.toml is valid; templates render")]
    results.append(await _database(loaded, env))
    pbxes = loaded.settings.all_pbxes
    # Every event counts as evidence of its class, even those the tracker skips.
    conns = [AmiConnection(pbx, environ=env, skip_events=frozenset()) for pbx in pbxes]
    try:
        for pbx, conn in zip(pbxes, conns, strict=True):
            label = "ami" if len(pbxes) == 1 else f"ami {pbx.name}"
            results.append(ami := await _ami(conn, pbx, label))
            if ami.ok:
                results.append(await _clock(conn, pbx, label.replace("ami", "pbx clock")))
                # Start watching at once: the events of the dialplan check's time count too.
                events = ClassWatch(conn)
                dialplan, hook = await _dialplan(conn, loaded, label.replace("ami", "dialplan"))
                classes = label.replace("ami", "ami classes")
                results.append(await read_classes(conn, events, pbx, classes, watch, hook))
                results.append(dialplan)
        async with aiohttp.ClientSession() as http:
            provider = build_provider(loaded.settings.provider, Resources(http, env, conns[0]))
            results.append(await _provider(provider))
        results.append(_webhooks(loaded))
    finally:
        for conn in conns:
            await conn.close()
    return results
