"""``/healthz``: is the service connected to the PBX and able to send? (JSON, for monitors).

And the same answer in words for the dashboard's Health page (``health_reasons``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, tzinfo
from typing import Any

from aiohttp import web

from asterisk_textback.calls.utc import utc
from asterisk_textback.wording.times import people_time

HealthFn = Callable[[], tuple[bool, dict[str, Any]]]
HEALTH: web.AppKey[HealthFn] = web.AppKey("health")


async def healthz(request: web.Request) -> web.Response:
    """200 with the details when healthy, 503 with the same details when not."""
    ok, details = request.app[HEALTH]()
    return web.json_response({"ok": ok, **details}, status=200 if ok else 503)


def add_health_route(app: web.Application, health: HealthFn) -> None:
    """Serve ``GET /healthz`` from ``health()`` on ``app``."""
    app[HEALTH] = health
    app.router.add_get("/healthz", healthz)


#: Texts waiting to send above which the Health page names the backlog as a problem.
OUTBOX_BACKLOG = 50


def _links(details: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    pbxes = details.get("pbxes")
    if isinstance(pbxes, Mapping) and pbxes:
        return {str(k): v for k, v in pbxes.items() if isinstance(v, Mapping)}
    ami = details.get("ami")
    return {"the PBX": ami} if isinstance(ami, Mapping) and "state" in ami else {}


def _since(link: Mapping[str, Any], zone: tzinfo) -> str:
    """`` since Sat, Dec 5, 2026, 7:49 AM EST`` when the details carry the state's start."""
    since = link.get("since")
    if isinstance(since, int | float) and not isinstance(since, bool):
        return f" since {people_time(utc(since), zone)}"
    return ""


def health_reasons(
    ok: bool,
    details: Mapping[str, Any],
    waiting: int = 0,
    last_error: str | None = None,
    zone: tzinfo = UTC,
) -> list[str]:
    """Why the service is not healthy, one plain sentence per failing check.

    From ``/healthz``'s details: an AMI link not logged in (its state and reconnects), sending
    paused (the provider's reason), calls waiting to be recorded; from the database: texts
    waiting to send above ``OUTBOX_BACKLOG`` and the latest error. Never empty when ``ok`` is
    False: an unexplained failure says so and where to look.
    """
    reasons = []
    for name, link in _links(details).items():
        state = str(link.get("state", "unknown"))
        if state != "ready":
            tries = link.get("reconnects")
            again = f", {tries} reconnects so far" if isinstance(tries, int) and tries else ""
            reasons.append(
                f"AMI link to {name} is {state}{_since(link, zone)}, not logged in{again}: "
                "check Asterisk is running and the manager.conf user, host and port"
            )
    paused = details.get("sending_paused")
    if paused:
        reasons.append(f"Sending is paused: {paused}")
    backlog = details.get("record_backlog")
    if isinstance(backlog, int) and backlog > 0:
        reasons.append(f"{backlog} ended calls are waiting to be recorded in the database")
    if waiting > OUTBOX_BACKLOG:
        reasons.append(f"{waiting} texts are waiting to be sent (outbox backlog)")
    if not ok and not reasons:
        latest = f": the latest error was {last_error}" if last_error else ""
        reasons.append(f"A check failed without a reason given{latest} (see /healthz)")
    elif last_error and reasons:
        reasons.append(f"Latest error: {last_error}")
    return reasons
