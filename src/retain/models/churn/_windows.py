"""Check the label windows before any feature is built: a line that cannot be learnt fails fast.

Training IBM Telco with the default dates once ran for 153 s of feature building and then
failed inside scikit-learn with "Only binary classification is supported": no label window
held a single churn (Telco's churners all leave on its last day). Counting the customers at
risk and the churners of each window is one small query per date, so :func:`check_label_windows`
runs it first and says which dates were tried, what each window held, and which ``--as-of``
would work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import pandas as pd

from retain.config import ChurnDefinition
from retain.errors import InvalidParameterError
from retain.facts import DateLike, as_timestamp
from retain.features import churn_labels
from retain.features.sources import Sources
from retain.i18n import format_number, t

__all__ = ["check_label_windows", "window_counts"]

_SHOWN = 6
"""Dates listed in a message; longer lists keep the first and last three."""


def _rows(table: ibis.Table | None) -> int:
    return 0 if table is None else int(table.count().execute())


def _activity_missing(sources: Sources, definition: ChurnDefinition) -> bool:
    """A non-contractual line on data with subscriptions and neither orders nor events.

    Such data (IBM Telco through its recipe) can only be read as contractual: nobody is ever
    at risk of going silent, since nobody was ever active.
    """
    if definition.kind != "non_contractual" or not _rows(sources.subscriptions):
        return False
    return not _rows(sources.orders) and not _rows(sources.events)


def window_counts(
    sources: Sources, definition: ChurnDefinition, dates: Sequence[DateLike]
) -> pd.DataFrame:
    """Customers at risk (``n``) and churners (``churned``) of each date's label window."""
    rows = []
    for value in dates:
        as_of = as_timestamp(value)
        labels = churn_labels(sources, as_of=as_of, definition=definition)
        row = labels.aggregate(n=labels.count(), churned=labels.churned.sum()).to_pandas()
        n = int(row["n"].iloc[0])
        churned = 0 if pd.isna(row["churned"].iloc[0]) else int(row["churned"].iloc[0])
        rows.append({"as_of": as_of, "n": n, "churned": churned})
    return pd.DataFrame(rows, columns=["as_of", "n", "churned"])


def _listing(counts: pd.DataFrame) -> str:
    """``2019-05-01: 0 of 6,900; ...`` with the middle of a long list elided."""
    parts = [
        t(
            "churn.window_count",
            date=str(pd.Timestamp(when).date()),
            churned=format_number(int(churned)),
            n=format_number(int(n)),
        )
        for when, n, churned in zip(counts["as_of"], counts["n"], counts["churned"], strict=True)
    ]
    if len(parts) > _SHOWN:
        half = _SHOWN // 2
        parts = [*parts[:half], t("churn.window_more", n=len(parts) - _SHOWN), *parts[-half:]]
    return "; ".join(parts)


def _suggestion(
    sources: Sources, definition: ChurnDefinition, covered: pd.Timestamp, tried: set[pd.Timestamp]
) -> tuple[pd.Timestamp, int, int] | None:
    """The latest date whose label window the data covers, when that window holds churn.

    Snapshot exports record every churn near their end (Telco: on its last day), which the
    monthly dates miss by a few days; this date catches them.
    """
    date = (covered - pd.Timedelta(days=definition.horizon_days)).normalize()
    if date in tried:
        return None
    counts = window_counts(sources, definition, [date])
    churned, n = int(counts["churned"].iloc[0]), int(counts["n"].iloc[0])
    return (date, churned, n) if 0 < churned < n else None


def check_label_windows(
    sources: Sources,
    definition: ChurnDefinition,
    dates: Sequence[DateLike],
    *,
    data_end: pd.Timestamp,
) -> pd.DataFrame:
    """Refuse, before features are built, reference dates that cannot train a classifier.

    Raises :class:`~retain.errors.InvalidParameterError` when no customer is at risk at any
    date, or when the windows hold no churner (or nobody who stayed). The message lists the
    dates tried with each window's churners; the hint names an ``--as-of`` that works when
    one exists, and ``kind = "contractual"`` when the data has subscriptions and no activity.
    Returns the counts otherwise.
    """
    if _activity_missing(sources, definition):
        raise InvalidParameterError(
            t("churn.needs_contractual", definition=definition.name),
            hint=t("churn.needs_contractual_hint"),
        )
    counts = window_counts(sources, definition, dates)
    n, churned = int(counts["n"].sum()), int(counts["churned"].sum())
    if 0 < churned < n:
        return counts
    params: dict[str, Any] = {
        "horizon": definition.horizon_days,
        "dates": len(counts),
        "counts": _listing(counts),
    }
    if n == 0:
        raise InvalidParameterError(
            t("churn.no_one_at_risk", **params), hint=t("churn.no_one_at_risk_hint")
        )
    if churned == n:
        raise InvalidParameterError(
            t("churn.all_churned", **params), hint=t("churn.all_churned_hint")
        )
    covered = data_end.normalize() + pd.Timedelta(days=1)
    tried = {pd.Timestamp(d) for d in counts["as_of"]}
    found = _suggestion(sources, definition, covered, tried)
    hint = (
        t(
            "churn.no_churn_hint_date",
            date=str(found[0].date()),
            horizon=definition.horizon_days,
            churned=format_number(found[1]),
            n=format_number(found[2]),
        )
        if found is not None
        else t("churn.no_churn_hint")
    )
    raise InvalidParameterError(t("churn.no_churn", **params), hint=hint)
