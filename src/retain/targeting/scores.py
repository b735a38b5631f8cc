"""The latest score of each customer: which churn and CLV rows are current.

Scoring runs append rows, so ``churn_scores`` holds many rows per customer and definition and
``clv_scores`` many per customer. The current one is the newest by :data:`CHURN_RECENCY` /
:data:`CLV_RECENCY` (latest reference date, then the later run, then the higher model version).
The at-risk list, the overview and the customer 360 all pick rows by these orders, so they
agree on which score is a customer's.

A business line's *latest run* is its scores at the newest reference date
(:func:`latest_run_as_of`). The at-risk list reads that run only: a customer missing from it
(no longer in the line's population, e.g. a subscription that ended) does not come back with an
older score, which is how a list of "high risk" customers once held ones who had long left.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from retain import warehouse as wh
from retain.facts import DateLike, as_timestamp
from retain.targeting.value import clv_in_reporting_currency

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = [
    "CHURN_RECENCY",
    "CLV_RECENCY",
    "latest_churn_scores",
    "latest_clv_scores",
    "latest_per_definition",
    "latest_run_as_of",
]

CHURN_RECENCY = ("as_of", "scored_at", "model_version")
"""``churn_scores`` columns that order a customer's rows, newest first when all descending."""
CLV_RECENCY = ("as_of", "model_version")
"""``clv_scores`` columns that order a customer's rows, newest first when all descending."""


def _newest(scores: ir.Table, keys: list[str], recency: tuple[str, ...]) -> ir.Table:
    window = ibis.window(
        group_by=[scores[k] for k in keys], order_by=[scores[c].desc() for c in recency]
    )
    ranked = scores.mutate(_rank=ibis.row_number().over(window))
    return ranked.filter(ranked._rank == 0).drop("_rank")


def _known_on(scores: ir.Table, as_of: DateLike | None) -> ir.Table:
    if as_of is None:
        return scores
    return scores.filter(scores.as_of <= as_timestamp(as_of))


def latest_churn_scores(
    con: BaseBackend, definition: str | None = None, *, as_of: DateLike | None = None
) -> ir.Table:
    """One row per (customer, definition): the newest ``churn_scores`` row.

    Parameters
    ----------
    con
        The warehouse backend.
    definition
        Keep this churn definition only (then one row per customer); None keeps every one.
    as_of
        Only scores whose reference date is on or before this date: what was known then.
        None reads every score.
    """
    scores = _known_on(wh.read_table(con, "churn_scores"), as_of)
    if definition is not None:
        scores = scores.filter(scores.definition == definition)
    return _newest(scores, ["customer_id", "definition"], CHURN_RECENCY)


def latest_run_as_of(con: BaseBackend, definition: str) -> dt.datetime | None:
    """The reference date of ``definition``'s newest scoring run; None when it was never scored.

    Runs are told apart by their ``as_of``: re-scoring the same date (a new model version, a
    later ``scored_at``) refines that run, and :data:`CHURN_RECENCY` picks the newest row of it.
    """
    scores = wh.read_table(con, "churn_scores")
    value = scores.filter(scores.definition == definition).as_of.max().execute()
    if value is None or pd.isna(value):
        return None
    stamp: dt.datetime = pd.Timestamp(value).to_pydatetime()
    return stamp


def latest_clv_scores(con: BaseBackend, *, as_of: DateLike | None = None) -> ir.Table:
    """One row per customer: the newest ``clv_scores`` row (``as_of`` as in churn scores).

    Its money columns are in the reporting currency
    (:func:`~retain.targeting.value.clv_in_reporting_currency`). The newest row is picked
    before converting: a superseded run in a currency that has no rate now is never read, so
    it cannot refuse today's list.
    """
    newest = _newest(
        _known_on(wh.read_table(con, "clv_scores"), as_of), ["customer_id"], CLV_RECENCY
    )
    return clv_in_reporting_currency(newest)


def latest_per_definition(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The first row of each definition, from one customer's churn rows newest first.

    The customer 360 reads a customer's rows already ordered by :data:`CHURN_RECENCY` (from its
    serving index); this keeps the current one per definition, as :func:`latest_churn_scores`
    does in the warehouse.
    """
    seen: set[Any] = set()
    out: list[dict[str, Any]] = []
    for row in rows:
        if row["definition"] in seen:
            continue
        seen.add(row["definition"])
        out.append(dict(row))
    return out
