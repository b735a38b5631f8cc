"""What the OpenAPI document promises beyond the success body: error statuses and UTC datetimes.

Every JSON error leaves in one shape (:mod:`retain.app.errors`); :func:`document_errors` lists,
for each route, the statuses it can answer with that shape, read from what the route depends on:

- 401 when it needs a caller, 403 when it needs a permission (or a CSRF token);
- 404 when it names something in its path or reads the warehouse (an unknown customer, saved
  segment, model or line); 400, 409 and 413 when it takes a body (one that cannot be read, a
  name taken, an idempotency key in use, a body over the limit); 422 for its parameters and
  body;
- 429 where it counts calls (the at-risk list), 503 when it holds the warehouse (the service
  sheds load rather than queueing), both with ``Retry-After``.

:data:`UtcDateTime` is how a body declares a moment: the stores keep naive UTC, and the API
always writes the offset (``Z``), so a client never has to guess the zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, Field

__all__ = [
    "ErrorBody",
    "ErrorDetail",
    "UtcDateTime",
    "document_errors",
    "error_responses",
    "statuses_of",
    "utc",
    "utc_text",
]


def utc(value: dt.datetime) -> dt.datetime:
    """``value`` as an aware UTC datetime (naive values are UTC, the stores' convention)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


UtcDateTime = Annotated[dt.datetime, AfterValidator(utc)]
"""A moment in a body: parsed as UTC when naive, written as ISO 8601 with ``Z``."""


def utc_text(value: Any) -> Any:
    """ISO text of a moment with its UTC offset (``Z``); anything else unchanged.

    For rows read from the warehouse (JSON-ready text such as ``2024-06-30T00:00:00``) whose
    column is a timestamp: naive text is UTC. Dates without a time and non-dates pass through.
    """
    if isinstance(value, dt.datetime):
        return utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, str) and "T" in value:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        return utc(parsed).isoformat().replace("+00:00", "Z")
    return value


class ErrorDetail(BaseModel):
    """One problem with the request (a field, its rule and a message), when the error has any."""

    model_config = {"extra": "allow"}

    field: str | None = None
    rule: str | None = None
    message: str | None = None


class ErrorInfo(BaseModel):
    """What went wrong: a stable code, a message in the request's language, details, a hint."""

    code: str = Field(description="Stable machine-readable code, e.g. customers.not_found")
    message: str
    details: list[ErrorDetail]
    hint: str | None = Field(None, description="What to do about it, when there is advice")


class ErrorBody(BaseModel):
    """The one shape of every JSON error response."""

    error: ErrorInfo
    status: int = Field(description="The HTTP status, repeated for clients that lose it")


_WHY = {
    400: "The body cannot be read (not JSON, or not in its declared encoding)",
    401: "No valid API key or login session",
    403: "The caller's role lacks the permission (or a cookie request lacks its CSRF token)",
    404: "Something the request names does not exist",
    409: "Conflicts with what is stored (a name taken, a request with the same key in progress)",
    413: "The request body is over the service's limit",
    422: "A parameter or the body is invalid",
    429: "Too many requests from this caller; retry after Retry-After seconds",
    503: "The service is busy; retry after Retry-After seconds",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses`` entries for ``statuses``, each with the error body (and Retry-After)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody, "description": _WHY[status]}
        if status in (429, 503):
            entry["headers"] = _RETRY_AFTER
        out[status] = entry
    return out


def _calls(dependant: Dependant) -> Iterable[Any]:
    yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def _has_params(dependant: Dependant) -> bool:
    if dependant.path_params or dependant.query_params or dependant.header_params:
        return True
    if dependant.body_params or dependant.cookie_params:
        return True
    return any(_has_params(sub) for sub in dependant.dependencies)


COUNTED: frozenset[str] = frozenset({"/api/v1/customers/at-risk"})
"""Routes that count calls per caller (:mod:`retain.app.auth.caps`) and may answer 429."""


def statuses_of(route: APIRoute) -> list[int]:
    """The error statuses ``route`` can answer with, from its dependencies, path and method."""
    names = {getattr(call, "__name__", "") for call in _calls(route.dependant)}
    permission = any(getattr(call, "permission", None) for call in _calls(route.dependant))
    methods = set(route.methods or ())
    sends = bool(methods & {"POST", "PUT", "PATCH"})
    writes = sends or "DELETE" in methods
    warehouse = "hold_warehouse" in names
    found: set[int] = set()
    if "current_principal" in names:
        found.add(401)
    if permission or (writes and "current_principal" in names):
        found.add(403)
    if route.dependant.path_params or warehouse or (writes and methods != {"POST"}):
        found.add(404)
    if sends:
        found |= {400, 409, 413}
    if sends or _has_params(route.dependant):
        found.add(422)
    if route.path in COUNTED:
        found.add(429)
    if warehouse:
        found.add(503)
    return sorted(found)


def document_errors(target: Any) -> None:
    """Add the error responses to every API route of ``target`` (an app or a router).

    Idempotent, and a route's own ``responses`` entries win. Call it after the routes exist:
    at the bottom of a router module, or on the app once its routers are included (the app's
    OpenAPI document is built on first request, so that is early enough).
    """
    for route in getattr(target, "routes", ()):
        included = getattr(route, "original_router", None)  # FastAPI keeps included routers
        if included is not None:
            document_errors(included)
        elif isinstance(route, APIRoute) and route.path.startswith("/api/"):
            wanted = error_responses(*statuses_of(route))
            route.responses = {**wanted, **route.responses}
