"""``tenancy.files``: tenant files over the main config, each refused on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from asterisk_textback.errors import ConfigError
from asterisk_textback.tenancy.files import load_tenant, load_tenants, tenants_dir
from asterisk_textback.tenancy.merge import deep_merge


def _main(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "textback.toml"
    path.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "main.db"}"\n'
        '[business]\nname = "Main Office"\ntimezone = "America/Chicago"\n'
        "[tracker]\ncall_ttl_seconds = 900\n" + extra
    )
    return path


def _tenant(main: Path, tenant_id: str, text: str) -> Path:
    folder = main.parent / "tenants.d"
    folder.mkdir(exist_ok=True)
    path = folder / f"{tenant_id}.toml"
    path.write_text(text)
    return path


HASH = "scrypt$32768$8$1$GG3O9WzBBIyYaToQLTbsUg$g2XmJcQXXcvVNAJn70wgPXNaMmrmiS4DZBzxC7v-JJI"

#: A tenant with a PBX of its own: shares nothing with the main config's business.
OWN_PBX = '[pbx]\nhost = "10.0.0.{n}"\n'


def test_no_tenant_folder_is_the_single_business(tmp_path: Path) -> None:
    found = load_tenants(_main(tmp_path))
    assert [t.id for t in found.tenants] == ["default"]
    assert found.tenants[0].path is None
    assert found.refused == ()
    assert found.tenants[0].loaded is found.main


def test_a_tenant_file_is_merged_over_the_main_config(tmp_path: Path) -> None:
    main = _main(tmp_path, '[web.webhooks]\npublic_base_url = "https://tb.example.com"\n')
    _tenant(
        main,
        "acme-dental",
        OWN_PBX.format(n=5) + '[tenant]\nname = "Acme Dental"\n[business]\nname = "Acme Dental"\n'
        '[tracker]\ntrunk_contexts = ["from-acme"]\n',
    )
    found = load_tenants(main)
    assert [t.id for t in found.tenants] == ["default", "acme-dental"]
    acme = found.tenants[1].loaded.settings
    assert found.tenants[1].name == "Acme Dental"
    # Tables merged key by key: the main's timezone and TTL stay, the name is the tenant's.
    assert acme.business.name == "Acme Dental"
    assert acme.business.timezone == "America/Chicago"
    assert acme.tracker.call_ttl_seconds == 900
    # Arrays replaced, not appended to.
    assert acme.tracker.trunk_contexts == ("from-acme",)
    assert acme.pbx.host == "10.0.0.5"
    assert acme.database.url.endswith(f"{tmp_path}/tenants/acme-dental.db")
    assert found.main.settings.database.url.endswith("main.db")
    assert acme.web.webhooks.public_base_url == "https://tb.example.com"
    assert found.tenants[1].path == tmp_path / "tenants.d" / "acme-dental.toml"


def test_deep_merge_replaces_arrays_and_the_did_senders_whole() -> None:
    base = {"a": {"b": 1, "c": [1, 2], "d": {"x": 1}}, "k": 1, "provider": {"senders": {"1": "2"}}}
    top = {"a": {"c": [3], "d": {}}, "n": 2, "provider": {"senders": {"3": "4"}}}
    assert deep_merge(base, top) == {
        "a": {"b": 1, "c": [3], "d": {"x": 1}},
        "k": 1,
        "n": 2,
        "provider": {"senders": {"3": "4"}},
    }
    assert base["a"] == {"b": 1, "c": [1, 2], "d": {"x": 1}}
    hours = {"business": {"name": "M", "hours": {"mon": ["08:00-12:00"], "sat": ["09:00-12:00"]}}}
    mine = {"business": {"hours": {"mon": ["07:00-11:00"]}}}
    assert deep_merge(hours, mine) == {"business": {"name": "M", "hours": {"mon": ["07:00-11:00"]}}}


def test_files_load_in_id_order_and_main_business_false_has_no_default(tmp_path: Path) -> None:
    main = _main(tmp_path, "[tenants]\nmain_business = false\n")
    _tenant(main, "zeta", OWN_PBX.format(n=9))
    _tenant(main, "alpha", OWN_PBX.format(n=8))
    found = load_tenants(main)
    assert [t.id for t in found.tenants] == ["alpha", "zeta"]
    with pytest.raises(ConfigError, match="main_business = false"):
        load_tenant(main, "default")


def test_the_tenant_folder_follows_tenants_directory(tmp_path: Path) -> None:
    main = _main(tmp_path, '[tenants]\ndirectory = "clients"\n')
    found = load_tenants(main)
    assert tenants_dir(main, found.main.settings) == tmp_path / "clients"
    (tmp_path / "clients").mkdir()
    (tmp_path / "clients" / "bob.toml").write_text(OWN_PBX.format(n=3))
    assert [t.id for t in load_tenants(main).tenants] == ["default", "bob"]


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ('[database]\nurl = "sqlite+aiosqlite:///x.db"\n', "database", 1),
        ("[tenants]\nmain_business = false\n", "tenants", 1),
        ("[cluster]\nenabled = true\n", "cluster", 1),
        ("[dispatch]\nworkers = 3\n", "dispatch", 1),
        ('[tenant]\nname = "x"\n[web]\nhost = "0.0.0.0"\n', "web.host", 4),
        ("[web]\nport = 9000\n", "web.port", 2),
        ("[web]\nenabled = false\n", "web.enabled", 2),
        ('[web]\ntrusted_proxies = ["10.0.0.1"]\n', "web.trusted_proxies", 2),
        ("# c\n\n[web.console]\nenabled = true\n", "web.console", 3),
    ],
)
def test_keys_of_the_install_are_refused_with_their_line(
    tmp_path: Path, text: str, key: str, line: int
) -> None:
    main = _main(tmp_path)
    path = _tenant(main, "acme", text)
    _tenant(main, "bob", OWN_PBX.format(n=4))
    found = load_tenants(main)
    assert [t.id for t in found.tenants] == ["default", "bob"]
    (refused,) = found.refused
    assert refused.id == "acme"
    assert refused.path == path
    assert refused.reason.startswith(f"{path} line {line}: {key}: set in the main config only (")
    with pytest.raises(ConfigError, match="set in the main config only"):
        load_tenant(main, "acme")


def test_a_validation_error_gives_the_tenant_files_line(tmp_path: Path) -> None:
    main = _main(tmp_path)
    path = _tenant(main, "acme", OWN_PBX.format(n=5) + "\n[business]\nname_x = 'A'\n")
    (refused,) = load_tenants(main).refused
    assert refused.reason.startswith(f"{path} line 5: unknown key 'business.name_x'")


def test_a_template_error_gives_the_tenant_files_line(tmp_path: Path) -> None:
    main = _main(tmp_path)
    path = _tenant(
        main,
        "acme",
        OWN_PBX.format(n=5)
        + '[[templates.missed_no_voicemail.variants]]\nname = "a"\nbody = "Hi {{ nope("\n',
    )
    (refused,) = load_tenants(main).refused
    assert refused.reason.startswith(f"{path} line 5: templates.missed_no_voicemail")
    assert "variants[0]" in refused.reason


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("Acme.toml", OWN_PBX.format(n=5), "is not allowed"),
        ("default.toml", OWN_PBX.format(n=5), "is reserved"),
        ("acme.toml", "[pbx\nhost = 1\n", "not valid TOML"),
        ("acme.toml", b"\xff\xfe[pbx]\n", "not UTF-8"),
    ],
)
def test_a_bad_file_is_refused_naming_it(
    tmp_path: Path, name: str, content: str | bytes, words: str
) -> None:
    main = _main(tmp_path)
    folder = tmp_path / "tenants.d"
    folder.mkdir()
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    found = load_tenants(main)
    (refused,) = found.refused
    assert refused.reason.startswith(f"{path}: ")
    assert words in refused.reason
    assert [t.id for t in found.tenants] == ["default"]


def test_an_unreadable_file_is_refused_and_other_files_are_ignored(tmp_path: Path) -> None:
    main = _main(tmp_path)
    folder = tmp_path / "tenants.d"
    folder.mkdir()
    (folder / "gone.toml").symlink_to(tmp_path / "nowhere.toml")
    (folder / "notes.txt").write_text("not a tenant")
    (folder / ".acme.toml.tmp").write_text("[[[")
    (folder / "removed").mkdir()
    (folder / "removed" / "old.toml").write_text("[[[")
    (refused,) = load_tenants(main).refused
    assert refused.reason.startswith(f"{folder / 'gone.toml'}: cannot read tenant file")


def test_a_bad_main_config_raises(tmp_path: Path) -> None:
    main = _main(tmp_path, "[business]\nnope = 1\n")
    with pytest.raises(ConfigError):
        load_tenants(main)
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_tenants(tmp_path / "missing.toml")


def test_a_shared_sender_number_refuses_the_later_tenant(tmp_path: Path) -> None:
    main = _main(tmp_path, '[provider]\ndefault_sender = "+12125550100"\n')
    # Inherited from the main config: the value's origin is said.
    _tenant(main, "acme", OWN_PBX.format(n=5))
    # Its own number; the main's DID senders dropped (senders is replaced whole).
    _tenant(
        main,
        "bob",
        OWN_PBX.format(n=6) + '[provider]\ndefault_sender = "+1 (212) 555-0111"\nsenders = {}\n',
    )
    # The same number as bob, written another way, in a DID map.
    carl = _tenant(
        main,
        "carl",
        OWN_PBX.format(n=7)
        + '[provider]\ndefault_sender = ""\nsenders = { "100" = "12125550111" }\n',
    )
    found = load_tenants(main)
    assert [t.id for t in found.tenants] == ["default", "bob"]
    acme, carl_refused = found.refused
    assert acme.reason.startswith(
        f"{acme.path}: provider.default_sender: +12125550100 is already a sender number of "
        "tenant 'default'"
    )
    assert acme.reason.endswith("(the value comes from the main config)")
    assert carl_refused.reason.startswith(f"{carl} line 5: provider.senders.100: 12125550111")
    assert "tenant 'bob'" in carl_refused.reason


def test_the_same_agi_port_refuses_the_later_tenant(tmp_path: Path) -> None:
    main = _main(tmp_path, "[agi]\nenabled = true\nport = 4573\n")
    _tenant(main, "acme", OWN_PBX.format(n=5) + "[agi]\nport = 4574\n")
    bob = _tenant(main, "bob", OWN_PBX.format(n=6) + "[agi]\nport = 4574\n")
    _tenant(main, "carl", OWN_PBX.format(n=7) + "[agi]\nenabled = false\n")
    dan = _tenant(main, "dan", OWN_PBX.format(n=8))
    found = load_tenants(main)
    assert [t.id for t in found.tenants] == ["default", "acme", "carl"]
    bob_refused, dan_refused = found.refused
    assert bob_refused.reason.startswith(
        f"{bob} line 4: agi.port: 4574 is already the AGI port of tenant 'acme'"
    )
    assert dan_refused.reason.startswith(
        f"{dan}: agi.port: 4573 is already the AGI port of tenant 'default'"
    )


def test_one_pbx_link_needs_dids_or_contexts_to_tell_tenants_apart(tmp_path: Path) -> None:
    main = _main(tmp_path, '[pbx]\nhost = "pbx.example.com"\n')
    _tenant(main, "a-dids", '[tenant]\ndids = ["2125550100"]\n')
    _tenant(main, "b-ctx", '[tracker]\ntrunk_contexts = ["from-b"]\n')
    same = _tenant(main, "c-same", '[tenant]\nname = "C"\n')
    _tenant(main, "d-dids", '[tenant]\ndids = ["2125550101"]\n')
    shared = _tenant(main, "e-dup", '[tenant]\ndids = ["2125550101"]\n')
    user = _tenant(main, "f-user", '[pbx]\nhost = "PBX.example.com"\nusername = "other"\n')
    found = load_tenants(main)
    assert [t.id for t in found.tenants] == ["default", "a-dids", "b-ctx", "d-dids", "f-user"]
    c, e = found.refused
    assert c.path == same
    assert c.reason.startswith(f"{same}: pbx: the PBX link pbx.example.com:5038")
    assert "tenant 'default'" in c.reason
    assert "from-trunk" in c.reason
    assert e.path == shared
    assert e.reason.startswith(f"{shared} line 2: tenant.dids: 2125550101 is already a DID")
    assert user.exists()


def test_an_api_token_variable_belongs_to_one_tenant(tmp_path: Path) -> None:
    main = _main(
        tmp_path, f'[web.dashboard]\npassword_hash = "{HASH}"\napi_token_env = "MAIN_TOKEN"\n'
    )
    _tenant(main, "acme", OWN_PBX.format(n=5))
    bob = _tenant(
        main, "bob", OWN_PBX.format(n=6) + '[web.dashboard]\napi_token_env = "MAIN_TOKEN"\n'
    )
    found = load_tenants(main)
    acme = found.tenants[1].loaded.settings.web.dashboard
    # The main's password and token never open a tenant's dashboard.
    assert acme.password_hash is None
    assert acme.api_token_env == "TEXTBACK_API_TOKEN_ACME"
    (refused,) = found.refused
    assert refused.reason.startswith(f"{bob} line 4: web.dashboard.api_token_env: MAIN_TOKEN")


def test_load_tenant_names_what_is_wrong(tmp_path: Path) -> None:
    main = _main(tmp_path)
    _tenant(main, "acme", OWN_PBX.format(n=5))
    assert load_tenant(main, "acme").loaded.settings.pbx.host == "10.0.0.5"
    assert load_tenant(main, "default").path is None
    with pytest.raises(ConfigError, match=r"no tenant 'nobody': .*tenants.d/nobody.toml"):
        load_tenant(main, "nobody")


def test_postgresql_tenants_name_their_schema_and_memory_sqlite_is_refused(
    tmp_path: Path,
) -> None:
    main = tmp_path / "textback.toml"
    main.write_text('[database]\nurl = "postgresql+asyncpg://u@db/textback"\n')
    _tenant(main, "acme", OWN_PBX.format(n=5))
    found = load_tenants(main)
    # The same database; the URL names the tenant's schema, so whatever opens it is scoped.
    assert (
        found.tenants[1].loaded.settings.database.url
        == "postgresql+asyncpg://u@db/textback?textback_schema=tenant_acme"
    )
    assert found.tenants[0].loaded.settings.database.url == "postgresql+asyncpg://u@db/textback"
    main.write_text('[database]\nurl = "sqlite+aiosqlite:///:memory:"\n')
    (refused,) = load_tenants(main).refused
    assert "not an in-memory one" in refused.reason
    main.write_text('[database]\nurl = "no url at all"\n')
    (refused,) = load_tenants(main).refused
    assert refused.reason.endswith("database.url: 'no url at all' is not a database URL")


def test_the_contrib_example_loads_beside_the_contrib_main_config(tmp_path: Path) -> None:
    contrib = Path(__file__).resolve().parents[2] / "contrib"
    main = tmp_path / "textback.toml"
    main.write_text((contrib / "textback.toml").read_text())
    example = (contrib / "tenants.d" / "acme-dental.toml.example").read_text()
    _tenant(main, "acme-dental", example)
    found = load_tenants(main)
    assert found.refused == ()
    acme = found.find("acme-dental")
    assert acme is not None
    settings = acme.loaded.settings
    assert settings.pbx.host == "10.20.0.5"
    assert settings.business.hours is not None
    assert settings.business.hours != found.main.settings.business.hours
    assert settings.provider.sender_for("2125550148") == "+12125550148"
    assert "2125550147" in settings.provider.senders
    assert set(settings.provider.senders) == {"2125550147", "2125550148"}
    assert acme.loaded.renderer is not found.main.renderer


def test_the_main_configs_tenant_section_is_not_inherited(tmp_path: Path) -> None:
    main = _main(tmp_path, '[tenant]\nname = "Main"\ndids = ["2125550100"]\n')
    _tenant(main, "acme", OWN_PBX.format(n=5))
    found = load_tenants(main)
    assert found.tenants[0].name == "Main"
    acme = found.tenants[1]
    assert acme.name == "acme"
    assert acme.loaded.settings.tenant.dids == ()
