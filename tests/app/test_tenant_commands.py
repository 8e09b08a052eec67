"""``--tenant ID`` on the commands that read or write a business's rows.

On SQLite (a file per tenant) and PostgreSQL (a schema per tenant, named in the tenant's
``database.url`` as ``?textback_schema=``): an opt-out added for one tenant is in that
tenant's list and export only; the consent export and the previews take the tenant's own
settings; an unknown tenant is one line naming the tenants there are.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from asterisk_textback.cli.main import main

CALLER = "+12125550123"


def _install(tmp_path: Path, url: str) -> Path:
    main_file = tmp_path / "textback.toml"
    main_file.write_text(
        f'[database]\nurl = "{url}"\n[business]\nname = "Main Office"\ntimezone = "UTC"\n'
    )
    folder = tmp_path / "tenants.d"
    folder.mkdir()
    (folder / "acme.toml").write_text(
        '[pbx]\nhost = "10.0.0.5"\n[tenant]\nname = "Acme Dental"\n'
        '[business]\nname = "Acme Dental"\n'
    )
    return main_file


def test_an_opt_out_belongs_to_the_tenant_named(
    tmp_path: Path, empty_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(_install(tmp_path, empty_url))
    assert main(["db", "upgrade", "-c", config]) == 0
    assert main(["optout", "add", "-c", config, "--tenant", "acme", CALLER]) == 0
    capsys.readouterr()

    assert main(["optout", "list", "-c", config, "--tenant", "acme"]) == 0
    assert CALLER in capsys.readouterr().out
    assert main(["optout", "list", "-c", config]) == 0
    assert CALLER not in capsys.readouterr().out
    assert main(["optout", "list", "-c", config, "--tenant", "default"]) == 0
    assert CALLER not in capsys.readouterr().out

    # The default tenant's own opt-out stays its own too.
    assert main(["optout", "add", "-c", config, "+12125550999"]) == 0
    capsys.readouterr()
    assert main(["optout", "export", "-c", config, "--tenant", "acme"]) == 0
    exported = capsys.readouterr().out
    assert CALLER in exported
    assert "+12125550999" not in exported


def test_previews_use_the_tenants_settings(
    tmp_path: Path, empty_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(_install(tmp_path, empty_url))
    assert main(["templates", "preview", "-c", config, "--tenant", "acme"]) == 0
    acme = capsys.readouterr().out
    assert main(["templates", "preview", "-c", config]) == 0
    plain = capsys.readouterr().out
    assert "Acme Dental" in acme
    assert "Acme Dental" not in plain
    assert "Main Office" in plain


def test_an_unknown_tenant_is_one_line(
    tmp_path: Path, empty_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(_install(tmp_path, empty_url))
    assert main(["optout", "list", "-c", config, "--tenant", "nobody"]) == 2
    err = capsys.readouterr().err
    assert "no tenant 'nobody'; the tenants are: default, acme" in err
    assert "Traceback" not in err
