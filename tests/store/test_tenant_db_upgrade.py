"""``asterisk-textback db upgrade -c main.toml``: the main business and every tenant file, one
line each; a refused tenant file named with its reason (status 1) after the others."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from asterisk_textback.cli.main import main
from asterisk_textback.store.engine import create_engine
from asterisk_textback.store.schema import check_schema, current_revision
from asterisk_textback.store.tenant_scope import scoped_engine, tenant_url


def _install(folder: Path, url: str, *, main_business: bool = True) -> Path:
    config = folder / "textback.toml"
    flag = "" if main_business else "[tenants]\nmain_business = false\n"
    config.write_text(f'[database]\nurl = "{url}"\n' + flag)
    tenants = folder / "tenants.d"
    tenants.mkdir()
    for n, name in enumerate(("acme", "bee-co")):
        (tenants / f"{name}.toml").write_text(f'[pbx]\nhost = "10.0.0.{n + 5}"\n')
    return config


def _where(backend: str, url: str, tenant: str) -> str:
    if backend == "postgresql":
        return "tenant_" + tenant.replace("-", "_")
    return tenant_url(url, tenant)


async def _revision(url: str, tenant: str) -> str | None:
    engine = create_engine(tenant_url(url, tenant))
    try:
        scoped = scoped_engine(engine, tenant)
        found = await current_revision(scoped)
        if found is not None:
            await check_schema(scoped)
        return found
    finally:
        await engine.dispose()


async def _db_upgrade(config: Path) -> int:
    import asyncio

    # main() runs its own event loop: in a thread, away from the test's.
    return await asyncio.to_thread(main, ["db", "upgrade", "-c", str(config)])


async def test_db_upgrade_migrates_the_main_business_and_every_tenant(
    backend: str, empty_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _install(tmp_path, empty_url)
    assert await _db_upgrade(config) == 0
    out = capsys.readouterr()
    shown = make_url(empty_url).render_as_string(hide_password=True)
    assert out.out.splitlines() == [
        f"database schema is up to date ({shown})",
        f"tenant acme: schema is up to date ({_where(backend, empty_url, 'acme')})",
        f"tenant bee-co: schema is up to date ({_where(backend, empty_url, 'bee-co')})",
    ]
    assert out.err == ""
    for tenant in ("default", "acme", "bee-co"):
        assert await _revision(empty_url, tenant) is not None
    assert await _db_upgrade(config) == 0  # again: nothing to do, same lines


async def test_a_refused_tenant_file_is_named_after_the_others_are_migrated(
    backend: str, empty_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _install(tmp_path, empty_url, main_business=False)
    bad = tmp_path / "tenants.d" / "broken.toml"
    bad.write_text('[pbx]\nhost = "10.0.0.9"\n[business]\nname_x = "?"\n')
    assert await _db_upgrade(config) == 1
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        f"tenant acme: schema is up to date ({_where(backend, empty_url, 'acme')})",
        f"tenant bee-co: schema is up to date ({_where(backend, empty_url, 'bee-co')})",
    ]
    (line,) = out.err.splitlines()
    assert line.startswith(f"tenant broken: not upgraded: {bad} line 4: unknown key")
    assert "Traceback" not in out.err
    assert await _revision(empty_url, "acme") is not None
    # main_business = false: the main config's own schema is not made; broken's neither.
    assert await _revision(empty_url, "default") is None
    assert await _revision(empty_url, "broken") is None


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_tenant_that_cannot_be_migrated_is_one_line_and_status_1(
    empty_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A table in acme's schema whose id is too narrow for the shared ids: acme fails and is
    # rolled back; bee-co is still migrated.
    import asyncpg  # type: ignore[import-untyped]

    dsn = make_url(empty_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "CREATE SCHEMA tenant_acme; CREATE TABLE tenant_acme.n (id serial)"
        )
    finally:
        await connection.close()
    config = _install(tmp_path, empty_url, main_business=False)
    assert await _db_upgrade(config) == 1
    out = capsys.readouterr()
    assert out.out.splitlines() == ["tenant bee-co: schema is up to date (tenant_bee_co)"]
    assert out.err.splitlines() == [
        "tenant acme: not upgraded: tenant_acme.n.id is integer: the shared tenant ids need bigint"
    ]
    assert await _revision(empty_url, "acme") is None
