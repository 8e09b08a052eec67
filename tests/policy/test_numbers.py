"""Caller IDs as Asterisk sends them, normalised to E.164 and classified."""

from __future__ import annotations

import pytest

from asterisk_textback.policy import LineType, NumberKind, country_allowed, parse_caller


@pytest.mark.parametrize(
    ("raw", "region", "e164", "line_type"),
    [
        # The recorded traces: US national numbers as the trunk delivers them.
        ("2125550147", "US", "+12125550147", LineType.FIXED_LINE_OR_MOBILE),
        ("6175550188", "US", "+16175550188", LineType.FIXED_LINE_OR_MOBILE),
        ("12125550147", "US", "+12125550147", LineType.FIXED_LINE_OR_MOBILE),
        ("+1 (212) 555-0147", "US", "+12125550147", LineType.FIXED_LINE_OR_MOBILE),
        ("1-212-555.0147", "US", "+12125550147", LineType.FIXED_LINE_OR_MOBILE),
        ("+4915112345678", "US", "+4915112345678", LineType.MOBILE),
        # 011 is the US international prefix; phonenumbers knows it for region US.
        ("011447400123456", "US", "+447400123456", LineType.MOBILE),
        # 00 is not the US prefix, but what most trunks send: accepted as a last resort.
        ("00447400123456", "US", "+447400123456", LineType.MOBILE),
        ("07400 123456", "GB", "+447400123456", LineType.MOBILE),
        ("0049 30 123456", "DE", "+4930123456", LineType.FIXED_LINE),
        ("02079460123", "GB", "+442079460123", LineType.FIXED_LINE),
        ("8005550100", "US", "+18005550100", LineType.TOLL_FREE),
        ("+1 900 555 0100", "US", "+19005550100", LineType.PREMIUM_RATE),
        ("08001234567", "GB", "+448001234567", LineType.TOLL_FREE),
    ],
)
def test_valid_numbers(raw: str, region: str, e164: str, line_type: LineType) -> None:
    number = parse_caller(raw, region)
    assert number.kind is NumberKind.VALID
    assert number.valid
    assert number.e164 == e164
    assert number.line_type is line_type
    assert number.raw == raw


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("anonymous", NumberKind.ANONYMOUS),
        ("Anonymous", NumberKind.ANONYMOUS),
        ("<unknown>", NumberKind.ANONYMOUS),
        ("unknown", NumberKind.ANONYMOUS),
        ("restricted", NumberKind.ANONYMOUS),
        ("PRIVATE", NumberKind.ANONYMOUS),
        ("withheld", NumberKind.ANONYMOUS),
        ("", NumberKind.ANONYMOUS),
        ("   ", NumberKind.ANONYMOUS),
        ("611", NumberKind.SHORT_CODE),
        ("22395", NumberKind.SHORT_CODE),
        ("898211", NumberKind.SHORT_CODE),
        ("1001", NumberKind.SHORT_CODE),  # an extension, should one ever get this far
        ("5550100", NumberKind.INVALID),  # seven digits: a DID, not a caller
        ("0000000000", NumberKind.INVALID),
        ("+999123456789", NumberKind.INVALID),
        ("sip:2125550147@carrier", NumberKind.INVALID),
        ("2125550147;ext=1", NumberKind.INVALID),
        ("+", NumberKind.INVALID),
    ],
)
def test_not_textable(raw: str, kind: NumberKind) -> None:
    number = parse_caller(raw, "US")
    assert number.kind is kind
    assert number.e164 is None
    assert number.rate_prefix(3) is None


def test_region_and_timezones() -> None:
    ny = parse_caller("2125550147", "US")
    assert (ny.region, ny.country_code, ny.national) == ("US", 1, "2125550147")
    assert ny.timezones == ("America/New_York",)
    sf = parse_caller("4155550199", "US")
    assert sf.timezones == ("America/Los_Angeles",)
    berlin = parse_caller("+4915112345678", "US")
    assert (berlin.region, berlin.timezones) == ("DE", ("Europe/Berlin",))


def test_unknown_timezone_is_left_out() -> None:
    # Toll-free numbers span every NANP zone; non-geographic ones have none.
    assert len(parse_caller("8005550100", "US").timezones) > 10
    assert all(z != "Etc/Unknown" for z in parse_caller("8005550100", "US").timezones)


@pytest.mark.parametrize(
    ("raw", "digits", "prefix"),
    [
        ("2125550147", 3, "+1212"),
        ("2125550147", 6, "+1212555"),
        ("+4915112345678", 3, "+49151"),
        ("+447400123456", 2, "+4474"),
    ],
)
def test_rate_prefix_is_a_prefix_of_e164(raw: str, digits: int, prefix: str) -> None:
    number = parse_caller(raw, "US")
    assert number.rate_prefix(digits) == prefix
    assert number.e164 is not None
    assert number.e164.startswith(prefix)


@pytest.mark.parametrize(
    ("raw", "allowed", "ok"),
    [
        ("2125550147", ("US",), True),
        ("5146710000", ("US",), False),  # Montreal: +1 but region CA
        ("5146710000", ("US", "CA"), True),
        ("5146710000", ("+1",), True),
        ("+4915112345678", ("US", "+1"), False),
        ("+4915112345678", ("*",), True),
        ("+4915112345678", ("DE",), True),
    ],
)
def test_country_allowed(raw: str, allowed: tuple[str, ...], ok: bool) -> None:
    assert country_allowed(parse_caller(raw, "US"), allowed) is ok
