"""What every dashboard page shares: the commands that fill a missing table, and the error page.

A page whose data is not there yet says so and names the command that produces it
(:data:`MISSING_COMMANDS`); a :class:`~retain.errors.RetainError` raised while building a page
becomes a friendly page with the right status (:func:`page`).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.responses import HTMLResponse

from retain.app.deps import Principal
from retain.app.web._session import render
from retain.errors import RetainError

__all__ = ["MISSING_COMMANDS", "error_page", "page"]

MISSING_COMMANDS = {
    "orders": "retain ingest orders FILE",
    "subscriptions": "retain ingest subscriptions FILE",
    "churn_scores": "retain churn score",
    "clv_scores": "retain clv predict",
    "customers": "retain ingest customers FILE",
}


def error_page(request: Request, principal: Principal | None, exc: RetainError) -> HTMLResponse:
    """A retain error as a friendly page with the status the API would give it."""
    from retain.app.errors import status_for

    return render(
        request,
        "error.html",
        principal=principal,
        status_code=status_for(exc),
        title_key="web.error_title",
        message=exc.message,
        hint=exc.hint,
    )


def page(request: Request, principal: Principal, build: Callable[[], HTMLResponse]) -> HTMLResponse:
    """Run ``build``; a RetainError becomes a friendly page with the right status."""
    try:
        return build()
    except RetainError as exc:
        return error_page(request, principal, exc)
