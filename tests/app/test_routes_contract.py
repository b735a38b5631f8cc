"""Every route says what it answers and who may see it, in its declaration.

JSON routes declare a pydantic response model (so FastAPI validates, filters and documents what
leaves) and never return a bare ``JSONResponse`` past it; every dashboard page declares its
permission in its signature with ``require_page``, except the pages anyone may open. The walk
covers ``app.routes`` whole, so a new route is checked the day it is added.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.routing import Mount, Route

from retain.app.main import create_app
from retain.config import Settings

OPEN_PAGES = {
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),  # any logged-in user; the form's CSRF token is checked inside
    ("GET", "/docs"),  # the API reference is public, like /openapi.json
    ("GET", "/account"),  # any logged-in user's own account (login required, no permission)
    ("POST", "/account/password"),  # the same, with the form's CSRF token checked inside
}
"""Dashboard routes with no permission: logging in and out, and the API reference."""

OPEN_OTHERS = {"/static", "/openapi.json"}
"""Routes that are not FastAPI routes: the static files and the OpenAPI document."""

PENDING: dict[tuple[str, str], str] = {}
"""Known breaches their owners are fixing; an entry must go once its route complies."""


class _Answer(BaseModel):
    """A response model for the rule checks' own example routes."""

    ok: bool


def _walk(routes: list[Any]) -> list[Any]:
    out: list[Any] = []
    for route in routes:
        if hasattr(route, "original_router"):  # an included router, kept nested
            out += _walk(route.original_router.routes)
        else:
            out.append(route)
    return out


def _is_page(route: APIRoute) -> bool:
    return str(route.endpoint.__module__).startswith("retain.app.web.")


def _is_json(route: APIRoute) -> bool:
    cls = getattr(route.response_class, "value", route.response_class)  # unwrap the default
    return issubclass(cls, JSONResponse) and route.status_code != 204


def _page_permissions(route: APIRoute) -> list[str]:
    found: list[str] = []

    def walk(dependant: Any) -> None:
        call = dependant.call
        if getattr(call, "__qualname__", "") == "require_page.<locals>.check":
            found.append(call.permission.value)
        for sub in dependant.dependencies:
            walk(sub)

    walk(route.dependant)
    return found


def _breaches(route: APIRoute) -> list[str]:
    """What is wrong with ``route`` (nothing for a compliant one)."""
    if _is_page(route):
        perms = _page_permissions(route)
        return [] if len(perms) == 1 else [f"page declares {len(perms)} page permissions"]
    if not _is_json(route):
        return []
    problems = []
    model = route.response_model
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        problems.append(f"JSON route without a pydantic response model ({model!r})")
    returned = inspect.signature(route.endpoint, eval_str=True).return_annotation
    if isinstance(returned, type) and issubclass(returned, Response):
        problems.append(f"returns {returned.__name__}, which skips the response model")
    return problems


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    folder = tmp_path_factory.mktemp("contract")
    settings = Settings(
        database_url=f"sqlite:///{folder / 'app.db'}",
        warehouse_url=f"duckdb:///{folder / 'w.duckdb'}",
    )
    return _walk(create_app(settings).routes)


def _api_routes(routes: list[Any]) -> list[tuple[str, str, APIRoute]]:
    return [
        (method, route.path, route)
        for route in routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods - {"HEAD"})
    ]


def test_every_route_declares_its_answer_and_its_permission(routes: list[Any]) -> None:
    failures = []
    for method, path, route in _api_routes(routes):
        if (method, path) in OPEN_PAGES or (method, path) in PENDING:
            continue
        failures += [f"{method} {path}: {problem}" for problem in _breaches(route)]
    assert not failures, "\n".join(failures)


def test_only_the_listed_routes_are_not_fastapi_routes(routes: list[Any]) -> None:
    others = {r.path for r in routes if not isinstance(r, APIRoute)}
    assert all(isinstance(r, Mount | Route) for r in routes)
    assert others == OPEN_OTHERS


def test_open_pages_exist_and_declare_no_permission(routes: list[Any]) -> None:
    table = {(m, p): r for m, p, r in _api_routes(routes)}
    for key in OPEN_PAGES:
        assert key in table, f"{key} is allowed open but is not a route any more"
        assert _is_page(table[key]) and _page_permissions(table[key]) == [], key


def test_pending_entries_are_still_needed(routes: list[Any]) -> None:
    """An entry whose route now complies must leave PENDING, so the list cannot go stale."""
    table = {(m, p): r for m, p, r in _api_routes(routes)}
    stale = [key for key in PENDING if key not in table or not _breaches(table[key])]
    assert not stale, f"remove from PENDING: {stale}"


def test_the_checks_catch_a_bare_json_response_and_an_undeclared_page() -> None:
    """The rules themselves: a route returning JSONResponse past its model, a dict model, and a
    page without ``require_page`` are each reported."""
    from fastapi import APIRouter, FastAPI

    from retain.app.web._session import PageUser

    router = APIRouter()

    @router.get("/api/v1/bare", response_model=_Answer)
    def bare() -> JSONResponse:
        return JSONResponse({"ok": True})

    @router.get("/api/v1/loose")
    def loose() -> dict[str, bool]:
        return {"ok": True}

    @router.get("/api/v1/fine")
    def fine() -> _Answer:
        return _Answer(ok=True)

    app = FastAPI()
    app.include_router(router)
    page = APIRoute("/page", lambda principal: None, methods=["GET"])
    page.endpoint.__module__ = "retain.app.web.example"

    def open_page(principal: PageUser) -> None:
        del principal

    undeclared = APIRoute("/undeclared", open_page, methods=["GET"])
    undeclared.endpoint.__module__ = "retain.app.web.example"
    found = {
        r.path: _breaches(r)
        for r in [*_walk(app.routes), page, undeclared]
        if isinstance(r, APIRoute)
    }
    assert "skips the response model" in " ".join(found["/api/v1/bare"])
    assert "without a pydantic response model" in " ".join(found["/api/v1/loose"])
    assert found["/api/v1/fine"] == []
    assert found["/page"] == ["page declares 0 page permissions"]
    assert found["/undeclared"] == ["page declares 0 page permissions"]


def _openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("openapi")
    settings = Settings(
        database_url=f"sqlite:///{folder / 'app.db'}",
        warehouse_url=f"duckdb:///{folder / 'w.duckdb'}",
    )
    spec: dict[str, Any] = create_app(settings).openapi()
    return spec


MOMENT_NAMES = {"at", "as_of", "expected_at"}
"""Property names of moments besides ``*_at`` (which are moments by name)."""


def _declares_date_time(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", [schema])
    return any(o.get("format") == "date-time" for o in options)


def test_every_moment_in_a_body_is_declared_a_date_time(tmp_path_factory) -> None:
    """Moments are declared ``date-time`` (RFC 3339: with an offset), not free text."""
    spec = _openapi(tmp_path_factory)
    undeclared = [
        f"{name}.{prop}"
        for name, model in spec["components"]["schemas"].items()
        for prop, schema in (model.get("properties") or {}).items()
        if (prop in MOMENT_NAMES or prop.endswith("_at")) and not _declares_date_time(schema)
    ]
    assert not undeclared, undeclared


def test_routes_document_their_error_statuses_with_the_error_body(tmp_path_factory) -> None:
    spec = _openapi(tmp_path_factory)
    paths = spec["paths"]
    at_risk = paths["/api/v1/customers/at-risk"]["get"]["responses"]
    assert {"401", "403", "404", "422", "429", "503"} <= set(at_risk)
    assert "Retry-After" in at_risk["429"]["headers"]
    assert "Retry-After" in at_risk["503"]["headers"]
    assert {"400", "401", "403", "409", "413", "422"} <= set(
        paths["/api/v1/users"]["post"]["responses"]
    )
    assert "404" in paths["/api/v1/models/card"]["get"]["responses"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorBody"), (method, path, status, ref)
            assert "401" in operation["responses"], (method, path)  # every API route needs a caller


def _is_utc_moment(text: Any) -> bool:
    import datetime as dt

    return isinstance(text, str) and dt.datetime.fromisoformat(text).utcoffset() == dt.timedelta(0)


def test_moments_leave_with_their_utc_offset(client, keys) -> None:
    from _app_helpers import headers

    admin = headers(keys["admin"])
    key = client.get("/api/v1/keys", headers=admin).json()["data"][0]
    assert key["created_at"].endswith("Z") and _is_utc_moment(key["created_at"])
    client.get("/api/v1/customers/c1", headers=admin)  # contact details: audited
    entry = client.get("/api/v1/audit", headers=admin).json()["data"][0]
    assert _is_utc_moment(entry["at"])
    page = client.get("/api/v1/customers/at-risk", headers=admin).json()
    assert _is_utc_moment(page["as_of"]) and _is_utc_moment(page["data"][0]["as_of"])
    c1 = client.get("/api/v1/customers/c1", headers=admin).json()
    assert all(_is_utc_moment(item["at"]) for item in c1["timeline"])
    assert all(_is_utc_moment(order["ordered_at"]) for order in c1["orders"])
    assert all(_is_utc_moment(row["as_of"]) for row in c1["churn"])
