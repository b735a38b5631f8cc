"""Role checks as route parameters: ``_: AnalystOnly`` lets through the roles that may.

The route table itself says who may call what (``tests/app/test_authz.py`` reads it there).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends

from retain.app.auth.roles import Permission
from retain.app.deps.principal import CurrentUser, Principal
from retain.errors import PermissionDeniedError
from retain.i18n import t

__all__ = [
    "AdminOnly",
    "AnalystOnly",
    "CanExport",
    "CanIngest",
    "CanManageKeys",
    "CanReadAtRisk",
    "CanReadAudit",
    "CanReadCustomers",
    "CanReadModels",
    "CanReadSegments",
    "CanReadSettings",
    "CanWriteSegments",
    "require",
]


def require(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets through callers whose role holds ``permission`` (else 403)."""

    async def check(principal: CurrentUser) -> Principal:
        if not principal.may(permission):
            raise PermissionDeniedError(
                t("app.forbidden", role=principal.role, permission=permission.value),
                hint=t("app.forbidden_hint"),
            )
        return principal

    check.permission = permission  # type: ignore[attr-defined]
    check.__name__ = f"require_{permission.name}"
    return check


AdminOnly = Annotated[Principal, Depends(require(Permission.users_manage))]
CanManageKeys = Annotated[Principal, Depends(require(Permission.keys_manage))]
CanReadSettings = Annotated[Principal, Depends(require(Permission.settings_read))]
CanReadAudit = Annotated[Principal, Depends(require(Permission.audit_read))]
AnalystOnly = Annotated[Principal, Depends(require(Permission.metrics_read))]
CanReadModels = Annotated[Principal, Depends(require(Permission.models_read))]
CanIngest = Annotated[Principal, Depends(require(Permission.ingest_write))]
CanReadCustomers = Annotated[Principal, Depends(require(Permission.customers_read))]
CanReadAtRisk = Annotated[Principal, Depends(require(Permission.at_risk_read))]
CanExport = Annotated[Principal, Depends(require(Permission.export))]
CanReadSegments = Annotated[Principal, Depends(require(Permission.segments_read))]
CanWriteSegments = Annotated[Principal, Depends(require(Permission.segments_write))]
