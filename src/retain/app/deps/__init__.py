"""FastAPI dependencies: settings, app-database session, warehouse, the caller and role checks.

Routes stay short: a lookup or a role check is a parameter (``_: AnalystOnly``), so the route table
itself says who may call what (``tests/app/test_authz.py`` reads it from there).

The modules, each one job (import the names from here, the package is the public door):

``app_state``
    :data:`SettingsDep` and :data:`SessionDep`: the app's settings, an app-database session.
``request``
    :data:`IdPath`, the safe methods and :func:`request_language`.
``principal``
    Authentication: :class:`Principal`, :data:`CurrentUser`, :func:`current_principal`.
``roles``
    Role checks: :func:`require` and the aliases (:data:`AnalystOnly`, :data:`CanExport`, ...).
``warehouse``
    The shared :class:`Warehouse` handle and the :class:`LockedWarehouse` a route uses.
``warehouse_access``
    :data:`LockedWarehouseDep`: a route's turn at the warehouse (admission, lock, reads).
"""

from __future__ import annotations

from retain.app.deps.app_state import SessionDep, SettingsDep, get_session, get_settings_dep
from retain.app.deps.principal import (
    API_KEY_HEADER,
    CSRF_HEADER,
    SESSION_COOKIE,
    CurrentUser,
    Principal,
    current_principal,
)
from retain.app.deps.request import LANG_COOKIE, IdPath, request_language
from retain.app.deps.roles import (
    AdminOnly,
    AnalystOnly,
    CanExport,
    CanIngest,
    CanManageKeys,
    CanReadAtRisk,
    CanReadAudit,
    CanReadCustomers,
    CanReadModels,
    CanReadSegments,
    CanReadSettings,
    CanWriteSegments,
    require,
)
from retain.app.deps.warehouse import MAX_IN_FLIGHT, LockedWarehouse, Warehouse
from retain.app.deps.warehouse_access import (
    LockedWarehouseDep,
    WarehouseDep,
    get_warehouse,
    hold_warehouse,
)

__all__ = [
    "API_KEY_HEADER",
    "CSRF_HEADER",
    "LANG_COOKIE",
    "MAX_IN_FLIGHT",
    "SESSION_COOKIE",
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
    "CurrentUser",
    "IdPath",
    "LockedWarehouse",
    "LockedWarehouseDep",
    "Principal",
    "SessionDep",
    "SettingsDep",
    "Warehouse",
    "WarehouseDep",
    "current_principal",
    "get_session",
    "get_settings_dep",
    "get_warehouse",
    "hold_warehouse",
    "request_language",
    "require",
]
