"""Where a number is: its country, and for +1 numbers its US state or Canadian province.

The place comes from the numbering plan, not from a lookup: phonenumbers' offline geocoder
names the state or province of a North American number from its area code (and, where an
area code is shared, its exchange), either as the state's name (``"Texas"``) or as a city
and the state's postal code (``"New York, NY"``). An overlay area code names the same state
as the one it overlays. Numbers it cannot place — toll-free, non-geographic, or a prefix
it does not know — have no state, and the federal rule alone applies to them.

Several state laws presume that a number with one of their area codes belongs to someone in
the state (Conn. Gen. Stat. § 42-288(c); Florida's and Oklahoma's Telephone Solicitation Acts
likewise), so the area code's state is the right one to apply even when the caller moved.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

import phonenumbers
from phonenumbers import NumberParseException, geocoder

#: US states, DC and the territories in the +1 plan, by the name the geocoder uses.
US_STATES: Final = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV",
    "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY",
    "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK",
    "Oregon": "OR", "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC",
    "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT",
    "Virginia": "VA", "Washington": "WA", "West Virginia": "WV", "Wisconsin": "WI",
    "Wyoming": "WY", "Washington D.C.": "DC", "District of Columbia": "DC",
}  # fmt: skip
#: Canadian provinces and territories, by the name the geocoder uses.
CA_PROVINCES: Final = {
    "Alberta": "AB", "British Columbia": "BC", "Manitoba": "MB", "New Brunswick": "NB",
    "Newfoundland and Labrador": "NL", "Nova Scotia": "NS", "Ontario": "ON",
    "Prince Edward Island": "PE", "Quebec": "QC", "Saskatchewan": "SK",
    "Northwest Territories": "NT", "Nunavut": "NU", "Yukon": "YT",
    "Nova Scotia/Prince Edward Island": "NS",
}  # fmt: skip
_NAMES: Final = {
    "US": {code: name for name, code in US_STATES.items()},
    "CA": {code: name for name, code in CA_PROVINCES.items()},
}
_BY_NAME: Final = {"US": US_STATES, "CA": CA_PROVINCES}


@dataclass(frozen=True, slots=True)
class Place:
    """A number's country (ISO region) and state or province (postal code), when known."""

    country: str | None
    subdivision: str | None = None

    @property
    def name(self) -> str:
        """``Texas``, ``Ontario``, ``GB`` or ``unknown place``, for decisions and logs."""
        if self.country and self.subdivision:
            return _NAMES.get(self.country, {}).get(self.subdivision, self.subdivision)
        return self.country or "unknown place"


UNKNOWN: Final = Place(None)


def _subdivision(country: str, description: str) -> str | None:
    names = _BY_NAME.get(country)
    if names is None or not description:
        return None
    if description in names:
        return names[description]
    # "New York, NY": a city and the postal code of its state or province.
    _, _, code = description.rpartition(", ")
    return code if code in _NAMES[country] else None


@functools.lru_cache(maxsize=4096)
def place_of(e164: str | None) -> Place:
    """The place of an E.164 number; :data:`UNKNOWN` for no number or an unparsable one."""
    if not e164:
        return UNKNOWN
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return UNKNOWN
    country = phonenumbers.region_code_for_number(number)
    if not country or country == "001":
        return UNKNOWN
    if number.country_code != 1:
        return Place(country)
    description = geocoder.description_for_number(number, "en")
    return Place(country, _subdivision(country, description))
