"""Latest churn and CLV scores per customer, and reasons rendered in the reader's language."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from retain import warehouse as wh
from retain.app._frames import parse_json_text
from retain.i18n import t

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["latest_churn", "latest_clv", "render_reasons"]


def latest_churn(con: BaseBackend, *, definition: str | None = None) -> ir.Table:
    """One row per customer: the newest ``churn_scores`` row (by as_of, then scored_at)."""
    scores = wh.read_table(con, "churn_scores")
    if definition is not None:
        scores = scores.filter(scores.definition == definition)
    window = ibis.window(
        group_by=scores.customer_id,
        order_by=[scores.as_of.desc(), scores.scored_at.desc(), scores.model_version.desc()],
    )
    ranked = scores.mutate(_rank=ibis.row_number().over(window))
    return ranked.filter(ranked._rank == 0).drop("_rank")


def latest_clv(con: BaseBackend) -> ir.Table:
    """One row per customer: the newest ``clv_scores`` row (by as_of, then model_version)."""
    scores = wh.read_table(con, "clv_scores")
    window = ibis.window(
        group_by=scores.customer_id, order_by=[scores.as_of.desc(), scores.model_version.desc()]
    )
    ranked = scores.mutate(_rank=ibis.row_number().over(window))
    return ranked.filter(ranked._rank == 0).drop("_rank")


def render_reasons(text: Any, *, lang: str | None = None) -> list[dict[str, Any]]:
    """``churn_scores.reasons`` (a JSON list of {key, params, contribution}) rendered with ``t``.

    Items that are not objects with a ``key`` are skipped: a malformed reason must not hide the
    customer.
    """
    items = parse_json_text(text)
    if not isinstance(items, list):
        return []
    out: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            continue
        raw_params = item.get("params")
        params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
        contribution = item.get("contribution")
        out.append(
            {
                "key": item["key"],
                "text": t(item["key"], lang=lang, **params),
                "params": params,
                "contribution": float(contribution)
                if isinstance(contribution, int | float)
                else None,
            }
        )
    return out
