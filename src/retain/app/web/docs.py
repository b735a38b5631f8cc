"""Dashboard page for the REST API reference, rendered from the OpenAPI schema."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from retain.app.web._session import render
from retain.errors import RetainError

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    """The REST API reference, rendered from the OpenAPI schema (no CDN assets)."""
    from retain.app.auth.roles import PERMISSIONS
    from retain.app.deps import current_principal

    principal = None
    try:
        principal = current_principal(request)
    except RetainError:
        principal = None
    schema = request.app.openapi()
    routes = [
        {
            "method": method.upper(),
            "path": path,
            "summary": op.get("summary", ""),
            "description": op.get("description", ""),
            "tag": (op.get("tags") or [""])[0],
            "params": [p["name"] for p in op.get("parameters", [])],
        }
        for path, ops in schema.get("paths", {}).items()
        for method, op in ops.items()
    ]
    roles = {p.value: sorted(r.value for r in rs) for p, rs in PERMISSIONS.items()}
    return render(
        request,
        "api_docs.html",
        principal=principal,
        title_key="web.nav_api",
        routes=routes,
        roles=roles,
    )
