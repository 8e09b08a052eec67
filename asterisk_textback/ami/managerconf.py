"""manager.conf as AMI ``GetConfig`` shows it, and the read classes Asterisk derives from it.

Asterisk has no action that returns a session's own permissions, but a user allowed to run
``GetConfig`` (write class ``system`` or ``config``) can read the ``[user]`` section it
logged in with. The rules below are those of Asterisk's ``main/manager.c``:

- every section not named ``general`` is a user; the login name is compared without case;
  several sections with that name are applied one after the other (FreePBX splits
  manager.conf over ``#include manager_additional.conf`` and ``manager_custom.conf``);
- each ``read =`` line *replaces* the classes (``user->readperm = get_perm(value)``): the
  last one wins, lines do not add up;
- ``get_perm`` splits the value at commas and is case-sensitive and whitespace-sensitive:
  ``read = call, agent`` grants ``call`` but not ``agent`` (the token is `` agent``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "AMI_CLASSES",
    "ConfigCategory",
    "UserReadLine",
    "get_perm",
    "parse_getconfig",
    "render_getconfig",
    "user_read_line",
]

#: Asterisk 22's permission classes (``perms[]`` in manager.c), in its order.
AMI_CLASSES: tuple[str, ...] = (
    "system",
    "call",
    "log",
    "verbose",
    "command",
    "agent",
    "user",
    "config",
    "dtmf",
    "reporting",
    "cdr",
    "dialplan",
    "originate",
    "agi",
    "cc",
    "aoc",
    "test",
    "security",
    "message",
)
_LABELS = (*AMI_CLASSES, "all", "none")


@dataclass(frozen=True, slots=True)
class ConfigCategory:
    """One ``[section]`` of a configuration file: its name and ``key=value`` lines in order."""

    name: str
    lines: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class UserReadLine:
    """The ``read =`` line Asterisk applies to a user, and the classes it grants."""

    value: str | None  # None: the user's sections have no read line (no events at all)
    classes: frozenset[str]
    sections: int  # how many sections carry the user's name


def _instring(bigstr: str, label: str) -> bool:
    # ast_instring(): every token but the last matches when it is a *prefix* of the label
    # (strncmp over the token's length, so an empty token matches anything); the last token
    # must equal it. Reproduced as is: that is what decides what the user receives.
    *tokens, last = bigstr.split(",")
    return any(label.startswith(token) for token in tokens) or last == label


def get_perm(value: str) -> frozenset[str]:
    """The classes ``read = value`` grants, exactly as Asterisk's ``get_perm`` parses it."""
    granted = {label for label in _LABELS if _instring(value, label)}
    if "all" in granted:
        return frozenset(AMI_CLASSES)
    return frozenset(granted - {"none"})


def user_read_line(categories: Iterable[ConfigCategory], username: str) -> UserReadLine | None:
    """The read line in effect for ``username``, or None when no section defines the user."""
    sections = 0
    value: str | None = None
    for category in categories:
        if category.name.lower() == "general" or category.name.lower() != username.lower():
            continue
        sections += 1
        for key, val in category.lines:
            if key.lower() == "read":
                value = val
    if not sections:
        return None
    classes = frozenset() if value is None else get_perm(value)
    return UserReadLine(value, classes, sections)


def parse_getconfig(headers: Mapping[str, str]) -> list[ConfigCategory]:
    """The categories of a ``GetConfig`` response (``Category-NNNNNN``/``Line-NNNNNN-MMMMMM``)."""
    names: dict[str, str] = {}
    lines: dict[str, list[tuple[int, str, str]]] = {}
    for key, value in headers.items():
        if key.startswith("Category-"):
            names[key[9:]] = value
        elif key.startswith("Line-"):
            cat, _, index = key[5:].partition("-")
            name, _, val = value.partition("=")
            if index.isdigit():
                lines.setdefault(cat, []).append((int(index), name, val))
    return [
        ConfigCategory(names[cat], tuple((k, v) for _, k, v in sorted(lines.get(cat, []))))
        for cat in sorted(names, key=lambda c: int(c) if c.isdigit() else -1)
    ]


def render_getconfig(categories: Sequence[ConfigCategory]) -> dict[str, str]:
    """The headers Asterisk's ``action_getconfig`` appends after ``Response: Success``."""
    out: dict[str, str] = {}
    for n, category in enumerate(categories):
        out[f"Category-{n:06d}"] = category.name
        for m, (key, value) in enumerate(category.lines):
            out[f"Line-{n:06d}-{m:06d}"] = f"{key}={value}"
    return out
