"""A saved segment's customers and size over time, whichever form it was saved in.

A saved segment is an :class:`~retain.targeting.AtRiskQuery`'s stored form
(:meth:`~retain.targeting.AtRiskQuery.to_dict`): a rule, at-risk filters (risk bands, CLV,
country... the older form, which still loads), or both. Its members:

- **a rule alone**: the customers the rule keeps as of a date
  (:func:`~retain.targeting.segments.segment_members`), every customer, scored or not;
- **filters (with or without a rule)**: the at-risk list's customers that the filters (and the
  rule, as of the run) keep, in the line's latest run, as the list itself shows them.

Size over time is the rule evaluated again at month ends (:func:`size_history`); a segment of
filters has no history, as the at-risk list keeps only its latest run (refused, saying so).
Kept out of the package's ``__init__`` so that :mod:`retain.targeting.query`, which the at-risk
list imports, can import the segments package without importing the list back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import pandas as pd

from retain import warehouse as wh
from retain.config import ChurnDefinition
from retain.errors import InvalidParameterError
from retain.facts import DateLike, as_timestamp
from retain.i18n import t
from retain.targeting.at_risk import at_risk_table
from retain.targeting.query import FILTER_FIELDS, AtRiskQuery
from retain.targeting.scores import latest_run_as_of
from retain.targeting.segments.evaluate import segment_members
from retain.targeting.segments.evaluate import size_history as rule_history

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["default_as_of", "has_filters", "members_of", "size_history"]


def has_filters(query: AtRiskQuery) -> bool:
    """Whether the saved ``query`` sets any at-risk filter (not only a rule)."""
    return any(getattr(query, name) not in (None, ()) for name in FILTER_FIELDS)


def default_as_of(con: BaseBackend, line: ChurnDefinition) -> pd.Timestamp:
    """The date a segment is evaluated on by default: the line's latest scoring run, else today.

    The at-risk list shows that run, so a segment's members and the list agree; a warehouse
    never scored evaluates as of the start of tomorrow (everything up to now counts).
    """
    run = latest_run_as_of(con, line.name) if _scored(con) else None
    if run is not None:
        return pd.Timestamp(run)
    today = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return pd.Timestamp(today.date()) + pd.Timedelta(days=1)


def _scored(con: BaseBackend) -> bool:
    return wh.table_exists(con, "churn_scores")


def members_of(
    con: BaseBackend,
    query: AtRiskQuery,
    *,
    line: ChurnDefinition,
    as_of: DateLike | None = None,
    tables: frozenset[str] | None = None,
) -> tuple[ir.Table, pd.Timestamp | None]:
    """``customer_id`` of a saved segment's members, and the date they hold on.

    A rule alone is evaluated as of ``as_of`` (default :func:`default_as_of`); filters read the
    line's latest run (its date is returned, ``as_of`` ignored), None when never scored.
    """
    if query.rule is not None and not has_filters(query):
        stamp = as_timestamp(as_of) if as_of is not None else default_as_of(con, line)
        rule = query.rule
        return segment_members(con, rule, as_of=stamp, line=line, tables=tables), stamp
    asked = replace(query.filters(), definition=line.name)
    run = latest_run_as_of(con, line.name) if _scored(con) else None
    if run is None:  # never scored: the at-risk list is empty, and so is this
        nobody = wh.read_table(con, "customers").filter(ibis.literal(False))
        return nobody.select("customer_id"), None
    table = at_risk_table(con, asked, tables=tables, line=line, run=run)
    return table.select("customer_id"), pd.Timestamp(run)


def size_history(
    con: BaseBackend,
    query: AtRiskQuery,
    *,
    name: str,
    line: ChurnDefinition,
    months: int = 12,
    end: DateLike | None = None,
) -> pd.DataFrame:
    """``as_of, customers`` of a saved rule at ``months`` month ends up to ``end``.

    ``end`` defaults to :func:`default_as_of`. A segment with at-risk filters has no history
    (:class:`~retain.errors.InvalidParameterError` naming it).
    """
    if query.rule is None or has_filters(query):
        raise InvalidParameterError(
            t("segments.saved_no_rule", name=name),
            hint=t("segments.saved_no_rule_hint"),
            code="segments.no_rule",
        )
    if not 1 <= months <= 120:
        raise InvalidParameterError(
            t("segments.rule_bad_count", path="months", low=1, high=120, value=months),
            code="parameter.months",
        )
    stop = as_timestamp(end) if end is not None else default_as_of(con, line)
    return rule_history(con, query.rule, end=stop, months=months, line=line)
