"""contrib/INSTALL.md's commands, as written, in a fresh directory tree, the service user not root.

The shell blocks of the FreePBX section are read from the file and run in order: the root
steps as root, ``tb …`` (``runuser -u asterisk-textback``) as ``nobody``. What is rewritten:
the absolute paths (``/etc/…``, ``/var/lib/…``, ``/opt/…/asterisk-textback``) into a temporary
root, the user and group ``asterisk-textback`` into ``nobody``/``nogroup`` (this test creates
no user on the machine), and ``+1YOURMOBILE`` into a sample number. Left out: installing
packages and creating the user (``apt-get``, ``useradd``, ``python3 -m venv``, ``pip``): the
checkout's own interpreter stands in for ``/opt/asterisk-textback``. The test plays the
editor of steps 1 and 2: the database URL moved into the temporary root, the AMI secret put
in the env file.

When this interpreter lives where ``nobody`` cannot read (CI's Python under ``/root``), the
service user's commands keep one capability, CAP_DAC_READ_SEARCH (read anything, write
nothing more): still uid ``nobody``, so every file it creates or writes is checked as that
user. It needs root (chown, runuser); without root it is skipped.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "contrib" / "INSTALL.md"
USER, GROUP = "nobody", "nogroup"
#: Package installation and user creation: not run (see the module docstring).
SKIPPED = ("apt-get ", "useradd ", "python3 -m venv ", "/opt/asterisk-textback/bin/pip ")
#: When nobody cannot read this interpreter: setpriv instead of runuser, one read capability.
SETPRIV = (
    f"setpriv --reuid={USER} --regid={GROUP} --init-groups "
    "--inh-caps=+dac_read_search --ambient-caps=+dac_read_search"
)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runuser") is None or shutil.which("setpriv") is None,
    reason="needs root, runuser and setpriv (util-linux) to run the steps as another user",
)


def shell_blocks(markdown: str) -> list[list[str]]:
    """The ```sh blocks of the FreePBX section, each as its command lines."""
    section = markdown.split("## FreePBX 17 on Debian 12", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    return [[line.strip() for line in block.splitlines() if line.strip()] for block in blocks]


def _interpreter_readable_by_nobody() -> bool:
    probe = subprocess.run(
        ["runuser", "-u", USER, "--", sys.executable, "-c", "import aiohttp, sqlalchemy"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


@dataclass(frozen=True)
class Tree:
    """The temporary root and how a command line is moved into it."""

    root: Path
    program: str
    runas: str

    def rewrite(self, line: str) -> str:
        for path in ("/etc/asterisk-textback", "/var/lib/asterisk-textback"):
            line = line.replace(path, f"{self.root}{path}")
        line = line.replace("/opt/asterisk-textback/bin/asterisk-textback", self.program)
        line = line.replace("contrib/textback.toml", str(REPO / "contrib" / "textback.toml"))
        line = line.replace("runuser -u asterisk-textback --", self.runas)
        for flag, name in (("-u", USER), ("-o", USER), ("-g", GROUP)):
            line = line.replace(f"{flag} asterisk-textback", f"{flag} {name}")
        return line.replace("+1YOURMOBILE", "+12125550147")

    @property
    def etc(self) -> Path:
        return self.root / "etc" / "asterisk-textback"

    @property
    def state(self) -> Path:
        return self.root / "var" / "lib" / "asterisk-textback"


@pytest.fixture
def tree() -> Iterator[Tree]:
    """A fresh /etc, /var/lib and /opt under a folder every user may traverse."""
    root = Path(tempfile.mkdtemp(prefix="textback-install-"))
    root.chmod(0o755)
    for folder in ("etc", "var/lib", "opt"):
        (root / folder).mkdir(parents=True)
        (root / folder).chmod(0o755)
    script = Path(sys.executable).with_name("asterisk-textback")
    program = str(script) if script.exists() else f"{sys.executable} -m asterisk_textback"
    runas = f"runuser -u {USER} --" if _interpreter_readable_by_nobody() else SETPRIV
    opened = _let_others_search(REPO)
    try:
        yield Tree(root, program, runas)
    finally:
        for folder, mode in opened:
            folder.chmod(mode)
        shutil.rmtree(root)


def _let_others_search(path: Path) -> list[tuple[Path, int]]:
    """Give ``o+x`` (search, not read) to the folders above the checkout that lack it.

    A clone under ``mktemp -d`` (0700, as CI makes) is closed to nobody. The read capability
    lets nobody open files there, but not pass ``access(2)``, which checks the real uid and
    which Alembic calls on the migrations folder. Returns what to restore.
    """
    opened = []
    for folder in [path, *path.parents]:
        mode = stat.S_IMODE(folder.stat().st_mode)
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)
            opened.append((folder, mode))
    return opened


def _root_step(line: str) -> None:
    done = subprocess.run(["sh", "-ec", line], capture_output=True, text=True, check=False)
    assert done.returncode == 0, (line, done.stderr)


def _edit_config(tree: Tree) -> None:
    """Step 1's "then edit it": the database moves into the temporary root."""
    config = tree.etc / "textback.toml"
    text = config.read_text()
    assert "/var/lib/asterisk-textback/textback.db" in text
    config.write_text(text.replace("/var/lib/asterisk-textback", str(tree.state)))


def _edit_env(tree: Tree) -> None:
    """Step 2's editor: the AMI secret into the env file (its mode and group stay)."""
    env = tree.etc / "env"
    with env.open("a") as f:
        f.write("TEXTBACK_AMI_SECRET=not-the-real-one\n")


def _tb_steps(tree: Tree, block: list[str]) -> dict[str, subprocess.CompletedProcess[str]]:
    """Step 4: the ``tb`` function, then each of its commands on its own; output by command."""
    define, *commands = block
    assert define.startswith("tb() {"), define
    results = {}
    for command in commands:
        script = f"{tree.rewrite(define)}\n{tree.rewrite(command)}\n"
        results[command.split(" -c ")[0]] = subprocess.run(
            ["sh", "-c", script], capture_output=True, text=True, timeout=120, check=False
        )
    return results


def walk(tree: Tree, *, leave_out: str = "") -> dict[str, subprocess.CompletedProcess[str]]:
    """Run INSTALL.md's steps 1, 2 and 4 (without the line containing ``leave_out``)."""
    blocks = shell_blocks(INSTALL.read_text())
    assert len(blocks) >= 3, "INSTALL.md lost a shell block"
    install, env, check = blocks[0], blocks[1], blocks[2]
    for line in install:
        if line.startswith(SKIPPED) or (leave_out and leave_out in line):
            continue
        _root_step(tree.rewrite(line))
    _edit_config(tree)
    for line in env:
        _root_step(tree.rewrite(line))
    _edit_env(tree)
    return _tb_steps(tree, check)


def test_install_md_walks_through_as_the_service_user(tree: Tree) -> None:
    results = walk(tree)
    nobody = pwd.getpwnam(USER).pw_uid
    # Step 1 made the state directory: the service user's, private.
    info = tree.state.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (nobody, 0o700)
    assert stat.S_IMODE(tree.etc.stat().st_mode) == 0o750
    for command, done in results.items():
        assert "Traceback" not in done.stderr + done.stdout, (command, done.stderr)
    upgrade = results["tb db upgrade"]
    assert upgrade.returncode == 0, upgrade.stderr
    assert "database schema is up to date" in upgrade.stdout
    database = tree.state / "textback.db"
    info = database.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (nobody, 0o600)
    report = results["tb report"]
    assert report.returncode == 0, report.stderr
    assert "KPIs" in report.stdout
    # check: its verdicts are its own business (no PBX here); it ends in lines, not a trace.
    check = results["tb check"]
    assert check.stdout.strip() or check.stderr.strip()
    assert all(len(line) < 400 for line in check.stderr.splitlines())


def test_without_the_state_directory_step_db_upgrade_says_what_to_run(tree: Tree) -> None:
    """The trap INSTALL.md used to have: one line naming the folder and the fix."""
    results = walk(tree, leave_out="install -d -o asterisk-textback")
    upgrade = results["tb db upgrade"]
    assert upgrade.returncode == 2
    assert upgrade.stderr.splitlines() == [
        f"asterisk-textback: error: database folder {tree.state} does not exist and {USER} "
        f"cannot create it (Permission denied): create it as root with "
        f"`install -d -o {USER} -m 0700 {tree.state}`, or set [database] url to a file in a "
        "folder this user can write"
    ]
    assert not tree.state.exists()


def test_the_blocks_are_what_the_walk_expects() -> None:
    """Guards the parser: step 1 makes the state directory before step 4's db upgrade."""
    install, _, check = shell_blocks(INSTALL.read_text())[:3]
    made = [i for i, line in enumerate(install) if "/var/lib/asterisk-textback" in line]
    assert any(line.startswith("install -d -o asterisk-textback") for line in install)
    assert made
    assert check[1].startswith("tb db upgrade")


def test_a_folder_the_service_user_may_not_write_is_named_with_the_fix(tree: Tree) -> None:
    folder = tree.root / "var" / "lib"  # root's, 0755: nobody may read it, not write in it
    database = folder / "textback.db"
    config = tree.root / "etc" / "textback.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{database}"\n')
    config.chmod(0o644)
    for command in ("db upgrade", "report", "optout list"):
        line = f"{tree.runas} {tree.program} {command} -c {config}"
        done = subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=False)
        assert done.returncode == 2, (command, done.stderr)
        assert done.stderr.splitlines() == [
            f"asterisk-textback: error: cannot open the database {database}: {USER} may not "
            f"create files in {folder}; as root, `chown {USER} {folder}` (or "
            f"`install -d -o {USER} -m 0700 {folder}`)"
        ], command
    assert not database.exists()


def test_a_relative_database_url_says_so(tree: Tree) -> None:
    """A config without ``[database]`` names ./textback.db: run where it may not write."""
    config = tree.root / "etc" / "textback.toml"
    config.write_text("")
    config.chmod(0o644)
    cwd = tree.root / "var" / "lib"
    line = f"cd {cwd} && {tree.runas} {tree.program} optout list -c {config}"
    done = subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    (error,) = done.stderr.splitlines()
    assert error.startswith(f"asterisk-textback: error: cannot open the database {cwd}/textback.db")
    assert error.endswith(
        "[database] url names textback.db, relative to the folder the command runs in: give an "
        "absolute path, e.g. sqlite+aiosqlite:////var/lib/asterisk-textback/textback.db"
    )
