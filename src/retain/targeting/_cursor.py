"""The at-risk list's page cursor: the last row's sort value and customer id, opaque to callers.

Keyset paging: the next page starts strictly after ``(value, customer_id)`` in the list's order
(``(value, probability, customer_id)`` when ties in value are broken by probability), so a page
never repeats or skips a row however deep the caller pages. The cursor is URL-safe base64 of a
two- or three-item JSON list; anything else is refused with one error.
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


def encode_cursor(value: float | None, customer_id: str, tie: float | None = None) -> str:
    """The cursor after a row whose sort value is ``value`` (None when sorting by id).

    ``tie`` is the row's probability when the order breaks ties in value by it.
    """
    items: list[object] = [value, customer_id] if tie is None else [value, customer_id, tie]
    raw = json.dumps(items, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _number(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_cursor()
    return float(value)


def decode_cursor(cursor: str) -> tuple[float | None, str, float | None]:
    """``(value, customer_id, tie)`` from ``cursor``; :func:`bad_cursor` when not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        items = json.loads(raw)
        value, customer_id, *rest = items
    except (ValueError, TypeError, binascii.Error):
        raise bad_cursor() from None
    if not isinstance(customer_id, str) or len(rest) > 1:
        raise bad_cursor()
    return _number(value), customer_id, _number(rest[0]) if rest else None
