"""One error shape for every failure: ``{"error": {"code", "message", "details"}, "status"}``.

:class:`~retain.errors.RetainError` subclasses map to HTTP statuses here (and only here); request
validation errors, unknown routes and unexpected exceptions use the same shape, so a client needs
one parser. Messages are in the request's language (``?lang=``, the ``retain_lang`` cookie,
``Accept-Language``, then the configured language).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from retain.errors import (
    ConfigError,
    ConflictError,
    DataValidationError,
    InvalidParameterError,
    NotFoundError,
    PermissionDeniedError,
    RetainError,
    TooManyRequestsError,
    UnsupportedBackendError,
)
from retain.i18n import t
from retain.warehouse import WarehouseBusyError

__all__ = [
    "NotAuthenticatedError",
    "PayloadTooLargeError",
    "ServiceBusyError",
    "error_body",
    "install_error_handlers",
    "status_for",
    "unexpected_error",
]

log = logging.getLogger("retain.app")


class NotAuthenticatedError(RetainError):
    """The request carries no valid API key or login session (HTTP 401)."""

    default_code = "auth.required"


class PayloadTooLargeError(RetainError):
    """The request body exceeds ``service.max_request_bytes`` or a batch limit (HTTP 413)."""

    default_code = "request.too_large"


class ServiceBusyError(RetainError):
    """The service has as many requests in progress as it admits; retry shortly (HTTP 503)."""

    default_code = "service.busy"

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = max(1, int(retry_after))


_STATUS: tuple[tuple[type[RetainError], int], ...] = (
    (ServiceBusyError, 503),
    (WarehouseBusyError, 503),
    (NotAuthenticatedError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (PayloadTooLargeError, 413),
    (TooManyRequestsError, 429),
    (DataValidationError, 422),
    (InvalidParameterError, 422),
    (ConfigError, 500),
    (UnsupportedBackendError, 500),
)


def status_for(exc: RetainError) -> int:
    """The HTTP status of a retain error (400 for any kind not listed)."""
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 400


def error_body(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    hint: str | None = None,
) -> dict[str, Any]:
    """The canonical error document."""
    error: dict[str, Any] = {"code": code, "message": message, "details": details or []}
    if hint:
        error["hint"] = hint
    return {"error": error, "status": status}


def _details(exc: RetainError) -> list[dict[str, Any]]:
    if isinstance(exc, DataValidationError):
        return [{"field": v.column, **v.as_dict()} for v in exc.violations]
    return []


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


async def _retain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RetainError)
    status = status_for(exc)
    if status >= 500 and status != 503:
        log.error("%s %s failed: %s", request.method, request.url.path, exc.code)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, TooManyRequestsError | ServiceBusyError | WarehouseBusyError):
        headers = {"Retry-After": str(exc.retry_after)}
    return _json(
        status, error_body(status, exc.code, exc.message, _details(exc), exc.hint), headers
    )


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        field = ".".join(p for p in loc if p not in {"body", "query", "path", "header", "cookie"})
        details.append(
            {
                "field": field or None,
                "rule": err.get("type"),
                "message": err.get("msg"),
                "location": loc[0] if loc else None,
            }
        )
    message = t("app.invalid_request", count=len(details))
    return _json(422, error_body(422, "request.invalid", message, details))


_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    401: "auth.required",
    403: "permission_denied",
    413: "request.too_large",
}


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _HTTP_CODES.get(status, f"http.{status}")
    key = {404: "app.route_not_found", 405: "app.method_not_allowed"}.get(status)
    message = t(key) if key else str(exc.detail)
    return _json(status, error_body(status, code, message), getattr(exc, "headers", None))


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """The logged, canonical 500 for an exception no other handler knows."""
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return _json(500, error_body(500, "internal", t("app.internal_error")))


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error the canonical shape."""
    app.add_exception_handler(RetainError, _retain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Starlette answers these in its outermost middleware and then re-raises, which makes the
    # server drop the connection; retain.app.main.ErrorBoundary answers them first.
    app.add_exception_handler(Exception, unexpected_error)
