"""Closed vocabularies of customer columns: ISO 3166-1 countries, BCP 47 languages, IANA zones.

The country codes come from CLDR (through babel, already a dependency) minus the codes CLDR
adds that ISO 3166-1 does not assign (``EU``, ``XK``, ``ZZ``...); the time zones from the IANA
database Python ships (``zoneinfo``). Validation checks these as SQL over the whole batch.
"""

from __future__ import annotations

import zoneinfo
from functools import cache

from babel import Locale

__all__ = ["LANGUAGE_PATTERN", "countries", "time_zones"]

_NOT_ISO = frozenset(
    {"AC", "CP", "CQ", "DG", "EA", "IC", "TA", "EU", "EZ", "UN", "ZZ", "QO", "XA", "XB", "XK"}
)
LANGUAGE_PATTERN = r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*"
"""A BCP 47 tag: a 2-3 letter primary language subtag (ISO 639), then optional subtags."""


@cache
def countries() -> tuple[str, ...]:
    """The 249 ISO 3166-1 alpha-2 country codes, upper case."""
    return tuple(
        sorted(
            code
            for code in map(str, Locale("en").territories)
            if len(code) == 2 and code.isalpha() and code not in _NOT_ISO
        )
    )


@cache
def time_zones() -> tuple[str, ...]:
    """Every IANA time zone name known to this Python (``Asia/Tokyo``, ``UTC``...)."""
    return tuple(sorted(zoneinfo.available_timezones()))
