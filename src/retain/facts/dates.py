"""Date arguments: what a caller may pass as a reference date, and how it is read."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from retain.errors import InvalidParameterError
from retain.i18n import t

__all__ = ["DateLike", "as_timestamp", "parse_timestamp"]

DateLike = str | dt.date | dt.datetime | pd.Timestamp
"""A date or moment: an ISO string (``"2024-06-01"``), a ``date``, a ``datetime`` or a Timestamp."""


def parse_timestamp(value: DateLike, *, name: str) -> pd.Timestamp:
    """``value`` as a :class:`pandas.Timestamp`, kept as given (aware or naive).

    ``name`` is the argument's name, used in the error for a value that is not a date.
    """
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InvalidParameterError(
            t("facts.bad_date", name=name, value=repr(value)), hint=t("facts.bad_date_hint")
        ) from exc
    if pd.isna(ts):
        raise InvalidParameterError(t("facts.empty_date", name=name), hint=t("facts.bad_date_hint"))
    return ts


def as_timestamp(value: DateLike, *, name: str = "as_of") -> pd.Timestamp:
    """``value`` as a naive UTC :class:`pandas.Timestamp` (the warehouse's convention).

    An aware value is converted to UTC; a naive one is taken as UTC already.
    """
    ts = parse_timestamp(value, name=name)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts
