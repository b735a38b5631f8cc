"""Roles and what each may do, exactly as issue 8 states them.

- ``admin``: users, API keys, settings, the audit log, and everything an analyst may do;
- ``analyst``: read everything, run models, export;
- ``agent``: customer 360 and the at-risk work list only, no bulk export; since issue 20 only
  for the customers in the agent's own save-desk queue (:mod:`retain.app.customers.access`);
- ``ingest``: write events, orders and customers only.

Customer PII (email, phone) is shown only to ``admin`` and ``agent`` (an agent calls or writes to
the customer); analysts see it masked.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["PERMISSIONS", "Permission", "Role", "allowed_roles", "may"]


class Role(StrEnum):
    """A user's or API key's role."""

    admin = "admin"
    analyst = "analyst"
    agent = "agent"
    ingest = "ingest"


class Permission(StrEnum):
    """One thing a route needs; each route depends on exactly one."""

    ingest_write = "ingest.write"
    customers_read = "customers.read"
    customers_pii = "customers.pii"
    at_risk_read = "at_risk.read"
    export = "export"
    metrics_read = "metrics.read"
    models_read = "models.read"
    segments_read = "segments.read"
    segments_write = "segments.write"
    playbooks_write = "playbooks.write"
    users_manage = "users.manage"
    keys_manage = "keys.manage"
    settings_read = "settings.read"
    audit_read = "audit.read"


_A, _N, _G, _I = Role.admin, Role.analyst, Role.agent, Role.ingest

PERMISSIONS: dict[Permission, frozenset[Role]] = {
    Permission.ingest_write: frozenset({_A, _I}),
    Permission.customers_read: frozenset({_A, _N, _G}),
    Permission.customers_pii: frozenset({_A, _G}),
    Permission.at_risk_read: frozenset({_A, _N, _G}),
    Permission.export: frozenset({_A, _N}),
    Permission.metrics_read: frozenset({_A, _N}),
    Permission.models_read: frozenset({_A, _N}),
    Permission.segments_read: frozenset({_A, _N}),
    Permission.segments_write: frozenset({_A, _N}),
    Permission.playbooks_write: frozenset({_A, _N}),
    Permission.users_manage: frozenset({_A}),
    Permission.keys_manage: frozenset({_A}),
    Permission.settings_read: frozenset({_A}),
    Permission.audit_read: frozenset({_A}),
}


def allowed_roles(permission: Permission) -> frozenset[Role]:
    """The roles holding ``permission``."""
    return PERMISSIONS[permission]


def may(role: str, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission``."""
    return role in {r.value for r in PERMISSIONS[permission]}
