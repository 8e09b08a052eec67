"""Provider callbacks: ``POST /webhooks/{provider}`` (and ``/status``, ``/inbound`` variants).

Per request: size check (413 before the body is read in full) → the provider's adapter
verifies and parses it against the *public* URL (signatures cover the URL the provider
called, not the one behind the reverse proxy) → the inbox commits what it carries → 200.
A refused request (401/403/400/413/404) stores nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping

from aiohttp import web

from asterisk_textback.errors import WebhookAuthError, WebhookPayloadError
from asterisk_textback.inbound.inbox import Inbox
from asterisk_textback.sms.base import WebhookAdapter, WebhookRequest
from asterisk_textback.web.base_path import base_path
from asterisk_textback.web.headers import secure_headers
from asterisk_textback.web.settings import WebhookServerSettings

log = logging.getLogger(__name__)

__all__ = [
    "ADAPTERS",
    "CLOCK",
    "INBOX",
    "SETTINGS",
    "add_webhook_routes",
    "handle_webhook",
    "public_url",
    "webhook_app",
]


ADAPTERS: web.AppKey[Mapping[str, WebhookAdapter]] = web.AppKey("webhook_adapters")
INBOX: web.AppKey[Inbox] = web.AppKey("inbox")
SETTINGS: web.AppKey[WebhookServerSettings] = web.AppKey("webhook_settings")
CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("webhook_clock")


def public_url(request: web.Request, settings: WebhookServerSettings) -> str:
    """The URL the provider called: configured base + path and query exactly as sent.

    A tenant's app sees its path without its mount (``/t/<id>``): put back, as sent.
    """
    raw_path = base_path(request.app) + request.raw_path
    if settings.public_base_url is not None:
        return settings.public_base_url + raw_path
    scheme, host = request.scheme, request.host
    if settings.trust_forwarded_headers:
        # A proxy chain appends: the first value is what the client used.
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip()
        fwd_host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
        scheme = proto or scheme
        host = fwd_host or host
    return f"{scheme}://{host}{raw_path}"


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or None as soon as it exceeds ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(16 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _credential_headers(adapter: WebhookAdapter) -> tuple[str, ...]:
    # Optional adapter attribute: the headers that carry its credentials or signature, so
    # a request with none of them gets 401 (credentials missing) instead of 403.
    names = getattr(adapter, "credential_headers", ())
    return tuple(str(name).lower() for name in names)


async def handle_webhook(request: web.Request) -> web.StreamResponse:
    """Verify, parse and commit one provider callback."""
    app = request.app
    adapter = app[ADAPTERS].get(request.match_info["provider"])
    if adapter is None:
        raise web.HTTPNotFound(text="unknown provider\n")
    settings = app[SETTINGS]
    body = await _read_limited(request, settings.max_body_bytes)
    if body is None:
        raise web.HTTPRequestEntityTooLarge(
            max_size=settings.max_body_bytes,
            actual_size=request.content_length or settings.max_body_bytes + 1,
        )
    hook = WebhookRequest(
        method=request.method,
        url=public_url(request, settings),
        headers={name.lower(): value for name, value in request.headers.items()},
        body=body,
        query=dict(request.query),
    )
    try:
        events = adapter.parse(hook, app[CLOCK]())
    except WebhookAuthError as exc:
        log.warning("refused %s webhook from %s: %s", adapter.name, request.remote, exc)
        wanted = _credential_headers(adapter)
        if wanted and not any(hook.header(name) for name in wanted):
            headers = {}
            if "authorization" in wanted:
                headers["WWW-Authenticate"] = 'Basic realm="textback"'
            raise web.HTTPUnauthorized(text="credentials required\n", headers=headers) from None
        raise web.HTTPForbidden(text="signature does not verify\n") from None
    except WebhookPayloadError as exc:
        log.warning("malformed %s webhook: %s", adapter.name, exc)
        raise web.HTTPBadRequest(text="malformed callback\n") from None
    except Exception:
        # An adapter bug must not turn into a 500 the provider retries forever.
        log.exception("%s webhook adapter failed on a request", adapter.name)
        raise web.HTTPBadRequest(text="malformed callback\n") from None
    try:
        await app[INBOX].handle(events)
    except Exception:
        # Nothing acknowledged: the provider retries, and what was committed dedupes.
        log.exception("could not store a %s callback", adapter.name)
        raise web.HTTPServiceUnavailable(text="try again\n") from None
    return web.Response(status=200, text="")


def add_webhook_routes(app: web.Application, prefix: str = "/webhooks") -> None:
    """Register the callback routes on ``app`` (whose keys must be set)."""
    app.router.add_post(prefix + "/{provider}", handle_webhook)
    app.router.add_post(prefix + "/{provider}/{kind:status|inbound}", handle_webhook)


def webhook_app(
    adapters: Mapping[str, WebhookAdapter],
    inbox: Inbox,
    settings: WebhookServerSettings,
    *,
    clock: Callable[[], float] = time.time,
    sweep_seconds: float | None = 30.0,
) -> web.Application:
    """An application serving provider callbacks; it runs the inbox's sweep and closes it."""
    # aiohttp's own cap is a backstop; ours answers 413 earlier and without a traceback.
    app = web.Application(client_max_size=settings.max_body_bytes + 1)
    app[ADAPTERS] = dict(adapters)
    app[INBOX] = inbox
    app[SETTINGS] = settings
    app[CLOCK] = clock
    secure_headers(app, hsts=False)
    add_webhook_routes(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        task = None
        if sweep_seconds is not None:
            task = asyncio.create_task(inbox.run_sweeper(sweep_seconds))
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await inbox.close()

    app.cleanup_ctx.append(lifecycle)
    return app
