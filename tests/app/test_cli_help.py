"""The command line documents itself and starts without loading the service's dependencies."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from asterisk_textback.cli.main import build_parser

#: What ``--help`` must not load: each costs tenths of a second before anything is printed.
HEAVY = ("aiohttp", "sqlalchemy", "jinja2", "pydantic", "panoramisk", "phonenumbers", "alembic")
#: Our own modules that pull those in (config loads every settings class and adapter).
HEAVY_OWN = tuple(
    f"asterisk_textback.{name}"
    for name in ("config", "store", "web", "sms", "ami", "app", "kpi", "templates", "textback")
)

Command = tuple[tuple[str, ...], argparse.ArgumentParser]


def _subcommands(action: argparse.Action) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    assert isinstance(action, argparse._SubParsersAction)
    return action


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[Command]:
    """Every parser of the tree, the top one first, with the words that reach it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in _subcommands(action).choices.items():
                yield from walk(child, (*path, name))


def undocumented(parser: argparse.ArgumentParser) -> list[str]:
    """``command: argument`` for every sub-command and argument without (one-line) help."""
    missing = []
    for path, each in walk(parser):
        where = " ".join(path) or "asterisk-textback"
        for action in each._actions:
            name = "/".join(action.option_strings) or action.dest
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{where}: {name}")
            if isinstance(action, argparse._SubParsersAction):
                described = {a.dest: a.help for a in action._choices_actions}
                for command in action.choices:
                    text = described.get(command)
                    if not text or "\n" in text:
                        missing.append(f"{where}: sub-command {command}")
    return missing


def test_every_subcommand_and_argument_has_help() -> None:
    assert undocumented(build_parser()) == []


def test_the_help_walker_finds_what_is_missing() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ok", help="documented")
    parser.add_argument("bare")
    commands = parser.add_subparsers(dest="command", help="the command")
    commands.add_parser("quiet")
    child = commands.add_parser("loud", help="one line")
    child.add_argument("--flag", action="store_true")
    assert undocumented(parser) == [
        "asterisk-textback: bare",
        "asterisk-textback: sub-command quiet",
        "loud: --flag",
    ]


def test_every_command_reaches_a_run_function() -> None:
    parser = build_parser()
    leaves = [
        (path, each)
        for path, each in walk(parser)
        if path and not any(isinstance(a, argparse._SubParsersAction) for a in each._actions)
    ]
    assert {path[0] for path, _ in leaves} == {
        "replay", "run", "demo", "db", "check", "send-test", "optout", "report", "web", "templates",
        "consent", "compliance", "tenant",
    }  # fmt: skip
    for path, each in leaves:
        assert callable(each.get_default("run")), path


_PROBE = """
import contextlib, io, json, sys
from asterisk_textback.cli.main import main
loaded = {}
for argv in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code
    loaded[" ".join(argv)] = [code, len(out.getvalue()), sorted(sys.modules)]
print(json.dumps(loaded))
"""


def test_help_and_version_load_none_of_the_heavy_packages() -> None:
    commands = [list(path) for path, _ in walk(build_parser()) if path]
    runs = [["--version"], ["--help"], *([*path, "--help"] for path in commands)]
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(runs)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    # A fresh interpreter: each run is checked on its own, the modules accumulate.
    for argv, (code, printed, modules) in json.loads(done.stdout).items():
        assert code == 0, argv
        assert printed > 0, argv
        heavy = [m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY_OWN)]
        assert heavy == [], argv


@pytest.mark.parametrize("argv", [["report", "--help"], ["db", "upgrade", "--help"]])
def test_subcommand_help_shows_the_argument_help(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 0
    words = " ".join(capsys.readouterr().out.split())
    assert "textback.toml (default: $TEXTBACK_CONFIG or /etc/asterisk-textback/" in words


def test_the_start_up_bench_prints_its_figure() -> None:
    bench = Path(__file__).resolve().parents[2] / "bench" / "cli_start.py"
    done = subprocess.run(
        [sys.executable, str(bench), "--runs", "1", "--via", "module"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    last = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"cli_start_ms=\d+", last), done.stdout


def test_run_calls_service_serve_when_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # bench/pipeline_probe.py times the service by wrapping ``service.serve``: ``run`` must
    # look it up when it runs, not bind it at import.
    from asterisk_textback.app import service
    from asterisk_textback.cli.main import main

    served: list[dict[str, object]] = []

    async def fake_serve(*args: object, **kwargs: object) -> None:
        served.append(kwargs)

    monkeypatch.setattr(service, "serve", fake_serve)
    monkeypatch.setattr(service, "install_signal_handlers", lambda stop, reload: None)
    cfg = tmp_path / "textback.toml"
    cfg.write_text("")
    assert main(["run", "-c", str(cfg)]) == 0
    assert len(served) == 1
    assert served[0]["settle_heap"] is True
