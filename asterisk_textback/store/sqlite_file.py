"""The SQLite file on disk: its folder made (private) before it is opened, and the errors
the driver gives about the file (cannot open it, no tables) said in one line with the fix."""

from __future__ import annotations

import getpass
import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from asterisk_textback.errors import ConfigError

__all__ = ["DatabaseFileError", "explain", "missing_sqlite_file", "prepare"]

#: What to run when the folder is missing or not ours (the service user's state directory).
_INSTALL_DIR = "install -d -o {user} -m 0700 {folder}"


class DatabaseFileError(ConfigError):
    """The SQLite file cannot be created, opened or used as it is; the message says why."""


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid without a passwd entry (containers)
        return str(os.geteuid())


def prepare(path: Path) -> None:
    """Create the database's folder (0700: callers' numbers live there) if it is missing, and
    check this user may create or read the file before SQLite tries.

    Raises :class:`DatabaseFileError` naming the folder or file and the command that fixes
    it. (Checked up front: a connection that fails inside aiosqlite can leave its worker
    thread printing a traceback of its own as the process exits.)
    """
    given, path = path, path.absolute()
    try:
        _make_directory(path.parent)
        creatable = path.exists() or os.access(path.parent, os.W_OK | os.X_OK)
        if not creatable or (path.exists() and not os.access(path, os.R_OK)):
            raise _cannot_open(path)
    except DatabaseFileError as exc:
        if given.is_absolute():
            raise
        # A relative url names a file in whatever folder the command happens to run in.
        raise DatabaseFileError(
            f"{exc}; [database] url names {given}, relative to the folder the command runs "
            "in: give an absolute path, e.g. "
            "sqlite+aiosqlite:////var/lib/asterisk-textback/textback.db"
        ) from None


def _make_directory(folder: Path) -> None:
    if folder.is_dir():
        return
    if folder.exists():
        raise DatabaseFileError(
            f"database folder {folder} is a file, not a folder: move it away, or set "
            "[database] url to a file in another folder"
        )
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        user = _user()
        raise DatabaseFileError(
            f"database folder {folder} does not exist and {user} cannot create it "
            f"({exc.strerror or exc}): create it as root with "
            f"`{_INSTALL_DIR.format(user=user, folder=folder)}`, or set [database] url "
            "to a file in a folder this user can write"
        ) from None


def explain(path: Path, message: str) -> DatabaseFileError | None:
    """The one-line error for the driver's ``message`` about ``path``, or None to keep it."""
    path = path.absolute()
    if "unable to open database file" in message:
        return _cannot_open(path)
    if "no such table" in message and _has_no_tables(path):
        return DatabaseFileError(
            f"database {path} has no tables: run `asterisk-textback db upgrade -c FILE` "
            "with this config first"
        )
    return None


def _cannot_open(path: Path) -> DatabaseFileError:
    user, folder = _user(), path.parent
    if not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
        why = f"{user} may not create files in {folder}"
        fix = f"`chown {user} {folder}` (or `{_INSTALL_DIR.format(user=user, folder=folder)}`)"
    elif path.exists() and not os.access(path, os.R_OK):
        why = f"{user} may not read it"
        fix = f"`chown {user} {path}` (the service user owns its database)"
    elif not os.access(folder, os.W_OK | os.X_OK):
        why = f"{user} may not write in {folder} (SQLite keeps its -wal and -shm files there)"
        fix = f"`chown {user} {folder}`"
    else:
        why = "it is not a file SQLite can open"
        fix = "check [database] url"
    return DatabaseFileError(f"cannot open the database {path}: {why}; as root, {fix}")


def _has_no_tables(path: Path) -> bool:
    """True when the file exists and holds no table at all (never migrated)."""
    if not path.is_file():
        return True
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        row = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
        ).fetchone()
    except sqlite3.Error:
        return False
    finally:
        connection.close()
    return bool(row is not None and row[0] == 0)


def missing_sqlite_file(url: str) -> str | None:
    """The path of a SQLite database ``url`` names that does not exist (opening it would
    create it, empty); None for an existing file, memory or PostgreSQL."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    path = parsed.database
    if not path or path == ":memory:" or Path(path).exists():
        return None
    return path
