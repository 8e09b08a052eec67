"""Caller-controlled text made safe for protocol headers (email, webhooks, CRM posts).

A caller chooses their caller ID name; a hostile PBX or webhook chooses ids. Python's email
package refuses a Subject holding U+2028, U+0085 or a vertical tab (``str.splitlines``
breaks there), so one such name failed forwarding for 72 hours of retries; HTTP clients refuse
or, worse, split headers on line breaks. Every header value built from such text goes through
:func:`header_value`.
"""

from __future__ import annotations

import unicodedata

__all__ = ["header_value"]

#: Controls, line and paragraph separators, format characters (bidi overrides that reorder
#: what staff read, zero-width characters), surrogates, private use and unassigned.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def header_value(value: str) -> str:
    """``value`` on one line: every line separator and control character becomes a space,
    runs of whitespace collapse to one space, the ends are stripped."""
    if value.isprintable():  # the usual case: no control or separator to replace
        return " ".join(value.split())
    cleaned = "".join(
        " " if unicodedata.category(ch) in _UNSAFE_CATEGORIES or ch.isspace() else ch
        for ch in value
    )
    return " ".join(cleaned.split())
