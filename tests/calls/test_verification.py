"""Caller ID verification: Asterisk's STIR_SHAKEN() result and the carrier's verstat, parsed."""

from __future__ import annotations

import pytest

from asterisk_textback.calls.userevent import parse_report
from asterisk_textback.calls.verification import (
    MAX_HEADER,
    CallerVerification,
    from_stir_shaken,
    from_verstat,
    verification_of,
)

P, F, N = CallerVerification.PASSED, CallerVerification.FAILED, CallerVerification.NONE


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ("success", P),
        ("SUCCESS", P),
        ("Verificationpassed", P),  # Asterisk 16.15-20.6 "Verification passed", FILTERed
        ("signature_validation", F),
        ("cid_orig_tn_mismatch", F),
        ("cert_not_trusted", F),
        ("iat_range_error", F),
        ("Signaturefailed", F),
        ("Verificationmismatch", F),
        ("no_such_code_yet", N),  # a newer Asterisk's code: nothing proven
        ("", None),
        ("disabled", None),  # Asterisk checked nothing: the carrier may still tell
        ("missing_identity_hdr", None),
        ("cert_retrieval_failure", None),  # our side failed, not the caller's signature
        ("Verificationnotpresent", None),
    ],
)
def test_asterisk_results(result: str, expected: CallerVerification | None) -> None:
    assert from_stir_shaken(result) is expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("<sip:+12125550147;verstat=TN-Validation-Passed@carrier.example;user=phone>", P),
        ("<sip:+12125550147;verstat=TN-Validation-Failed@carrier.example>;tag=1", F),
        ("<sip:+12125550147;verstat=No-TN-Validation@carrier.example>", N),
        ("<tel:+12125550147;verstat=TN-Validation-Passed-A>", P),
        ("<tel:+12125550147;verstat=TN-Validation-Passed-C>", P),
        ("<tel:+12125550147;verstat=TN-Validation-Failed-B>", F),
        ("<sip:+12125550147;VERSTAT=tn-validation-failed@carrier.example>", F),
        ("sip:+12125550147;verstat=TN-Validation-Failed@carrier.example;tag=9", F),
        ("sip:+12125550147@carrier.example;tag=9;verstat=TN-Validation-Passed", N),
        ("<sip:+12125550147@carrier.example>", N),
        ("", N),
        # the caller's own text, never the carrier's verdict:
        ('"verstat=TN-Validation-Passed"<sip:+12125550147@carrier.example>', N),
        ('"x;verstat=TN-Validation-Passed"<sip:+12125550147@carrier.example>', N),
        ('"a\\"<sip:+1;verstat=TN-Validation-Passed@x>"<sip:+1@carrier.example>', N),
        ('"a\\"b"<sip:+1;verstat=TN-Validation-Failed@carrier.example>', F),
        ("<sip:+12125550147@carrier.example>;verstat=TN-Validation-Passed", N),
        # junk values, cut-off brackets, unknown words:
        ("<sip:+1;verstat=TN-Validation-Passedd@x>", N),
        ("<sip:+1;verstat=TN-Valid%00@x>", N),
        ("<sip:+1;verstat=@x>", N),
        ("<sip:+1;verstat=TN-Validation-Passed@x", N),
        ("<sip:+1;verstat=TN-Validation-Passed-Z@x>", N),
        # worst wins: a failure anywhere, passed only when every value says so
        ("<sip:+1;verstat=TN-Validation-Passed;verstat=TN-Validation-Failed@x>", F),
        ("<sip:+1;verstat=TN-Validation-Passed;verstat=Bogus@x>", N),
    ],
)
def test_verstat_in_one_header(header: str, expected: CallerVerification) -> None:
    assert from_verstat([header]) is expected


def test_verstat_across_from_and_pai() -> None:
    passed = "<sip:+1;verstat=TN-Validation-Passed@x>"
    failed = "<sip:+1;verstat=TN-Validation-Failed@x>"
    assert from_verstat([passed, "<sip:+1@x>"]) is P  # the other header carries none
    assert from_verstat([passed, failed]) is F
    assert from_verstat(["", ""]) is N


def test_parsing_is_bounded() -> None:
    # A verstat beyond MAX_HEADER characters is not looked at; huge input stays fast.
    late = "<sip:+1" + ";x=y" * (MAX_HEADER // 4) + ";verstat=TN-Validation-Failed@x>"
    assert from_verstat([late]) is N
    # Padding that pushes the carrier's verdict past the cut leaves no whole URI: no verdict.
    padded = "<sip:+1" + ";verstat=TN-Validation-Passed" * 50 + ";verstat=TN-Validation-Failed@x>"
    assert from_verstat([padded]) is N
    assert from_verstat([padded.strip("<>")]) is N
    many = "<sip:+1" + ";verstat=TN-Validation-Passed" * 15 + ";verstat=TN-Validation-Failed@x>"
    assert from_verstat([many]) is F  # every parameter within the bound counts
    assert from_verstat(['"' * 10_000 + "<" * 10_000]) is N
    assert from_stir_shaken("success" * 1000) is N


def test_asterisk_decides_before_the_carrier() -> None:
    failed = "<sip:+1;verstat=TN-Validation-Failed@x>"
    assert verification_of("success", [failed]) is P
    assert verification_of("signature_validation", ["<sip:+1;verstat=TN-Validation-Passed@x>"]) is F
    assert verification_of("disabled", [failed]) is F  # Asterisk checked nothing
    assert verification_of("", [failed]) is F


def test_report_keys() -> None:
    base = {"UserEvent": "TextBack", "Uniqueid": "1.1", "Exclude": "no"}
    old = parse_report(base, 0.0)
    assert old is not None
    assert (old.disclosure, old.verification) == (False, None)  # hook version 1: not reported
    new = parse_report(
        {**base, "Disclosure": "YES", "StirShaken": "", "FromHeader": "", "PAIHeader": ""}, 0.0
    )
    assert new is not None
    assert (new.disclosure, new.verification) == (True, N)
    junk = parse_report({**base, "Disclosure": "yes please", "FromHeader": "\x00" * 5000}, 0.0)
    assert junk is not None
    assert (junk.disclosure, junk.verification) == (False, N)
