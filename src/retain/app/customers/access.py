"""Which customers a caller may open: an agent only those in their own save-desk queue.

Issue #20: "the agent role sees only its queue and the customers in it". An agent (role
``agent``) may open the customer 360, the scores, the tickets and the work panel of a customer
with a save-desk case assigned to them and not yet closed; any other customer answers exactly
as a customer that does not exist (404, ``customers.not_found``), so an agent cannot learn who
is a customer by trying ids. Lists an agent reads (the at-risk list, the complaints) are
narrowed to the same customers. Every other role reading customers sees them all.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from retain.app.auth.roles import Role
from retain.errors import NotFoundError, PermissionDeniedError
from retain.i18n import t
from retain.voice.savedesk import customers_of

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from retain.app.deps import Principal
    from retain.targeting import AtRiskQuery

__all__ = [
    "check_customer",
    "deny_limited",
    "may_open",
    "narrow",
    "not_found",
    "visible_customers",
]


def visible_customers(session: Session, principal: Principal) -> frozenset[str] | None:
    """The customers ``principal`` may open, or None when its role is not limited."""
    if principal.role != Role.agent.value:
        return None
    return frozenset(customers_of(session, principal.name))


def not_found(customer_id: str) -> NotFoundError:
    """The error a customer the caller may not open answers: the one for a missing customer."""
    return NotFoundError(
        t("app.customer_not_found", id=customer_id),
        hint=t("app.customer_not_found_hint"),
        code="customers.not_found",
    )


def may_open(session: Session, principal: Principal, customer_id: str) -> bool:
    """Whether ``principal`` may open ``customer_id`` (its 360, tickets and work panel)."""
    allowed = visible_customers(session, principal)
    return allowed is None or customer_id in allowed


def check_customer(session: Session, principal: Principal, customer_id: str) -> None:
    """Raise the missing customer's 404 unless ``principal`` may open ``customer_id``."""
    if not may_open(session, principal, customer_id):
        raise not_found(customer_id)


def deny_limited(principal: Principal) -> None:
    """403 for a role limited to its queue, on a list of customers that cannot be narrowed.

    (A segment's movers, for instance: pages of customers the queue does not decide.)
    """
    if principal.role == Role.agent.value:
        raise PermissionDeniedError(
            t("app.forbidden", role=principal.role, permission="customers.list"),
            hint=t("app.forbidden_hint"),
        )


def narrow(session: Session, principal: Principal, query: AtRiskQuery) -> AtRiskQuery:
    """``query`` keeping only the customers ``principal`` may open (unchanged if unlimited)."""
    allowed = visible_customers(session, principal)
    if allowed is None:
        return query
    kept = allowed if query.customers is None else allowed & query.customers
    return replace(query, customers=kept)
