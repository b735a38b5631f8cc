"""Customer 360: everything known about one customer.

Profile, orders, events, subscriptions, interactions, scores and CLV, merged into
one timeline. Each fact table contributes its newest ``TIMELINE_LIMIT`` rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir

from retain import warehouse as wh
from retain.app._frames import parse_json_text
from retain.app._openapi import utc_text
from retain.app._reads import Reads
from retain.app.audit import service as audit
from retain.app.auth.roles import Permission
from retain.errors import NotFoundError
from retain.i18n import t
from retain.models.churn.reasons import render_stored_reasons
from retain.models.clv.next_order import UNLIKELY_BELOW, WINDOWS_DAYS
from retain.schema import CUSTOMERS, TABLES
from retain.targeting import CHURN_RECENCY, CLV_RECENCY, latest_per_definition

if TYPE_CHECKING:
    from ibis.backends import BaseBackend
    from sqlalchemy.orm import Session

    from retain.app.deps import Principal

__all__ = ["TIMELINE_LIMIT", "customer_360", "customer_scores", "read_customer"]

TIMELINE_LIMIT = 200
CHURN_ROWS = 50
"""A customer's newest churn rows read to find the latest per definition."""

_FACTS: dict[str, str] = {
    "orders": "ordered_at",
    "events": "occurred_at",
    "subscriptions": "started_at",
    "interactions": "occurred_at",
}


def _in_utc(table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` of ``table`` with each timestamp column as ISO text with its offset (UTC)."""
    moments = [c.name for c in TABLES[table].columns if c.kind == "timestamp"]
    for row in rows:
        for name in moments:
            if name in row:
                row[name] = utc_text(row[name])
    return rows


def _fact_query(name: str, order: str, limit: int) -> Any:
    def build(con: BaseBackend, customer_id: str) -> ir.Table:
        table = wh.read_table(con, name)
        return (
            table.filter(table.customer_id == customer_id)
            .order_by(table[order].desc())
            .limit(limit)
        )

    return build


def _profile_query(con: BaseBackend, customer_id: str) -> ir.Table:
    customers = wh.read_table(con, "customers")
    return customers.filter(customers.customer_id == customer_id).limit(1)


def _newest_first(name: str, recency: tuple[str, ...], limit: int) -> Any:
    """A customer's rows of score table ``name``, newest first by ``recency``."""

    def build(con: BaseBackend, customer_id: str) -> ir.Table:
        scores = wh.read_table(con, name)
        return (
            scores.filter(scores.customer_id == customer_id)
            .order_by([scores[c].desc() for c in recency])
            .limit(limit)
        )

    return build


def _churn_rows(reads: Reads, customer_id: str, lang: str | None) -> list[dict[str, Any]]:
    """The latest churn score per definition (:mod:`retain.targeting.scores`), reasons rendered.

    Read from the serving index in :data:`~retain.targeting.CHURN_RECENCY` order, so the
    score shown here is the one the at-risk list uses.
    """
    if not reads.has("churn_scores"):
        return []
    query = _newest_first("churn_scores", CHURN_RECENCY, CHURN_ROWS)
    rows = reads.lookup("churn_scores", CHURN_RECENCY, customer_id, CHURN_ROWS, query)
    latest = latest_per_definition(_in_utc("churn_scores", rows))
    for row in latest:
        row["reasons"] = render_stored_reasons(row.get("reasons"), lang=lang)
    return latest


def _clv_row(reads: Reads, customer_id: str) -> dict[str, Any] | None:
    """The latest CLV score (newest by :data:`~retain.targeting.CLV_RECENCY`)."""
    if not reads.has("clv_scores"):
        return None
    query = _newest_first("clv_scores", CLV_RECENCY, 1)
    rows = reads.lookup("clv_scores", CLV_RECENCY, customer_id, 1, query)
    return _in_utc("clv_scores", rows)[0] if rows else None


def _next_order(clv: dict[str, Any] | None) -> dict[str, Any] | None:
    """The next expected order from a CLV row; None without one or for rows scored before it.

    ``unlikely`` when the customer is more likely gone than active (P(alive) below
    :data:`~retain.models.clv.next_order.UNLIKELY_BELOW`): no date is given then.
    """
    if clv is None:
        return None
    chances = {f"probability_{d}d": clv.get(f"probability_order_{d}d") for d in WINDOWS_DAYS}
    if all(v is None for v in chances.values()):
        return None
    alive = clv.get("probability_alive")
    unlikely = alive is not None and alive < UNLIKELY_BELOW
    expected = None if unlikely else clv.get("next_order_at")
    return {"expected_at": expected, "unlikely": unlikely, **chances}


def _alive_note(clv: dict[str, Any] | None, lang: str | None) -> str | None:
    """Why a one-time buyer shows P(alive) = 100 % (BG/NBD drops customers only after a repeat).

    Shown next to the figure so it is not read against the churn risk: the model has no
    evidence either way until a second purchase, so the figure says nothing about them.
    """
    if clv is None or clv.get("frequency") != 0 or (clv.get("probability_alive") or 0) < 1:
        return None
    return t("clv.alive_one_time_note", lang=lang)


def customer_scores(reads: Reads, customer_id: str, *, lang: str | None = None) -> dict[str, Any]:
    """The latest churn score per definition and the latest CLV; 404 when the customer has none."""
    churn = _churn_rows(reads, customer_id, lang)
    clv = _clv_row(reads, customer_id)
    if not churn and clv is None:
        raise NotFoundError(
            t("app.no_scores", id=customer_id),
            hint=t("app.no_scores_hint"),
            code="customers.no_scores",
        )
    return {
        "customer_id": customer_id,
        "churn": churn,
        "clv": clv,
        "next_order": _next_order(clv),
        "probability_alive_note": _alive_note(clv, lang),
    }


def _title(kind: str, row: dict[str, Any]) -> str:
    if kind == "order":
        return t("app.tl_order", id=row.get("order_id"), status=row.get("status") or "")
    if kind == "event":
        return t("app.tl_event", name=row.get("name"))
    if kind == "subscription_start":
        return t("app.tl_sub_start", plan=row.get("plan"))
    if kind == "subscription_end":
        return t("app.tl_sub_end", plan=row.get("plan"), reason=row.get("cancel_reason") or "-")
    if kind == "interaction":
        return t("app.tl_interaction", kind=row.get("kind"), channel=row.get("channel") or "-")
    band = row.get("risk_band")
    return t("app.tl_score", band=t(f"web.band_{band}") if band else "-")


def _timeline(
    facts: dict[str, list[dict[str, Any]]], churn: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [
        {"at": row.get("ordered_at"), "kind": "order", "detail": row} for row in facts["orders"]
    ]
    items += [
        {"at": row.get("occurred_at"), "kind": "event", "detail": row} for row in facts["events"]
    ]
    for row in facts["subscriptions"]:
        items.append({"at": row.get("started_at"), "kind": "subscription_start", "detail": row})
        if row.get("ended_at"):
            items.append({"at": row["ended_at"], "kind": "subscription_end", "detail": row})
    items += [
        {"at": row.get("occurred_at"), "kind": "interaction", "detail": row}
        for row in facts["interactions"]
    ]
    items += [
        {
            "at": row.get("scored_at") or row.get("as_of"),
            "kind": "score",
            "detail": {k: v for k, v in row.items() if k != "reasons"},
        }
        for row in churn
    ]
    for item in items:
        item["title"] = _title(item["kind"], item["detail"])
    items.sort(key=lambda i: i["at"] or "", reverse=True)
    return items


def customer_360(
    reads: Reads,
    customer_id: str,
    *,
    pii: bool,
    lang: str | None = None,
    limit: int = TIMELINE_LIMIT,
) -> dict[str, Any]:
    """Everything known about ``customer_id``; 404 when no table mentions the customer."""
    profile = None
    if reads.has("customers"):
        found = _in_utc("customers", reads.lookup("customers", (), customer_id, 1, _profile_query))
        profile = found[0] if found else None
    facts: dict[str, list[dict[str, Any]]] = {}
    for name, order in _FACTS.items():
        facts[name] = _in_utc(
            name,
            reads.lookup(name, (order,), customer_id, limit, _fact_query(name, order, limit))
            if reads.has(name)
            else [],
        )
    churn = _churn_rows(reads, customer_id, lang)
    clv = _clv_row(reads, customer_id)
    if profile is None and not churn and clv is None and not any(facts.values()):
        raise NotFoundError(
            t("app.customer_not_found", id=customer_id),
            hint=t("app.customer_not_found_hint"),
            code="customers.not_found",
        )
    if profile is not None:
        profile["attributes"] = parse_json_text(profile.get("attributes")) or {}
        if not pii:
            for name in CUSTOMERS.pii_columns:
                profile[name] = None
    for name in ("events", "interactions"):
        for row in facts[name]:
            row["properties"] = parse_json_text(row.get("properties")) or {}
    return {
        "customer_id": customer_id,
        "profile": profile,
        "pii_visible": pii,
        **facts,
        "churn": churn,
        "clv": clv,
        "next_order": _next_order(clv),
        "probability_alive_note": _alive_note(clv, lang),
        "timeline": _timeline(facts, churn),
        "truncated": any(len(rows) >= limit for rows in facts.values()),
    }


def read_customer(
    session: Session,
    reads: Reads,
    customer_id: str,
    *,
    principal: Principal,
    lang: str | None = None,
) -> dict[str, Any]:
    """The customer 360 for ``principal``, audited when it returns contact details.

    Contact details (the customers table's PII columns) only for roles that may see them; a
    read that returns one writes ``customer.read`` with the fields returned (never their
    values), like an export. A read without contact details is not audited.
    """
    pii = principal.may(Permission.customers_pii)
    found = customer_360(reads, customer_id, pii=pii, lang=lang)
    profile = found["profile"] or {}
    fields = [name for name in CUSTOMERS.pii_columns if profile.get(name) is not None]
    if fields:
        audit.record_read(
            session, principal, "customer.read", ("customer", customer_id), rows=1, fields=fields
        )
    return found
