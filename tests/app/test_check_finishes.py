"""``check`` always finishes: every line printed, every unset variable at once, one fix per
FAIL, the provider's refusal in words, the sample webhook URL a WARN, the file named as given,
and no traceback for any failure (through ``main`` and as a subprocess)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from asterisk_textback.cli.check_report import CheckResult, format_results
from asterisk_textback.cli.checks import _guarded, run_checks
from asterisk_textback.cli.main import main
from asterisk_textback.config import settings_from_mapping
from asterisk_textback.store.schema import upgrade
from asterisk_textback.textback.loading import PreparedConfig, prepare
from tests.app.checkfmt import assert_one_fix_per_fail, line_of, status_of
from tests.sms.fake_twilio import Reply, fake_twilio

SID = "AC" + "0123456789abcdef" * 2
UNSET = ("AMI_SECRET", "TWILIO_AUTH_TOKEN", "BOOKINGS_KEY")
ALL_CHECKS = [
    "config",
    "carrier rules",
    "first texts",
    "environment",
    "database",
    "ami",
    "pbx clock",
    "ami classes",
    "dialplan",
    "provider",
    "webhooks",
]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _toml(tmp_path: Path, *, db: str | None = None, public: str = "https://sms.example.com") -> str:
    url = db or f"sqlite+aiosqlite:///{tmp_path / 'acme.db'}"
    return (
        f'[pbx]\nport = {_closed_port()}\nsecret_env = "AMI_SECRET"\nconnect_timeout = 0.5\n'
        f'[database]\nurl = "{url}"\n'
        '[provider]\nname = "twilio"\ndefault_sender = "+15555550100"\n'
        f'[provider.twilio]\naccount_sid = "{SID}"\n'
        f'[web.webhooks]\npublic_base_url = "{public}"\n'
        '[bookings]\ngeneric_secret_env = "BOOKINGS_KEY"\n'
    )


@pytest.fixture
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``acme.toml`` naming three variables, none of them set."""
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "acme.toml"
    path.write_text(_toml(tmp_path))
    return path


def test_three_unset_variables_are_one_fail_line_and_every_check_still_prints(
    acme: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "-c", str(acme)]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert err == ""
    assert_one_fix_per_fail(out)
    assert list(status_of(out)) == ALL_CHECKS
    env_lines = [line for line in out.splitlines() if line.startswith("[FAIL] environment")]
    assert env_lines == [
        "[FAIL] environment: AMI_SECRET, TWILIO_AUTH_TOKEN, BOOKINGS_KEY are not set"
    ]
    fix = line_of(out, "environment")
    for key in ("pbx.secret_env", "provider.twilio.auth_token_env", "bookings.generic_secret_env"):
        assert key in fix
    assert status_of(out)["provider"] == "SKIP"
    assert "[FAIL] ami: no AMI: connection refused" in out  # reached for, without a login
    # The file is the one given, everywhere.
    assert f"[PASS] config: {acme} is valid" in out
    assert f"db upgrade -c {acme}" in out
    assert "textback.toml" not in out


def test_run_refuses_naming_every_unset_variable_at_once(
    acme: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "-c", str(acme)]) == 2
    err = capsys.readouterr().err
    assert "environment: AMI_SECRET, TWILIO_AUTH_TOKEN, BOOKINGS_KEY are not set" in err
    assert "Traceback" not in err


def test_a_bad_config_is_one_fail_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "acme.toml"
    path.write_text("[pbx]\nport = 'five'\n")
    assert main(["check", "-c", str(path)]) == 1
    out = capsys.readouterr().out
    expected = f"[FAIL] config: {path} line 2: pbx.port: Input should be a valid integer"
    assert out.startswith(expected)
    assert f"fix: correct it in {path}, then run check again" in out
    assert_one_fix_per_fail(out)


def _loaded(tmp_path: Path, api: str, public: str = "https://sms.example.com") -> PreparedConfig:
    return prepare(
        settings_from_mapping(
            {
                "pbx": {"port": _closed_port(), "connect_timeout": 0.5},
                "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 't.db'}"},
                "provider": {
                    "name": "twilio",
                    "default_sender": "+15555550100",
                    "twilio": {"account_sid": SID, "api_base_url": api},
                },
                "web": {"webhooks": {"public_base_url": public}},
            }
        )
    )


async def _report(loaded: PreparedConfig, token: str) -> str:
    report = format_results(await run_checks(loaded, {"TWILIO_AUTH_TOKEN": token}, watch=0))
    assert_one_fix_per_fail(report)
    assert list(status_of(report)) == ALL_CHECKS
    return report


async def test_a_provider_refusal_is_said_once_in_words_with_one_fix(tmp_path: Path) -> None:
    async with fake_twilio(SID, "right") as twilio:
        ok = await _report(_loaded(tmp_path, twilio.url), "right")
        refused = await _report(_loaded(tmp_path, twilio.url), "wrong")
        twilio.script = [Reply(500, text="<html><body><h1>Oops, our fault</h1></body></html>")]
        broken = await _report(_loaded(tmp_path, twilio.url), "right")
    assert "[PASS] provider: twilio: account 'Acme Plumbing' active" in ok
    line = line_of(refused, "provider")
    assert line.startswith(
        "[FAIL] provider: twilio: HTTP 401 Unauthorized, twilio error 20003: "
        "authentication failed: check the account SID and auth token\n"
        "       fix: check provider.twilio.account_sid and the token in auth_token_env"
    ), line
    assert "twilio: twilio" not in line
    assert "None" not in line
    line = line_of(broken, "provider")
    assert "HTTP 500 Internal Server Error: Oops, our fault" in line
    assert "<html>" not in line


async def test_a_provider_that_cannot_be_reached_is_a_fail_line(tmp_path: Path) -> None:
    dns = await _report(_loaded(tmp_path, "http://api.no-such-host.invalid"), "t")
    assert "api.no-such-host.invalid: its name does not resolve (DNS)" in line_of(dns, "provider")
    refused = await _report(_loaded(tmp_path, f"http://127.0.0.1:{_closed_port()}"), "t")
    assert "[FAIL] provider: twilio: cannot connect to 127.0.0.1" in refused


async def test_the_sample_webhook_url_is_a_warn(tmp_path: Path) -> None:
    sample = await _report(_loaded(tmp_path, "http://127.0.0.1:9"), "t")
    assert line_of(sample, "webhooks") == (
        "[WARN] webhooks: web.webhooks.public_base_url is still the sample "
        "(https://sms.example.com): twilio cannot reach it\n"
        "       fix: set it to the https URL twilio can reach (your TLS proxy in front of "
        "web.port)"
    )
    local = await _report(_loaded(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:8088"), "t")
    assert "[WARN] webhooks: web.webhooks.public_base_url is a local address" in local
    real = await _report(_loaded(tmp_path, "http://127.0.0.1:9", "https://sms.acme.biz"), "t")
    assert "[PASS] webhooks: set https://sms.acme.biz/webhooks/twilio in the twilio console" in real


async def test_an_up_to_date_database_passes_and_names_no_password(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, "http://127.0.0.1:9")
    await upgrade(loaded.settings.database.url)
    report = await _report(loaded, "t")
    assert status_of(report)["database"] == "PASS"


@pytest.mark.parametrize(
    "db",
    [
        # A file where a folder must be: not even root can create the database's folder.
        "sqlite+aiosqlite:///{tmp}/blocker/sub/acme.db",
        "postgresql+asyncpg://textback:pw@127.0.0.1:{port}/textback",
        "notadriver://x",
        "sqlite+aiosqlite:///{tmp}",  # a directory, not a database file
    ],
)
def test_no_failure_prints_a_traceback_as_a_subprocess(tmp_path: Path, db: str) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(_toml(tmp_path, db=db.format(port=_closed_port(), tmp=tmp_path)))
    (tmp_path / "blocker").write_text("not a folder")
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    done = subprocess.run(
        [sys.executable, "-m", "asterisk_textback", "check", "-c", str(path)],
        capture_output=True,
        text=True,
        env={**env, "TWILIO_AUTH_TOKEN": "t"},
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    assert done.returncode == 1
    assert done.stderr == ""
    assert_one_fix_per_fail(done.stdout)
    assert list(status_of(done.stdout)) == ALL_CHECKS
    assert status_of(done.stdout)["database"] == "FAIL"
    database = line_of(done.stdout, "database")
    assert "pw" not in database.replace("password", "")
    if "blocker" in db:
        assert f"{tmp_path}/blocker" in database
        assert "cannot create it (Not a directory)" in database


async def test_an_unforeseen_error_is_a_fail_line_with_its_fix() -> None:
    async def broken() -> CheckResult:
        raise RuntimeError("boom\nsecond line")

    line = format_results([await _guarded("provider", broken)])
    assert line == (
        "[FAIL] provider: unexpected RuntimeError: boom\n"
        "       fix: run `check -v` and report this line with it"
    )
