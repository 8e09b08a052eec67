"""Config errors an admin can act on: the line, "did you mean", the templates there are.

Each test writes a real file and runs a real command (or ``load_settings``) on it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from asterisk_textback.cli.main import main
from asterisk_textback.config import TomlLines, load_settings
from asterisk_textback.errors import ConfigError


def _error(tmp_path: Path, body: str, name: str = "acme.toml") -> str:
    path = tmp_path / name
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    return str(info.value)


def test_a_nested_typo_names_the_key_the_line_and_the_fix(tmp_path: Path) -> None:
    body = '[business]\nname = "Acme"\n\n[web.dashbord]\nusername = "admin"\n'
    error = _error(tmp_path, body)
    assert error == (
        f"{tmp_path / 'acme.toml'} line 4: unknown key 'web.dashbord': "
        "did you mean 'web.dashboard'?"
    )


def test_a_top_level_typo_and_a_key_typo_in_an_array_of_tables(tmp_path: Path) -> None:
    body = (
        '[[rules]]\ntemplate = "busy"\n\n[[rules]]\ntemplat = "busy"\n\n[bussiness]\nname = "x"\n'
    )
    error = _error(tmp_path, body)
    assert "line 5: unknown key 'rules[1].templat': did you mean 'rules[1].template'?" in error
    assert "line 7: unknown key 'bussiness': did you mean 'business'?" in error


def test_a_typo_inside_a_template_of_ones_own(tmp_path: Path) -> None:
    body = '[templates.welcome]\n[[templates.welcome.variants]]\nname = "a"\nbdy = "Hi"\n'
    error = _error(tmp_path, body)
    assert "line 4: unknown key 'templates.welcome.variants[0].bdy'" in error
    assert "did you mean 'templates.welcome.variants[0].body'?" in error


def test_an_unknown_key_with_no_near_miss_lists_the_keys(tmp_path: Path) -> None:
    error = _error(tmp_path, "[kpi]\nfoo = 1\n")
    assert "line 2: unknown key 'kpi.foo' (the keys of [kpi] are: attribution_window_days," in error
    assert "average_order_value" in error


def test_a_bad_value_in_an_inline_table_gives_its_line(tmp_path: Path) -> None:
    body = (
        '[business]\nname = "Acme"\ntimezone = "America/New_York"\n'
        'hours = { mon = ["25:00-26:00"] }\n'
    )
    error = _error(tmp_path, body)
    assert error.startswith(f"{tmp_path / 'acme.toml'} line 4: business.hours.mon[0]: ")


def test_a_validator_naming_its_own_key_is_not_named_twice(tmp_path: Path) -> None:
    body = '[pbx]\nname = "a"\n\n[[pbxes]]\nname = "b"\n\n[[pbxes]]\nname = "a"\n'
    error = _error(tmp_path, body)
    assert error.startswith(f"{tmp_path / 'acme.toml'} line 8: pbxes[1].name: 'a' is already used")
    assert "Value error" not in error


def test_the_twilio_sid_is_explained_in_words(tmp_path: Path) -> None:
    body = '[provider]\nname = "twilio"\n\n[provider.twilio]\naccount_sid = "AC123"\n'
    error = _error(tmp_path, body)
    assert error == (
        f"{tmp_path / 'acme.toml'} line 5: provider.twilio.account_sid: must be 'AC' followed "
        "by 32 hex digits (it is on the Twilio console's home page)"
    )


@pytest.mark.parametrize(
    ("section", "words"),
    [
        (
            '[provider.twilio]\naccount_sid = "AC'
            + "0" * 32
            + '"\nmessaging_service_sid = "MG1"\n',
            "provider.twilio.messaging_service_sid: must be 'MG' followed by 32 hex digits",
        ),
        (
            '[provider.signalwire]\nspace = "my space"\n'
            'project_id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"\n',
            "provider.signalwire.space: must be your Space name",
        ),
        (
            '[provider.signalwire]\nspace = "acme"\nproject_id = "1234"\n',
            "provider.signalwire.project_id: must be the Project ID: 32 hex digits in groups",
        ),
        (
            '[provider.telnyx]\npublic_key = "abc"\n',
            "provider.telnyx.public_key: must be the account's public key",
        ),
        (
            '[[crm.endpoints]]\nname = "my crm"\nurl = "https://x.example"\nsecret_env = "K"\n',
            "crm.endpoints[0].name: use only letters, digits",
        ),
    ],
)
def test_every_vendor_id_check_reads_as_words(tmp_path: Path, section: str, words: str) -> None:
    error = _error(tmp_path, section)
    assert words in error
    assert "pattern" not in error
    assert "[0-9" not in error
    assert "^" not in error


def test_a_missing_template_lists_the_ones_there_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "acme.toml"
    cfg.write_text(
        '[templates.welcome]\n[[templates.welcome.variants]]\nname = "a"\nbody = "Hi"\n\n'
        '[[rules]]\nwhen = "after_hours"\ntemplate = "after_hours"\n\n'
        '[[rules]]\ntemplate = "welcom"\n'
    )
    assert main(["templates", "preview", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert f"{cfg} line 11: rules[1].template: template 'welcom' not found; templates are: " in err
    assert "missed_voicemail, missed_no_voicemail, after_hours, busy, queue_abandon, welcome" in err
    assert "(did you mean 'welcome'?)" in err
    assert "Traceback" not in err


def test_a_templates_option_typo_says_did_you_mean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "textback.toml"
    cfg.write_text("[templates]\nmax_segment = 3\n")
    assert main(["templates", "preview", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert f"{cfg} line 2: unknown key 'templates.max_segment': did you mean " in err
    assert "'templates.max_segments'?" in err


def test_the_line_scan_follows_arrays_of_tables_dotted_keys_and_comments() -> None:
    text = (
        "# [pbx]\n"  # 1: commented out, not a table
        "[pbx]\n"  # 2
        "host = 'x'  # comment = not a key\n"  # 3
        "[[templates.a.variants]]\n"  # 4
        'name = "one"\n'  # 5
        "[[templates.a.variants]]\n"  # 6
        'name = "two"\n'  # 7
        "[provider]\n"  # 8
        'twilio.account_sid = "AC1"\n'  # 9
        'senders = { "5550200" = "+1555", other = "+1666" }\n'  # 10
    )
    lines = TomlLines(text, "t.toml")
    assert lines.line(("pbx",)) == 2
    assert lines.line(("pbx", "host")) == 3
    assert lines.line(("pbx", "port")) == 2  # not in the file: its table's line
    assert lines.line(("templates", "a", "variants", 1, "name")) == 7
    assert lines.line(("templates", "a", "variants", 0, "body")) == 4
    assert lines.line(("provider", "twilio", "account_sid")) == 9
    assert lines.line(("provider", "senders", "other")) == 10
    assert lines.line(("web", "port")) is None
    assert lines.where("templates.a.variants[1].name") == "t.toml line 7: "
    assert lines.where("kpi.currency") == ""


def test_a_template_that_does_not_compile_gives_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "acme.toml"
    cfg.write_text(
        '[business]\nname = "Acme"\n\n[[templates.busy.variants]]\nname = "a"\n'
        'body = "Book: {{ bookng_link }}"\n'
    )
    assert main(["templates", "preview", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert f"{cfg} line 6: templates.busy.variants[0].body: " in err
    assert "bookng_link" in err
