"""The at-risk list's page cursor: the last row's sort value and customer id, opaque to callers.

Keyset paging: the next page starts strictly after ``(value, customer_id)`` in the list's order,
so a page never repeats or skips a row however deep the caller pages. The cursor is URL-safe
base64 of a two-item JSON list; anything else is refused with one error.
"""

from __future__ import annotations

import base64
import binascii
import json

from retain.errors import InvalidParameterError
from retain.i18n import t

__all__ = ["bad_cursor", "decode_cursor", "encode_cursor"]


def bad_cursor() -> InvalidParameterError:
    """The one error for a cursor this code did not issue (or issued for another sort)."""
    return InvalidParameterError(
        t("targeting.bad_cursor"), hint=t("targeting.bad_cursor_hint"), code="parameter.cursor"
    )


def encode_cursor(value: float | None, customer_id: str) -> str:
    """The cursor after a row whose sort value is ``value`` (None when sorting by id)."""
    raw = json.dumps([value, customer_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float | None, str]:
    """``(value, customer_id)`` from ``cursor``; :func:`bad_cursor` when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, customer_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error):
        raise bad_cursor() from None
    if not isinstance(customer_id, str) or isinstance(value, bool):
        raise bad_cursor()
    if value is not None and not isinstance(value, int | float):
        raise bad_cursor()
    return (float(value) if value is not None else None), customer_id
