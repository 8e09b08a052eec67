"""Logs without PII (issue 13, item 11): numbers masked at every level unless ``--log-pii``;
SQL parameters never logged by default."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from asterisk_textback.ami.framing import FrameParser
from asterisk_textback.cli.main import build_parser
from asterisk_textback.logs import mask as logsafe
from asterisk_textback.outbox.dispatcher import Dispatcher
from asterisk_textback.outbox.settings import DispatchSettings
from asterisk_textback.sms.settings import ProviderSettings, WebhookSettings
from asterisk_textback.sms.vendors.webhook import WebhookProvider
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.schema import upgrade
from tests.app.fakes import Reply, fake_gateway
from tests.app.queued import queue_texts

#: ``queue_texts`` texts +1212555<1000+i>; the first one, in full and masked.
NUMBER = "+12125551000"
MASKED = "+1•••••1000"


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What a ``run`` with no ``--log-pii`` writes to its log (root handler, our setup)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        logsafe.setup(0, default=logging.INFO)
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        logsafe.setup(0)  # back to masked numbers for the tests that follow


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+12125550666", "+1•••••0666"),
        ("+4915112345678", "+49•••••5678"),
        ("+3725123456", "+372•••••3456"),
        ("+1 (212) 555-0666", "+1•••••0666"),
        ("2125550666", "•••••0666"),
        ("1001", "1001"),  # an extension is nobody's private number
        ("anonymous", "anonymous"),
        ("", ""),
    ],
)
def test_mask_keeps_the_country_code_and_last_four(number: str, masked: str) -> None:
    assert logsafe.mask(number) == masked


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("to +12125550666: HTTP 400", "to +1•••••0666: HTTP 400"),
        ('{"to": "+4915112345678"}', '{"to": "+49•••••5678"}'),
        ("CallerIDNum: 4155550199\r\n", "CallerIDNum: •••••0199\r\n"),
        ("sip:+12125550666@carrier", "sip:+1•••••0666@carrier"),
        ("(212) 555-0666 or 212-555-0666", "•••••0666 or •••••0666"),
        # Not numbers of people: ids, times, versions, channel names stay readable.
        ("call 1795757475.63 ended", "call 1795757475.63 ended"),
        ("at 2026-11-27 05:40:05", "at 2026-11-27 05:40:05"),
        ("PJSIP/trunk-0000003f Local/1001@ext-local-00000000;2", None),
        ("aiohttp 3.12.14, took 1234567 ms", None),
    ],
)
def test_mask_text_finds_numbers_in_free_text(line: str, expected: str | None) -> None:
    assert logsafe.mask_text(line) == (line if expected is None else expected)


def test_filter_masks_arguments_and_exceptions(log_output: io.StringIO) -> None:
    log = logging.getLogger("some.library")
    log.error("cannot text %s", NUMBER)
    try:
        raise ValueError(f"The 'To' number {NUMBER} is not valid")
    except ValueError:
        log.exception("send failed")
    out = log_output.getvalue()
    assert NUMBER not in out
    assert out.count(MASKED) == 2
    assert "ValueError: The 'To' number +1•••••1000 is not valid" in out


async def test_a_warning_from_the_dispatcher_has_no_full_number(
    tmp_path: Path, log_output: io.StringIO
) -> None:
    """A provider refusing the number (and echoing it, as Twilio does) logs a WARNING."""
    url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    await upgrade(url)
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    try:
        await queue_texts(sessions, 1)
        async with fake_gateway() as gateway, aiohttp.ClientSession() as http:
            gateway.script = [
                Reply(400, {"error": "invalid_number", "message": f"'To' {NUMBER} is invalid"})
            ]
            hook = WebhookSettings.model_validate({"url": gateway.url})
            dispatcher = Dispatcher(
                sessions,
                WebhookProvider(hook, http, None),
                DispatchSettings(poll_seconds=0.02),
                ProviderSettings(),
            )
            task = asyncio.create_task(dispatcher.run())
            async with asyncio.timeout(5):
                while dispatcher.stats.failed < 1:  # noqa: ASYNC110 - dispatcher counter
                    await asyncio.sleep(0.02)
            dispatcher.stop()
            await task
    finally:
        await engine.dispose()
    out = log_output.getvalue()
    warnings = [line for line in out.splitlines() if " WARNING " in line]
    assert any(f"to {MASKED} failed" in line for line in warnings), out
    assert f"'To' {MASKED} is invalid" in out  # the provider's own text, masked by the filter
    assert NUMBER not in out
    assert "2125551000" not in out


def test_log_pii_shows_numbers_in_full(log_output: io.StringIO) -> None:
    assert logsafe.phone(NUMBER) == MASKED
    logsafe.setup(0, log_pii=True)
    assert logsafe.phone(NUMBER) == NUMBER
    assert logsafe.showing_pii()
    assert build_parser().parse_args(["run", "-c", "x.toml", "--log-pii"]).log_pii is True
    assert build_parser().parse_args(["run", "-c", "x.toml"]).log_pii is False


async def _logged_sql(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> str:
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT :number"), {"number": NUMBER})
    finally:
        await engine.dispose()
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("sqlalchemy"))


async def test_sql_parameters_are_hidden_by_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    logged = await _logged_sql(tmp_path, caplog)
    assert "SELECT ?" in logged
    assert "SQL parameters hidden" in logged
    assert NUMBER not in logged


async def test_sql_parameters_are_logged_only_with_log_pii(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    logsafe.setup(2, log_pii=True)
    try:
        logged = await _logged_sql(tmp_path, caplog)
    finally:
        logsafe.setup(0)
    assert NUMBER in logged


def test_no_sql_statements_in_the_log_below_vv() -> None:
    logsafe.setup(1)
    assert not logging.getLogger("sqlalchemy.engine").isEnabledFor(logging.INFO)
    logsafe.setup(2)
    assert logging.getLogger("sqlalchemy.engine").isEnabledFor(logging.INFO)
    logsafe.setup(0)


def test_filter_is_not_installed_twice(log_output: io.StringIO) -> None:
    logsafe.setup(0)
    logsafe.setup(0)
    (handler,) = (
        h for h in logging.getLogger().handlers if getattr(h, "stream", None) is log_output
    )
    assert sum(isinstance(f, logsafe.MaskNumbers) for f in handler.filters) == 1


def test_run_v_turns_on_our_debug_reasoning() -> None:
    logsafe.setup(1, default=logging.INFO)
    assert logging.getLogger("asterisk_textback.calls.tracker").isEnabledFor(logging.DEBUG)
    logsafe.setup(0, default=logging.INFO)
    assert logging.getLogger("asterisk_textback.logs.activity").isEnabledFor(logging.INFO)
    assert not logging.getLogger("asterisk_textback.calls.tracker").isEnabledFor(logging.DEBUG)


def test_a_broken_ami_frame_warning_has_no_full_number(log_output: io.StringIO) -> None:
    """The AMI parser logs a frame it cannot use (a hostile PBX's bytes) at WARNING."""
    frame = b"Channel: PJSIP/trunk-00000001\r\nCallerIDNum: 4155550199\r\n\r\n"
    events, _ = FrameParser().feed(frame)
    assert events == []
    out = log_output.getvalue()
    assert " WARNING asterisk_textback.ami.framing: skipping AMI frame" in out
    assert "•••••0199" in out
    assert "4155550199" not in out
