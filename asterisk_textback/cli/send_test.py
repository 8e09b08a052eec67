"""``asterisk-textback send-test``: one real text through the configured provider.

It goes straight to the provider, not through the outbox, so a wrong credential or sender
shows at once. The provider and AMI modules are imported when the command runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING

from asterisk_textback.cli.args import add_config
from asterisk_textback.cli.tenant_arg import add_tenant

if TYPE_CHECKING:
    from asterisk_textback.cli.args import Commands
    from asterisk_textback.sms.base import SendResult
    from asterisk_textback.textback.loading import PreparedConfig


def add_parser(commands: Commands) -> None:
    """Register ``send-test`` and its arguments."""
    parser = commands.add_parser(
        "send-test", help="send one real text through the configured provider"
    )
    add_config(parser, required=True)
    add_tenant(parser)
    parser.add_argument("number", help="recipient (E.164, or national in business.default_region)")
    parser.add_argument("text", nargs="?", default="Test from asterisk-textback.", help="the text")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Send the text; 1 if the provider refused it."""
    import asyncio
    import sys

    from asterisk_textback.cli.tenant_arg import load_for
    from asterisk_textback.errors import ProviderError

    loaded = load_for(args)
    try:
        result = asyncio.run(send_test(loaded, args.number, args.text))
    except ProviderError as exc:
        print(f"not sent: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"sent via {result.provider}: message id {result.provider_message_id}")
    return 0


async def send_test(
    loaded: PreparedConfig, number: str, text: str, environ: Mapping[str, str] | None = None
) -> SendResult:
    """Send one real text through the configured provider (not through the outbox)."""
    import asyncio
    import os
    import time

    import aiohttp

    from asterisk_textback.ami.connection import AmiConnection
    from asterisk_textback.errors import TextbackError
    from asterisk_textback.policy import parse_caller
    from asterisk_textback.sms.base import OutboundSms
    from asterisk_textback.sms.registry import Resources, build_provider

    env = os.environ if environ is None else environ
    settings = loaded.settings
    caller = parse_caller(number, settings.business.default_region)
    if caller.e164 is None:
        raise TextbackError(f"{number!r} is not a valid phone number ({caller.kind})")
    # Only the SIP trunk adapter sends over AMI; the others must not need the PBX.
    conn = (
        AmiConnection(settings.pbx, environ=env) if settings.provider.name == "sip_trunk" else None
    )
    try:
        if conn is not None:
            await conn.start()
            async with asyncio.timeout(settings.pbx.connect_timeout * 2):
                await conn.wait_ready()
        async with aiohttp.ClientSession() as http:
            provider = build_provider(settings.provider, Resources(http, env, conn))
            sms = OutboundSms(
                message_id=0,
                idempotency_key=f"send-test:{caller.e164}:{int(time.time())}",
                to=caller.e164,
                sender=settings.provider.default_sender,
                body=text,
            )
            return await provider.send(sms)
    finally:
        if conn is not None:
            await conn.close()
