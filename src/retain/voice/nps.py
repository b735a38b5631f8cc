"""Net Promoter Score with a confidence interval, over time and by segment.

Each customer counts once, with their latest NPS answer. With ``n`` answers, ``p`` the share of
promoters (9-10) and ``d`` the share of detractors (0-6), NPS = 100 (p - d). Each answer is a
draw of +1 (promoter), 0 (passive) or -1 (detractor) whose mean is p - d and whose variance is
p + d - (p - d)^2; the interval is the normal (Wald) one on that mean,
100 ((p - d) +/- z sqrt((p + d - (p - d)^2) / n)), clipped to [-100, 100], z = 1.96 for 95 %.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any, Final

import pandas as pd

__all__ = [
    "NpsResult",
    "answers_from_interactions",
    "category",
    "latest_answers",
    "nps",
    "nps_by",
    "nps_over_time",
]

Z95: Final = 1.959963984540054


@dataclass(frozen=True)
class NpsResult:
    """One NPS figure: points in [-100, 100], its interval, and the counts behind it."""

    nps: float | None
    ci_low: float | None
    ci_high: float | None
    responses: int
    promoters: int
    passives: int
    detractors: int

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of ``retain surveys nps``."""
        return asdict(self)


def category(score: float) -> str:
    """``promoter`` (9-10), ``passive`` (7-8) or ``detractor`` (0-6)."""
    if score >= 9:
        return "promoter"
    return "passive" if score >= 7 else "detractor"


def nps(scores: pd.Series | list[float], *, z: float = Z95) -> NpsResult:
    """NPS and its Wald interval (module docstring) of scores already one per customer."""
    values = pd.Series(scores, dtype="float64").dropna()
    n = int(values.size)
    promoters = int((values >= 9).sum())
    detractors = int((values <= 6).sum())
    passives = n - promoters - detractors
    if n == 0:
        return NpsResult(None, None, None, 0, 0, 0, 0)
    p, d = promoters / n, detractors / n
    mean = p - d
    half = z * math.sqrt(max(p + d - mean * mean, 0.0) / n)
    return NpsResult(
        nps=round(100 * mean, 2),
        ci_low=round(max(-100.0, 100 * (mean - half)), 2),
        ci_high=round(min(100.0, 100 * (mean + half)), 2),
        responses=n,
        promoters=promoters,
        passives=passives,
        detractors=detractors,
    )


def latest_answers(answers: pd.DataFrame) -> pd.DataFrame:
    """One row per customer: their latest answer (``customer_id``, ``occurred_at``, ``score``)."""
    if answers.empty:
        return answers
    ordered = answers.sort_values(["customer_id", "occurred_at"], kind="stable")
    return ordered.drop_duplicates("customer_id", keep="last").reset_index(drop=True)


def answers_from_interactions(frame: pd.DataFrame, survey: str = "nps") -> pd.DataFrame:
    """``survey_answer`` rows of ``survey`` as ``customer_id``, ``occurred_at``, ``score``."""
    rows: list[dict[str, Any]] = []
    for record in frame.itertuples(index=False):
        if getattr(record, "kind", "survey_answer") != "survey_answer":
            continue
        try:
            props = json.loads(str(record.properties or "{}"))
        except (TypeError, ValueError):
            continue
        if not isinstance(props, dict) or str(props.get("survey", "")) != survey:
            continue
        try:
            score = float(props["score"])
        except (KeyError, TypeError, ValueError):
            continue
        rows.append(
            {
                "customer_id": record.customer_id,
                "occurred_at": record.occurred_at,
                "score": score,
                "comment": str(props.get("comment") or ""),
            }
        )
    return pd.DataFrame(rows, columns=["customer_id", "occurred_at", "score", "comment"])


def nps_by(answers: pd.DataFrame, column: str) -> dict[str, NpsResult]:
    """NPS per value of ``column`` (a customer attribute joined onto the latest answers)."""
    latest = latest_answers(answers)
    out: dict[str, NpsResult] = {}
    for key, group in latest.groupby(latest[column].fillna("").astype(str), sort=True):
        out[str(key)] = nps(group["score"])
    return out


def nps_over_time(answers: pd.DataFrame, freq: str = "M") -> dict[str, NpsResult]:
    """NPS per period (``M`` months, ``W`` weeks, ``Q`` quarters): latest answer per period."""
    if answers.empty:
        return {}
    periods = pd.to_datetime(answers["occurred_at"]).dt.to_period(freq).astype(str)
    out: dict[str, NpsResult] = {}
    for key, group in answers.groupby(periods, sort=True):
        out[str(key)] = nps(latest_answers(group)["score"])
    return out
