"""What ``check`` and ``templates preview`` print about the HELP/STOP answers and first texts.

``check`` runs for real (``main``), against a PBX port nobody listens on: the lines about
the words come first and do not need the PBX. A bad HELP answer stops ``run``'s loader but
not ``check``, which names each miss on a line of its own, one fix under each.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from asterisk_textback.cli.check_carrier import carrier_lines, first_text_lines
from asterisk_textback.cli.check_report import format_results
from asterisk_textback.cli.main import main
from asterisk_textback.config import settings_from_mapping
from tests.app.checkfmt import assert_one_fix_per_fail, blocks

BAD_HELP = 'help_text = "{business}: call us at {contact}."\n'
PROMO = (
    '[[templates.missed_no_voicemail.variants]]\nname = "a"\n'
    'body = "Sorry we missed your call at {{ business_name }}."\n'
    '[[templates.missed_no_voicemail.variants]]\nname = "b"\n'
    'body = "Missed you! FREE estimate, only $49 this week - {{ business_name }}"\n'
)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _config(tmp_path: Path, consent: str = "", templates: str = "") -> Path:
    path = tmp_path / "acme.toml"
    path.write_text(
        f'[pbx]\nport = {_closed_port()}\nsecret = "x"\nconnect_timeout = 0.5\n'
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "acme.db"}"\n'
        '[business]\nname = "Acme Plumbing"\nbooking_link = "https://acme.example/book"\n'
        '[provider]\ndefault_sender = "+12125550100"\n'
        f'[consent]\ncontact = "+1 212 555 0100"\n{consent}'
        f"{templates}"
    )
    return path


def _words_lines(out: str) -> list[tuple[str, str, list[str]]]:
    return [b for b in blocks(out) if b[1] in ("carrier rules", "first texts")]


def test_check_names_each_miss_with_one_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, BAD_HELP)
    assert main(["check", "-c", str(config)]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert_one_fix_per_fail(out)
    carrier = [b for b in _words_lines(out) if b[1] == "carrier rules"]
    assert [(status, lines[0]) for status, _, lines in carrier] == [
        (
            "FAIL",
            "[FAIL] carrier rules: help answer: no message frequency ('Msg frequency varies')",
        ),
        ("FAIL", "[FAIL] carrier rules: help answer: no 'Msg & data rates may apply'"),
        (
            "FAIL",
            "[FAIL] carrier rules: help answer: no stop instructions ('Reply STOP to opt out')",
        ),
    ]
    first = "\n".join(carrier[0][2])
    assert "it sends: Acme Plumbing: call us at +1 212 555 0100." in first
    # The compliant wording, built from the config, in the first fix; a pointer after it.
    assert (
        "(it sends: Acme Plumbing: help at +1 212 555 0100 or acme.example. Msg frequency "
        "varies. Msg & data rates may apply. Reply STOP to opt out.)"
    ) in first
    assert 'set consent.help_text = "{business}: help at {contact} or acme.example.' in first
    assert carrier[1][2][-1].strip() == "fix: the consent.help_text offered above has it"
    # The rest of the checks still ran.
    assert "[PASS] config:" in out
    assert "[FAIL] ami:" in out


def test_check_passes_the_built_in_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["check", "-c", str(_config(tmp_path))])
    out, _ = capsys.readouterr()
    assert [(s, n) for s, n, _ in _words_lines(out)] == [
        ("PASS", "carrier rules"),
        ("PASS", "first texts"),
    ]
    assert "[PASS] first texts: no promotional wording in the 5 template(s)" in out


def test_run_refuses_the_bad_answer_at_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, BAD_HELP)
    assert main(["run", "-c", str(config)]) != 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    said = out + err
    line = config.read_text().splitlines().index(BAD_HELP.strip()) + 1
    assert f"{config} line {line}: consent.help_text: carriers refuse this help answer" in said
    assert "no 'Msg & data rates may apply'" in said


def test_warn_mode_warns_and_lets_it_run(tmp_path: Path) -> None:
    settings = settings_from_mapping(
        {"consent": {"help_text": "{business}: call us.", "carrier_rules": "warn"}}
    )
    lines = carrier_lines(settings)
    assert lines
    assert all(line.status == "WARN" for line in lines)
    report = format_results(lines)
    assert report.count("fix:") == len(lines)
    off = settings.model_copy(
        update={"consent": settings.consent.model_copy(update={"carrier_rules": "off"})}
    )
    assert format_results(carrier_lines(off)) == (
        '[PASS] carrier rules: not checked (consent.carrier_rules = "off")'
    )


def test_a_stop_confirmation_with_marketing_fails_in_check() -> None:
    settings = settings_from_mapping(
        {"consent": {"opt_out_text": "{business}: done, no more texts. Book now: acme.example"}}
    )
    report = format_results(carrier_lines(settings, "acme.toml"))
    assert report.splitlines()[0] == (
        "[FAIL] carrier rules: stop confirmation: a link ('acme.example'): no marketing allowed"
    )
    assert "[FAIL] carrier rules: stop confirmation: a call to action ('book now')" in report
    assert 'fix: set consent.opt_out_text = "{business}: you are unsubscribed and will' in report
    assert_one_fix_per_fail(report)


def test_check_warns_about_a_promotional_first_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["check", "-c", str(_config(tmp_path, templates=PROMO))])
    out, _ = capsys.readouterr()
    [(status, _, lines)] = [b for b in _words_lines(out) if b[1] == "first texts"]
    assert status == "WARN"
    assert lines[0] == (
        "[WARN] first texts: template missed_no_voicemail/b: promotional words in a first "
        "text: 'free', '$49': promotional content needs express written consent "
        "(47 CFR 64.1200(a)(2))"
    )
    assert lines[1].strip().startswith("fix: keep a first text about the call")


def test_preview_warns_naming_the_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["templates", "preview", "-c", str(_config(tmp_path, BAD_HELP, PROMO))]) == 0
    out, _ = capsys.readouterr()
    warnings = [line for line in out.splitlines() if line.startswith("[WARN]")]
    assert warnings == [
        "[WARN] template missed_no_voicemail/b: promotional words in a first text: 'free', "
        "'$49': promotional content needs express written consent (47 CFR 64.1200(a)(2))"
    ]


def test_preview_of_informational_templates_warns_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["templates", "preview", "-c", str(_config(tmp_path))]) == 0
    assert "[WARN]" not in capsys.readouterr().out


def test_first_text_lines_one_per_variant() -> None:
    settings = settings_from_mapping(
        {"agi": {"enabled": True}, "templates": {"footer": "Deals at acme.example. STOP=quit"}}
    )
    assert [line.detail for line in first_text_lines(settings)] == [
        "templates.footer: promotional words in a first text: 'deals': promotional content "
        "needs express written consent (47 CFR 64.1200(a)(2))"
    ]


def test_an_unset_business_name_is_a_warning() -> None:
    [line] = carrier_lines(settings_from_mapping({}))
    assert line.status == "WARN"
    assert line.detail == ("business.name is not set: the HELP and STOP answers say 'our office'")
    assert "business.name" in line.fix
    named = settings_from_mapping({"business": {"name": "Acme Plumbing"}})
    assert [line.status for line in carrier_lines(named)] == ["PASS"]
