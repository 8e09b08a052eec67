"""The OpenAPI 3.1 description of ``/api/v1`` (hand-written; a test keeps it in sync)."""

from __future__ import annotations

from typing import Any

from asterisk_textback.calls.model import Outcome
from asterisk_textback.web.dashboard.openapi_consent import CONSENT_RECORD, consent_get

__all__ = ["spec"]

_NULLABLE_STR = {"type": ["string", "null"]}
_NULLABLE_NUM = {"type": ["number", "null"]}
_TIME = {"type": "string", "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _path(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


_LIMIT = _query(
    "limit", "Rows per page (default 50).", {"type": "integer", "minimum": 1, "maximum": 500}
)
_CURSOR = _query("cursor", "The previous page's next_cursor.", {"type": "string"})
_PERIOD = _query(
    "period",
    "today, yesterday, 30d, 2026-11, 2026-11-27 or 2026-11-01..2026-12-01 (default 30d).",
    {"type": "string"},
)
_DID = _query("did", "Only calls to this DID.", {"type": "string"})
_CALL_FILTERS = [
    _query("outcome", "Call outcome.", {"type": "string", "enum": [o.value for o in Outcome]}),
    _query("decision", "Policy decision.", {"type": "string", "enum": ["send", "suppress"]}),
    _DID,
    _query(
        "from",
        "First day (YYYY-MM-DD) in the business's time zone.",
        {"type": "string", "format": "date"},
    ),
    _query(
        "to",
        "Last day, included (YYYY-MM-DD), in the business's time zone.",
        {"type": "string", "format": "date"},
    ),
    _query("q", "Search the number or the caller name.", {"type": "string"}),
]


def _page_of(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref(item)},
            "next_cursor": {**_NULLABLE_STR, "description": "Null on the last page."},
        },
    }


def _get(summary: str, schema: dict[str, Any], params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": params,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
                "400": {"$ref": "#/components/responses/BadRequest"},
                "401": {"$ref": "#/components/responses/Unauthorized"},
            },
        }
    }


def _json_error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _reply_post(e164: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": "Send a staff reply to a caller",
            "description": "Queues the text in the outbox, from the business number last used "
            "with this caller; the service's dispatcher sends it (while `run` is stopped it "
            "waits there). Recorded as sent by `api` with the Bearer token, or by the logged-in "
            "user with a session, which must also send its CSRF token in `X-CSRF-Token`. "
            "At most 1,600 characters and 10 SMS parts.",
            "parameters": [
                e164,
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": "8-64 letters, digits, - or _: a retry with the same key "
                    "queues the text once and answers with the same id.",
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["body"],
                            "properties": {"body": {"type": "string", "maxLength": 1600}},
                        }
                    }
                },
            },
            "responses": {
                "202": {
                    "description": "Queued",
                    "content": {"application/json": {"schema": _ref("QueuedReply")}},
                },
                "400": _json_error("The body is missing, empty or too long (`field` names it)"),
                "401": {"$ref": "#/components/responses/Unauthorized"},
                "403": _json_error("A session without its CSRF token"),
                "404": _json_error("No texts or calls with this number"),
                "409": _json_error("The number opted out (`detail` says when and how)"),
            },
        }
    }


_SCHEMAS: dict[str, Any] = {
    "ConsentRecord": CONSENT_RECORD,
    "QueuedReply": {
        "type": "object",
        "required": ["id", "status"],
        "properties": {
            "id": {"type": "integer", "description": "The outbox message id."},
            "status": {"type": "string", "enum": ["queued"]},
            "to": {"type": "string"},
            "segments": {"type": "integer"},
            "encoding": {"type": "string", "enum": ["GSM-7", "UCS-2"]},
            "sent_by": {"type": "string"},
        },
    },
    "Error": {
        "type": "object",
        "properties": {
            "error": {"type": "string"},
            "detail": _NULLABLE_STR,
            "field": {"type": "string", "description": "The input at fault (400)."},
        },
    },
    "Call": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "outcome": {"type": "string"},
            "reason": {"type": "string"},
            "caller_number": {"type": "string"},
            "caller_e164": _NULLABLE_STR,
            "caller_name": {"type": "string"},
            "did": {"type": "string"},
            "ended_at": _TIME,
            "decision": {"type": "string", "enum": ["send", "suppress"]},
            "suppress_reason": _NULLABLE_STR,
            "template": _NULLABLE_STR,
            "variant": _NULLABLE_STR,
            "quiet_rule": {
                **_NULLABLE_STR,
                "description": "The quiet-hours rules the text's send time obeyed.",
            },
            "text_status": _NULLABLE_STR,
            "first_response_seconds": _NULLABLE_NUM,
            "replies": {"type": "integer"},
            "booked": {"type": "boolean"},
        },
    },
    "Message": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "call_id": {"type": ["integer", "null"]},
            "kind": {"type": "string"},
            "to_e164": {"type": "string"},
            "body": {"type": "string"},
            "status": {"type": "string"},
            "sent_at": {"type": ["string", "null"], "format": "date-time"},
            "delivered_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "Conversation": {
        "type": "object",
        "properties": {
            "e164": {"type": "string"},
            "name": _NULLABLE_STR,
            "last_at": _TIME,
            "texts_out": {"type": "integer"},
            "texts_in": {"type": "integer"},
            "opted_out": {"type": "boolean"},
            "unread": {"type": "boolean", "description": "A reply came after staff last looked."},
            "handled": {"type": "boolean", "description": "Marked handled after the last reply."},
            "needs_answer": {"type": "boolean"},
            "last_reply_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "Thread": {
        "type": "object",
        "properties": {
            "e164": {"type": "string"},
            "opted_out": {"type": "boolean"},
            "handled": {"type": "boolean"},
            "call_ids": {"type": "array", "items": {"type": "integer"}},
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "at": _TIME,
                        "direction": {"type": "string", "enum": ["out", "in"]},
                        "body": {"type": "string"},
                        "kind": {"type": "string"},
                        "status": {"type": "string"},
                        "message_id": {"type": ["integer", "null"]},
                        "sent_by": {
                            **_NULLABLE_STR,
                            "description": "A staff reply's author (a dashboard user or api).",
                        },
                    },
                },
            },
        },
    },
    "Kpi": {
        "type": "object",
        "properties": {
            "key": {"type": "string"},
            "label": {"type": "string"},
            "unit": {"type": "string", "enum": ["count", "ratio", "seconds", "money"]},
            "value": _NULLABLE_NUM,
            "numerator": _NULLABLE_NUM,
            "denominator": _NULLABLE_NUM,
            "denominator_label": _NULLABLE_STR,
            "note": _NULLABLE_STR,
            "definition": {"type": "string"},
        },
    },
    "KpiReport": {
        "type": "object",
        "properties": {
            "period": {"type": "object"},
            "did": _NULLABLE_STR,
            "currency": {"type": "string"},
            "delivery_reports": {"type": "boolean"},
            "kpis": {"type": "array", "items": _ref("Kpi")},
            "calculator": {"type": "object", "description": "The revenue calculator."},
            "daily": {
                "type": "object",
                "description": "Series per day in the business's time zone.",
            },
            "caller_verification": {
                "type": "object",
                "description": "Inbound calls by caller ID verification (passed, failed, "
                "none, unreported) and texts held back for it (suppressed).",
            },
        },
    },
    "Experiments": {
        "type": "object",
        "properties": {
            "period": {"type": "object"},
            "min_trials": {"type": "integer"},
            "experiments": {"type": "array", "items": {"type": "object"}},
        },
    },
}


def spec(server: str = "/") -> dict[str, Any]:
    """The OpenAPI document served at ``server`` (a tenant's base path; a fresh dict)."""
    call_id = _path("call_id", "Call id.", {"type": "integer"})
    e164 = _path("e164", "Phone number in E.164.", {"type": "string", "pattern": r"^\+?\d{1,15}$"})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "asterisk-textback API",
            "version": "1",
            "description": "The data behind the dashboard, and staff replies. Authenticate with "
            "`Authorization: Bearer <token>` (the token from the api_token_env variable) or a "
            "dashboard login session. Lists are keyset-paginated: pass next_cursor back as "
            "cursor until it is null.",
        },
        "servers": [{"url": server}],
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        "paths": {
            "/api/v1/calls": _get(
                "Calls, newest first", _page_of("Call"), [_LIMIT, _CURSOR, *_CALL_FILTERS]
            ),
            "/api/v1/calls/{call_id}": _get(
                "One call and the caller's thread",
                {"type": "object", "properties": {"call": _ref("Call"), "thread": _ref("Thread")}},
                [call_id],
            ),
            "/api/v1/messages": _get(
                "Outbound texts, newest first",
                _page_of("Message"),
                [
                    _LIMIT,
                    _CURSOR,
                    _query("status", "Message status.", {"type": "string"}),
                    _query("to", "Recipient in E.164.", {"type": "string"}),
                ],
            ),
            "/api/v1/conversations": _get(
                "Callers by latest activity",
                _page_of("Conversation"),
                [_LIMIT, _CURSOR, _query("q", "Part of the number.", {"type": "string"})],
            ),
            "/api/v1/conversations/{e164}": _get("One caller's thread", _ref("Thread"), [e164]),
            "/api/v1/conversations/{e164}/messages": _reply_post(e164),
            "/api/v1/conversations/{e164}/consent": consent_get(e164),
            "/api/v1/kpis": _get(
                "The DESIGN section 8 KPIs, calculator and daily series",
                _ref("KpiReport"),
                [_PERIOD, _DID],
            ),
            "/api/v1/experiments": _get(
                "A/B tests on replies and bookings", _ref("Experiments"), [_PERIOD, _DID]
            ),
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1 JSON"}},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "tb_session"},
            },
            "responses": {
                "BadRequest": {
                    "description": "A parameter is invalid",
                    "content": {"application/json": {"schema": _ref("Error")}},
                },
                "Unauthorized": {
                    "description": "No valid token or session",
                    "content": {"application/json": {"schema": _ref("Error")}},
                },
            },
            "schemas": _SCHEMAS,
        },
    }
