"""Caller ID verification (STIR/SHAKEN): what the dialplan hook reports, as one word.

A spoofed caller ID makes a text-back go to a number that never called: a stranger gets
an unsolicited text, which is what 47 CFR 64.1200 and the CTIA Messaging Principles and
Best Practices (consent before messaging) forbid. STIR/SHAKEN (ATIS-1000074, adopted by the
FCC in 47 CFR 64.6300-64.6308) lets the terminating side check the caller's signature. Two
places carry the result to the PBX, and the hook (``dialplan/``) passes both:

- **Asterisk verifies** (``res_stir_shaken``, Asterisk 16.15+): ``${STIR_SHAKEN(count)}``
  identities on the channel, and ``${STIR_SHAKEN(0,verify_result)}`` for the first one.
  Asterisk 20.7/21.2/22 report ``success`` or a failure code (``signature_validation``,
  ``cid_orig_tn_mismatch``, ``cert_not_trusted``, …; res_stir_shaken/verification.c);
  older releases report ``Verification passed`` / ``Signature failed`` / ``Verification
  mismatch`` / ``Verification not present``. The hook sends it through
  ``FILTER(0-9A-Za-z_,…)``, so spaces are gone (``Verificationpassed``).
- **The carrier verifies** and adds ``verstat=`` to the caller's URI in the ``From`` or
  ``P-Asserted-Identity`` header (ATIS-1000074 §5.3.1; 3GPP TS 24.229):
  ``TN-Validation-Passed``, ``TN-Validation-Failed`` or ``No-TN-Validation``; some carriers
  append the attestation (``TN-Validation-Passed-A``/``-B``/``-C``). The hook sends the
  header values (printable ASCII without space or comma, at most 200 characters each).

The headers are attacker-chosen text: parsing is bounded (:data:`MAX_HEADER` characters;
a URI cut off before its end counts as no verdict), case-insensitive, ignores the display
name and anything after the URI (where a caller could write ``verstat=…`` himself), and
anything it does not recognise means ``none``. Several ``verstat`` values: the worst one
counts (a failure anywhere is a failure; ``passed`` only when every value says so).

Results: ``passed`` (the signature checked out), ``failed`` (it did not: the caller ID may
be spoofed), ``none`` (nothing was verified). A call without the hook's report has no value
at all (``None``; stored as NULL).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from asterisk_textback.calls.model import CallerVerification

__all__ = [
    "MAX_HEADER",
    "CallerVerification",
    "from_stir_shaken",
    "from_verstat",
    "verification_of",
]

#: Characters of one header value that are looked at; the rest is ignored.
MAX_HEADER: Final = 512


#: Asterisk's ``verify_result`` (lower case, FILTERed) that mean the check passed.
_SS_PASSED: Final = frozenset({"success", "verificationpassed"})
#: Codes that mean nothing was checked, or our side failed (not the caller's fault).
_SS_NOT_CHECKED: Final = frozenset(
    {
        "disabled",
        "invalid_arguments",
        "internal_error",
        "missing_identity_hdr",
        "cert_retrieval_failure",
        "cert_cache_miss",
        "verificationnotpresent",
    }
)
#: Codes of a signature that was checked and is wrong, stale or not the caller's.
_SS_FAILED: Final = frozenset(
    {
        "missing_date_hdr",
        "date_hdr_parse_failure",
        "date_hdr_range_error",
        "missing_jwt_hdr",
        "cert_cache_invalid",
        "cert_cache_expired",
        "cert_contents_invalid",
        "cert_not_trusted",
        "cert_date_failure",
        "cert_no_tn_auth_ext",
        "cert_no_spc_in_auth_ext",
        "no_raw_key",
        "signature_validation",
        "missing_iat",
        "iat_range_error",
        "invalid_or_no_ppt",
        "invalid_or_no_alg",
        "invalid_or_no_typ",
        "invalid_or_no_grants",
        "invalid_or_no_attest",
        "missing_origid",
        "missing_orig_tn",
        "cid_orig_tn_mismatch",
        "missing_dest_tn",
        "invalid_header",
        "invalid_grant",
        "invalid_or_no_callerid",
        "signaturefailed",
        "verificationmismatch",
    }
)
_VERSTAT: Final = {
    "tn-validation-passed": CallerVerification.PASSED,
    "tn-validation-failed": CallerVerification.FAILED,
    "no-tn-validation": CallerVerification.NONE,
}
#: Worst first: the order in which several results are folded into one.
_SEVERITY: Final = (CallerVerification.FAILED, CallerVerification.NONE, CallerVerification.PASSED)

#: A quoted display name, with its backslash escapes (RFC 3261 quoted-string).
_DISPLAY_NAME = re.compile(r'\s*"(?:[^"\\]|\\.){0,512}"')
_PARAM = re.compile(r";verstat=([A-Za-z0-9-]{0,40})", re.IGNORECASE)
_ATTESTATION = re.compile(r"-[abc]$")


def from_stir_shaken(result: str) -> CallerVerification | None:
    """Asterisk's own ``verify_result``; None when Asterisk checked nothing (empty, disabled,
    no Identity header, or its own failure such as a certificate it could not fetch)."""
    word = result.strip()[:64].lower()
    if not word or word in _SS_NOT_CHECKED:
        return None  # Asterisk checked nothing: the carrier's verstat may still tell
    if word in _SS_PASSED:
        return CallerVerification.PASSED
    if word in _SS_FAILED:
        return CallerVerification.FAILED
    # A code a newer Asterisk may add: nothing proven either way.
    return CallerVerification.NONE


def _uri(header: str) -> str:
    """The URI of a name-addr (``"name" <uri>;params``) or an addr-spec, bounded."""
    text = header[:MAX_HEADER]
    text = _DISPLAY_NAME.sub("", text, count=1) if text.lstrip().startswith('"') else text
    start = text.find("<")
    if start >= 0:
        end = text.find(">", start)
        return text[start + 1 : end] if end >= 0 else ""
    # addr-spec: header parameters (;tag=) follow the URI and are not the carrier's verdict,
    # but a verstat in the user part comes before '@'.
    user, at, _ = text.partition("@")
    return user if at else ""  # cut off before the host: no whole URI, no verdict


def from_verstat(headers: Iterable[str]) -> CallerVerification:
    """The carrier's ``verstat`` in the From / P-Asserted-Identity values; ``none`` if absent."""
    found: set[CallerVerification] = set()
    for header in headers:
        for match in _PARAM.finditer(_uri(header)):
            value = _ATTESTATION.sub("", match.group(1).lower())
            found.add(_VERSTAT.get(value, CallerVerification.NONE))
    for level in _SEVERITY:
        if level in found:
            return level
    return CallerVerification.NONE


def verification_of(stir_shaken: str, headers: Iterable[str]) -> CallerVerification:
    """Asterisk's own verification when it ran, else the carrier's ``verstat``."""
    own = from_stir_shaken(stir_shaken)
    return own if own is not None else from_verstat(headers)
