"""Why customers say they leave: stated exit reasons counted, split and priced.

An exit survey answer is an ``interactions`` row of kind ``exit_survey`` whose ``properties``
hold ``reason`` (a code of the taxonomy) and ``comment`` (free text). A customer's **latest**
answer counts, so a customer who answered twice is one customer. A code outside the taxonomy
counts as ``other`` (never dropped: the shares always add up to 100%).

``revenue_lost`` of a customer is their net revenue (completed orders, returns negative, in the
reporting currency, :func:`retain.facts.orders.net_revenue`) over the 365 days before their
answer: what the business stops earning in a year if the customer goes as they said.

Splits (``by``): ``cohort`` (the acquisition month, ``customers.acquired_at``), ``month`` (the
answer's month: the trend) and ``segment:SCHEME`` (the customer's stored segment of a
:mod:`retain.targeting.segments` scheme on its latest stored date).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from retain import warehouse as wh
from retain.errors import InvalidParameterError
from retain.facts import DateLike, as_timestamp
from retain.facts.attributes import json_text
from retain.facts.orders import net_revenue
from retain.i18n import t
from retain.models.churn.reasons import parse_stored_reasons
from retain.targeting.scores import latest_churn_scores
from retain.targeting.segments import membership_dates, memberships

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = [
    "EXIT_KIND",
    "REASON_COLUMNS",
    "TAXONOMY",
    "reason_summary",
    "stated_beside_model",
    "stated_reasons",
]

EXIT_KIND = "exit_survey"
TAXONOMY: tuple[str, ...] = (
    "price",
    "not_using",
    "missing_feature",
    "competitor",
    "service_problem",
    "temporary",
    "other",
)
"""The default reason codes; ``other`` is where unknown codes go, so it must stay last."""
REASON_COLUMNS = ("reason", "customers", "share", "revenue_lost")
_YEAR = pd.Timedelta(days=365)


def _check_taxonomy(taxonomy: Sequence[str]) -> tuple[str, ...]:
    codes = tuple(taxonomy)
    if not codes or "other" not in codes or len(set(codes)) != len(codes):
        raise InvalidParameterError(
            t("voice.taxonomy_invalid", codes=", ".join(codes)), hint=t("voice.taxonomy_hint")
        )
    return codes


def stated_reasons(
    con: BaseBackend,
    *,
    since: DateLike | None = None,
    until: DateLike | None = None,
    taxonomy: Sequence[str] = TAXONOMY,
) -> pd.DataFrame:
    """``customer_id, occurred_at, reason, comment``: each customer's latest exit answer.

    Answers before ``since`` or after ``until`` are not read; ``reason`` is a taxonomy code
    (unknown and missing codes read ``other``); ``comment`` is the free text or ``""``.
    """
    codes = _check_taxonomy(taxonomy)
    empty = pd.DataFrame(columns=["customer_id", "occurred_at", "reason", "comment"])
    if not wh.table_exists(con, "interactions"):
        return empty
    rows = wh.read_table(con, "interactions")
    rows = rows.filter(rows.kind == EXIT_KIND)
    if since is not None:
        rows = rows.filter(rows.occurred_at >= as_timestamp(since, name="since"))
    if until is not None:
        rows = rows.filter(rows.occurred_at <= as_timestamp(until, name="until"))
    props = rows.properties.cast("string")
    frame = rows.select(
        "customer_id",
        "occurred_at",
        reason=json_text(props, "reason"),
        comment=json_text(props, "comment"),
    ).to_pandas()
    if frame.empty:
        return empty
    frame = frame.sort_values(["customer_id", "occurred_at"]).drop_duplicates(
        "customer_id", keep="last"
    )
    reason = frame["reason"].fillna("").astype(str).str.strip().str.lower()
    frame["reason"] = reason.where(reason.isin(codes), "other")
    frame["comment"] = frame["comment"].fillna("").astype(str)
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"])
    result: pd.DataFrame = frame.reset_index(drop=True)
    return result


def _revenue_before(con: BaseBackend, answers: pd.DataFrame) -> pd.Series:
    """Net revenue of each answering customer in the 365 days before the answer (0 if none)."""
    zero = pd.Series(0.0, index=answers.index)
    if answers.empty or not wh.table_exists(con, "orders"):
        return zero
    orders = wh.read_table(con, "orders")
    start = answers["occurred_at"].min() - _YEAR
    revenue = net_revenue(orders)
    revenue = revenue.filter(
        revenue.customer_id.isin(list(answers["customer_id"])) & (revenue.ordered_at >= start)
    ).to_pandas()
    if revenue.empty:
        return zero
    joined = revenue.merge(answers[["customer_id", "occurred_at"]], on="customer_id")
    ordered = pd.to_datetime(joined["ordered_at"])
    inside = (ordered <= joined["occurred_at"]) & (ordered > joined["occurred_at"] - _YEAR)
    per_customer = joined[inside].groupby("customer_id")["revenue"].sum()
    lost: pd.Series = answers["customer_id"].map(per_customer).fillna(0.0).astype(float)
    return lost


def _groups(con: BaseBackend, answers: pd.DataFrame, by: str) -> pd.Series:
    """The group of each answer for ``by`` (cohort, month or segment:SCHEME)."""
    if by == "month":
        month: pd.Series = answers["occurred_at"].dt.strftime("%Y-%m")
        return month
    if by == "cohort":
        customers = wh.read_table(con, "customers").select("customer_id", "acquired_at")
        frame = customers.to_pandas().set_index("customer_id")["acquired_at"]
        acquired = pd.to_datetime(answers["customer_id"].map(frame))
        return acquired.dt.strftime("%Y-%m").fillna("unknown")
    if by.startswith("segment:"):
        scheme = by.split(":", 1)[1]
        dates = membership_dates(con, scheme)
        if not dates:
            return pd.Series("unknown", index=answers.index)
        members = memberships(con, scheme, dates[-1]).to_pandas()
        segment = members.set_index("customer_id")["segment"]
        return answers["customer_id"].map(segment).fillna("unknown").astype(str)
    raise InvalidParameterError(t("voice.by_invalid", by=by), hint=t("voice.by_hint"))


def _summarise(answers: pd.DataFrame, codes: Sequence[str]) -> pd.DataFrame:
    total = len(answers)
    grouped = answers.groupby("reason").agg(
        customers=("customer_id", "size"), revenue_lost=("revenue", "sum")
    )
    grouped = grouped.reindex(list(codes)).fillna(0.0)
    out = pd.DataFrame(
        {
            "reason": list(codes),
            "customers": grouped["customers"].astype(int).to_numpy(),
            "share": (100.0 * grouped["customers"] / total if total else grouped["customers"] * 0.0)
            .round(2)
            .to_numpy(),
            "revenue_lost": grouped["revenue_lost"].astype(float).round(2).to_numpy(),
        }
    )
    return out.sort_values(["customers", "reason"], ascending=[False, True], kind="stable")


def reason_summary(
    con: BaseBackend,
    *,
    since: DateLike | None = None,
    until: DateLike | None = None,
    by: str | None = None,
    taxonomy: Sequence[str] = TAXONOMY,
) -> pd.DataFrame:
    """One row per reason: ``reason, customers, share`` (percent) and ``revenue_lost``.

    Every taxonomy code has a row (0 customers included), most customers first. With ``by``,
    the rows repeat per group under a first column named as ``by`` (``segment:rfm`` gives
    ``segment``), and ``share`` is the reason's percent within its group.
    """
    codes = _check_taxonomy(taxonomy)
    answers = stated_reasons(con, since=since, until=until, taxonomy=codes)
    answers["revenue"] = _revenue_before(con, answers)
    if by is None:
        return _summarise(answers, codes).reset_index(drop=True)
    column = by.split(":", 1)[0]
    answers["_group"] = _groups(con, answers, by) if len(answers) else pd.Series(dtype=str)
    parts = []
    for group, rows in answers.groupby("_group", sort=True):
        part = _summarise(rows, codes)
        part.insert(0, column, group)
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=[column, *REASON_COLUMNS])
    return pd.concat(parts, ignore_index=True)


def stated_beside_model(
    con: BaseBackend,
    *,
    definition: str | None = None,
    since: DateLike | None = None,
    taxonomy: Sequence[str] = TAXONOMY,
) -> pd.DataFrame:
    """``reason, model_reason, customers``: stated reasons against the model's top reason.

    For each customer with an exit answer and a stored churn score (the newest, of
    ``definition`` or of every definition), the model's reason is the message key of the
    largest stored contribution (``churn_scores.reasons``); ``none`` where the score has none.
    Customers with no score are left out: the model never judged them.
    """
    answers = stated_reasons(con, since=since, taxonomy=taxonomy)
    columns = ["reason", "model_reason", "customers"]
    if answers.empty or not wh.table_exists(con, "churn_scores"):
        return pd.DataFrame(columns=columns)
    scores = latest_churn_scores(con, definition)
    scores = scores.filter(scores.customer_id.isin(list(answers["customer_id"])))
    stored = scores.select("customer_id", "reasons").to_pandas()
    if stored.empty:
        return pd.DataFrame(columns=columns)

    def top(value: object) -> str:
        found = parse_stored_reasons(value)
        if not found:
            return "none"
        best = max(found, key=lambda r: abs(r.contribution or 0.0))
        return best.key

    stored["model_reason"] = stored["reasons"].map(top)
    joined = answers.merge(stored[["customer_id", "model_reason"]], on="customer_id")
    out = joined.groupby(["reason", "model_reason"]).size().rename("customers").reset_index()
    return out.sort_values(["reason", "customers"], ascending=[True, False]).reset_index(drop=True)
