"""Headers every response of the service's web app carries, error pages included."""

from __future__ import annotations

from typing import Final

from aiohttp import web

__all__ = ["HSTS", "SERVER", "secure_headers"]

#: No library or Python version: nothing for a scanner to match advisories against.
SERVER: Final = "asterisk-textback"
#: A year, this host only (the dashboard's host need not speak for its subdomains).
HSTS: Final = "max-age=31536000"

_INSTALLED: web.AppKey[bool] = web.AppKey("secure_headers_hsts")


def secure_headers(app: web.Application, *, hsts: bool) -> None:
    """Set ``Server`` without versions on every response, and HSTS when ``hsts`` (once per app)."""
    # Called by each part mounted on the app (webhooks, dashboard): any may ask for HSTS.
    first = _INSTALLED not in app
    app[_INSTALLED] = hsts or app.get(_INSTALLED, False)
    if not first:
        return

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        # Runs before aiohttp fills in its own default ``Server: Python/… aiohttp/…``.
        response.headers["Server"] = SERVER
        if app[_INSTALLED]:
            response.headers.setdefault("Strict-Transport-Security", HSTS)

    app.on_response_prepare.append(on_prepare)
