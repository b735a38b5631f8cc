"""What a route reads off the request itself: a path id, whether it writes, the language."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request

from retain.i18n import LANGUAGES, normalize_language

__all__ = ["LANG_COOKIE", "SAFE_METHODS", "IdPath", "request_language"]

LANG_COOKIE = "retain_lang"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""The methods that change nothing: every other one writes (and, from a cookie, needs CSRF)."""

IdPath = Annotated[int, Path(ge=1, le=2**53, description="Numeric id.")]
"""A numeric id in a path, bounded so every database can hold it."""


def request_language(request: Request) -> str:
    """``?lang=``, then the language cookie, then Accept-Language, then the configured language."""
    query = request.query_params.get("lang")
    if query and query in LANGUAGES:
        return query
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie and cookie in LANGUAGES:
        return cookie
    accept = request.headers.get("accept-language", "")
    for part in accept.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return normalize_language(code)
    return str(request.app.state.settings.language)
