"""A number's consent evidence on the dashboard (CSV download) and in the API (JSON).

``GET /conversations/{e164}/consent.csv`` (login) is the Conversation page's "Consent
record" download; ``GET /api/v1/conversations/{e164}/consent`` (Bearer token or login) the
same evidence as JSON: raw values, ISO 8601 times with their offset. Both are what
``asterisk-textback consent export`` writes (``compliance.evidence``).
"""

from __future__ import annotations

import io

from aiohttp import web

from asterisk_textback.compliance.evidence import as_dict
from asterisk_textback.compliance.evidence_export import export_number, number_records
from asterisk_textback.store.evidence import NumberRecords
from asterisk_textback.web.dashboard.app import DEPS, api_guard, page_guard, reading
from asterisk_textback.web.dashboard.auth import Session

__all__ = ["add_evidence_routes"]

_E164 = r"{e164:\+?\d{1,15}}"
_UNKNOWN = "no calls, texts or opt-outs of this number"


async def _records(request: web.Request) -> NumberRecords:
    async with reading(request) as db:
        return await number_records(db, request.match_info["e164"])


async def consent_csv(request: web.Request, session: Session) -> web.StreamResponse:
    """GET /conversations/{e164}/consent.csv: the evidence as a CSV download; 404 if unknown."""
    records = await _records(request)
    if records.empty:
        raise web.HTTPNotFound(text=_UNKNOWN)
    out = io.StringIO()
    export_number(records, "csv", out, request.app[DEPS].zone)
    digits = records.number.lstrip("+")
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="consent-{digits}.csv"'},
    )


async def api_consent(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/conversations/{e164}/consent: the evidence as JSON; 404 if unknown."""
    records = await _records(request)
    if records.empty:
        return web.json_response({"error": "not_found", "detail": _UNKNOWN}, status=404)
    return web.json_response(as_dict(records, request.app[DEPS].zone))


def add_evidence_routes(app: web.Application) -> None:
    """Register the CSV download and the API route on ``app``."""
    app.router.add_get(f"/conversations/{_E164}/consent.csv", page_guard(consent_csv))
    app.router.add_get(f"/api/v1/conversations/{_E164}/consent", api_guard(api_consent))
