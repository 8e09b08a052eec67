"""The built-in AMI server's accounts and wire helpers: manager.conf as Asterisk answers it.

Pure (no sockets): which user may read which event, what ``GetConfig`` of manager.conf
returns, and how a frame is written, so the server module keeps only the connection logic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from asterisk_textback.ami.managerconf import ConfigCategory, render_getconfig

__all__ = [
    "CORESHOWCHANNELS_CLASSES",
    "GETCONFIG_CLASSES",
    "AmiAccount",
    "encode",
    "get_config",
    "manager_conf",
    "privilege",
]

#: Write classes Asterisk requires for CoreShowChannels (actions check *write* classes).
CORESHOWCHANNELS_CLASSES = frozenset({"system", "reporting"})
#: Write classes Asterisk requires for GetConfig (manager.c registers it system|config).
GETCONFIG_CLASSES = frozenset({"system", "config"})


@dataclass(frozen=True, slots=True)
class AmiAccount:
    """One AMI user: secret plus read (events) and write (actions) classes, like manager.conf."""

    secret: str
    read: frozenset[str] = frozenset({"all"})
    write: frozenset[str] = frozenset({"all"})

    def may_read(self, classes: frozenset[str] | None) -> bool:
        """Whether an event of these privilege classes is sent to this user."""
        return classes is None or "all" in self.read or bool(self.read & classes)


def privilege(frame: bytes) -> frozenset[str] | None:
    """The privilege classes of an event frame (None when it names none)."""
    start = frame.find(b"\r\nPrivilege: ")
    if start < 0:
        return None
    end = frame.find(b"\r\n", start + 2)
    classes = frame[start + 13 : end].decode("ascii", "replace").split(",")
    return frozenset(classes) - {"all"}


def encode(headers: Mapping[str, str]) -> bytes:
    """One AMI frame: ``Key: value`` lines and the blank line that ends it."""
    return "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n"


def manager_conf(accounts: Mapping[str, AmiAccount]) -> list[ConfigCategory]:
    """The accounts as the ``[general]`` and user sections of a manager.conf."""
    general = ConfigCategory("general", (("enabled", "yes"), ("port", "5038")))
    users = [
        ConfigCategory(
            user,
            (
                ("secret", acct.secret),
                *((("read", ",".join(sorted(acct.read))),) if acct.read else ()),
                *((("write", ",".join(sorted(acct.write))),) if acct.write else ()),
            ),
        )
        for user, acct in accounts.items()
    ]
    return [general, *users]


def get_config(
    account: AmiAccount,
    action: Mapping[str, str],
    reply: dict[str, str],
    accounts: Mapping[str, AmiAccount],
) -> None:
    """GetConfig of manager.conf, answered and refused like manager.c's action_getconfig."""
    if not account.write & (GETCONFIG_CLASSES | {"all"}):
        reply["Message"] = "Permission denied"
    elif not action.get("Filename"):
        reply["Message"] = "Filename not specified"
    elif action["Filename"] != "manager.conf":
        reply["Message"] = "Config file not found"
    else:
        wanted = action.get("Category")
        cats = [c for c in manager_conf(accounts) if not wanted or c.name == wanted]
        reply.update(Response="Success", **render_getconfig(cats))
