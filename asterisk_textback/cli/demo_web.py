"""``demo --web``: the demo's dashboard on localhost with a login made for this run.

The user name is the dashboard's default (``admin``); the password is random, printed once
and kept only as its scrypt hash in the demo's settings. Plain HTTP on 127.0.0.1, so the
session cookie is not marked Secure (a browser would not send it back otherwise).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from asterisk_textback.config import Settings

__all__ = ["DemoLogin", "print_login", "with_dashboard"]

#: Where the demo's dashboard listens: this machine only.
HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class DemoLogin:
    """The generated login: shown once, never stored in clear."""

    username: str
    password: str


def with_dashboard(settings: Settings, port: int) -> tuple[Settings, DemoLogin]:
    """``settings`` with the web listener and dashboard on ``127.0.0.1:port`` (0: any free
    port) and a new random password for the default user."""
    from asterisk_textback.web.dashboard.auth import hash_password

    password = secrets.token_urlsafe(12)
    web = settings.web
    dashboard = web.dashboard.model_copy(
        update={
            "password_hash": hash_password(password),
            "cookie_secure": False,
            "api_token_env": None,
        }
    )
    web = web.model_copy(
        update={"enabled": True, "host": HOST, "port": port, "dashboard": dashboard}
    )
    login = DemoLogin(dashboard.username, password)
    return settings.model_copy(update={"web": web}), login


def print_login(out: TextIO, url: str, login: DemoLogin) -> None:
    """The lines that say where to look and how to get in."""
    out.write(
        f"dashboard: {url}\n"
        f"login:     {login.username} / {login.password}   (made for this demo, shown once)\n"
        "The demo keeps running after its calls; Ctrl-C stops it.\n\n"
    )
    out.flush()
