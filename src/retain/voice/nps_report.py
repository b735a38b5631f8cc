"""NPS read from the warehouse: overall, by a customer attribute or segment, over periods.

Shared by ``retain surveys nps`` and ``GET /api/v1/surveys/nps``. Answers are the
``survey_answer`` interactions of one survey (wherever they came from); each customer's latest
answer counts once per group (:mod:`retain.voice.nps` has the statistics).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from retain.errors import InvalidParameterError
from retain.i18n import t
from retain.schema import CUSTOMERS
from retain.voice.nps import NpsResult, answers_from_interactions, latest_answers, nps

__all__ = ["COLUMNS", "PERIODS", "NpsReport", "nps_report", "parse_since"]

COLUMNS: Final = ["nps", "ci_low", "ci_high", "responses", "promoters", "passives", "detractors"]
PERIODS: Final = {"week": "W", "month": "M", "quarter": "Q"}


@dataclass(frozen=True)
class NpsReport:
    """The overall figure and, when split, one row per group (``keys`` then :data:`COLUMNS`)."""

    overall: NpsResult
    keys: list[str]
    rows: pd.DataFrame


def parse_since(value: str | None) -> dt.datetime | None:
    """An ISO date or date-time, or :class:`InvalidParameterError`."""
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidParameterError(t("voice_surveys.bad_since", value=value)) from None


def _answers(con: Any, survey: str, since: dt.datetime | None) -> pd.DataFrame:
    it = con.table("interactions")
    it = it.filter(it.kind == "survey_answer")
    if since is not None:
        it = it.filter(it.occurred_at >= since)
    frame = it.select("customer_id", "occurred_at", "kind", "properties").to_pandas()
    return answers_from_interactions(frame, survey)


def _attribute(con: Any, answers: pd.DataFrame, column: str) -> pd.DataFrame:
    """``answers`` with ``column``: a customers column, or the latest ``segment:SCHEME``."""
    if column.startswith("segment:"):
        from retain.targeting.segments import membership_dates, memberships

        scheme = column.split(":", 1)[1]
        dates = membership_dates(con, scheme)
        if not dates:
            return answers.assign(**{column: "unknown"})
        members = memberships(con, scheme, dates[-1]).to_pandas()
        segment = members.set_index("customer_id")["segment"]
        return answers.assign(**{column: answers["customer_id"].map(segment).fillna("unknown")})
    customers = con.table("customers")
    # one customer per group, or contact details beside each score: never a split
    hidden = {"customer_id", "attributes", *CUSTOMERS.pii_columns}
    if column in hidden or column not in customers.columns:
        allowed = ", ".join(c for c in customers.columns if c not in hidden)
        raise InvalidParameterError(t("voice_surveys.bad_by", by=column, allowed=allowed))
    values = customers.select("customer_id", column).to_pandas()
    return answers.merge(values, on="customer_id", how="left")


def nps_report(
    con: Any,
    *,
    survey: str = "nps",
    since: dt.datetime | None = None,
    by: str | None = None,
    over: str | None = None,
) -> NpsReport:
    """NPS of ``survey`` since ``since``, split by ``by`` and/or ``over`` (week, month, quarter)."""
    if over is not None and over not in PERIODS:
        raise InvalidParameterError(t("voice_surveys.bad_over", over=over))
    answers = _answers(con, survey, since)
    keys: list[str] = []
    if by is not None:
        answers = _attribute(con, answers, by)
        answers[by] = answers[by].fillna("").astype(str)
        keys.append(by)
    if over is not None:
        when = pd.to_datetime(answers["occurred_at"])
        answers["period"] = when.dt.to_period(PERIODS[over]).astype(str)
        keys.append("period")
    overall = nps(latest_answers(answers)["score"])
    if not keys:
        return NpsReport(overall, [], pd.DataFrame([overall.as_dict()], columns=COLUMNS))
    rows = [
        {**dict(zip(keys, k, strict=True)), **nps(latest_answers(g)["score"]).as_dict()}
        for k, g in answers.groupby(keys, sort=True)
    ]
    return NpsReport(overall, keys, pd.DataFrame(rows, columns=[*keys, *COLUMNS]))
