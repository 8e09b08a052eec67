"""The OpenAPI description of ``GET /api/v1/conversations/{e164}/consent``."""

from __future__ import annotations

from typing import Any

__all__ = ["CONSENT_RECORD", "consent_get"]

_NULLABLE_STR = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}
_ERROR = {"$ref": "#/components/schemas/Error"}

#: The ``ConsentRecord`` schema.
CONSENT_RECORD: dict[str, Any] = {
    "type": "object",
    "description": "What `asterisk-textback consent export --format json` writes; times "
    "are ISO 8601 in the business's time zone, with the offset.",
    "properties": {
        "number": {"type": "string"},
        "opted_out": {"type": "boolean"},
        "consent_changed_at": {"type": ["string", "null"], "format": "date-time"},
        "consent_source": {
            **_NULLABLE_STR,
            "description": "sms:<keyword>, cli, import, provider or an imported source.",
        },
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "at"],
                "properties": {
                    "type": {
                        "type": "string",
                        "enum": ["call", "text_sent", "text_received", "opt_out", "opt_in"],
                    },
                    "at": _TIME,
                    "outcome": {"type": "string"},
                    "decision": {
                        "type": "object",
                        "description": "The policy's action and suppress reason (calls).",
                    },
                    "disclosure_played": {"type": "boolean"},
                    "caller_verification": {
                        **_NULLABLE_STR,
                        "description": "passed, failed, none; null: not reported.",
                    },
                    "quiet_rule": {
                        **_NULLABLE_STR,
                        "description": "Calls: the quiet-hours rules the text obeyed.",
                    },
                    "consent_event_id": {
                        "type": "integer",
                        "description": "opt_out/opt_in: one per change of consent, whoever "
                        "made it; a STOP that changed nothing is a text_received.",
                    },
                    "body": {"type": "string"},
                    "status": {"type": "string"},
                    "source": {"type": "string"},
                    "wording": {
                        **_NULLABLE_STR,
                        "description": "The opt-out's or opt-in's own text, when a text.",
                    },
                },
            },
        },
    },
}


def consent_get(e164: dict[str, Any]) -> dict[str, Any]:
    """The path item (``e164``: the shared path parameter)."""
    ok = {"application/json": {"schema": {"$ref": "#/components/schemas/ConsentRecord"}}}
    return {
        "get": {
            "summary": "One number's consent evidence: calls, texts, opt-outs and opt-ins in "
            "time order",
            "parameters": [e164],
            "responses": {
                "200": {"description": "OK", "content": ok},
                "401": {"$ref": "#/components/responses/Unauthorized"},
                "404": {
                    "description": "No calls, texts or opt-outs of this number",
                    "content": {"application/json": {"schema": _ERROR}},
                },
            },
        }
    }
