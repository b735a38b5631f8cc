"""How well a ranking finds the customers a campaign changes: Qini and uplift curves, AUUC, deciles.

Uplift is never observed per customer, so a ranking is judged on a randomized campaign: walk
down the customers ordered by predicted uplift and compare the treated and control outcomes among
the first ``k`` (ties move together).

- Qini curve (Radcliffe 2007): ``Y_t(k) - Y_c(k) N_t(k) / N_c(k)``, the incremental outcomes
  among the first ``k`` if they had all been treated at the treated rate.
- Uplift curve (Rzepakowski & Jaroszewicz 2012; Devriendt et al. 2020):
  ``(Y_t(k) / N_t(k) - Y_c(k) / N_c(k)) (N_t(k) + N_c(k))``.

Their areas are reported normalized, as scikit-uplift's ``qini_auc_score`` and
``uplift_auc_score`` do, so numbers compare with published ones: the area between the curve and
the random-targeting line (the diagonal to the curve's end), divided by that of the best possible
ranking (treated responders first, control responders last). 0 is random targeting, 1 perfect.
:func:`qini_auc` and :func:`auuc` give these; :func:`score_intervals` adds bootstrap intervals
(the rows are resampled, the ranking kept); :func:`uplift_by_decile` the observed uplift per
decile of the ranking with intervals; :func:`compare_targeting` ranks several policies (the
model, "highest churn risk first", random) on the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from retain.errors import InvalidParameterError
from retain.i18n import t

__all__ = [
    "Estimate",
    "arm_rows",
    "auuc",
    "compare_targeting",
    "evaluate_arms",
    "qini_auc",
    "qini_curve",
    "score_intervals",
    "uplift_at",
    "uplift_by_decile",
    "uplift_curve",
]

Array = np.ndarray


@dataclass(frozen=True)
class Estimate:
    """A number with its bootstrap interval."""

    value: float
    low: float
    high: float

    def as_dict(self, prefix: str) -> dict[str, float]:
        """``{prefix: value, prefix_low: low, prefix_high: high}``."""
        return {prefix: self.value, f"{prefix}_low": self.low, f"{prefix}_high": self.high}


def _inputs(y: Any, treatment: Any, score: Any | None = None) -> tuple[Array, Array, Array]:
    yy = np.asarray(y, dtype=np.float64).ravel()
    w = np.asarray(treatment).ravel()
    s = np.zeros_like(yy) if score is None else np.asarray(score, dtype=np.float64).ravel()
    ok = yy.shape == w.shape == s.shape and yy.size > 0
    if ok and w.dtype.kind in "biuf":
        ok = bool(np.isin(w, (0, 1)).all())
    if not ok or not (np.isfinite(yy).all() and np.isfinite(s).all()):
        raise InvalidParameterError(t("uplift.eval_inputs"), hint=t("uplift.eval_inputs_hint"))
    wf = w.astype(np.float64)
    if wf.min() == wf.max():
        raise InvalidParameterError(t("uplift.eval_one_group"), hint=t("uplift.eval_inputs_hint"))
    return yy, wf, s


@dataclass(frozen=True)
class _Ranked:
    """Rows in descending score order and the last position of each group of tied scores."""

    order: Array
    ends: Array

    @classmethod
    def of(cls, score: Array) -> _Ranked:
        order = np.argsort(-score, kind="mergesort")
        ranked = score[order]
        ends = np.r_[np.flatnonzero(np.diff(ranked)), ranked.size - 1]
        return cls(order=order, ends=ends)


def _curve(ranked: _Ranked, y: Array, w: Array, c: Array, kind: str) -> tuple[Array, Array]:
    """The Qini or uplift curve with row weights ``c`` (1 = as observed; counts = bootstrap)."""
    yo, wo, co = y[ranked.order], w[ranked.order], c[ranked.order]
    n_all = np.cumsum(co)[ranked.ends]
    n_t = np.cumsum(co * wo)[ranked.ends]
    y_t = np.cumsum(co * wo * yo)[ranked.ends]
    y_c = np.cumsum(co * (1.0 - wo) * yo)[ranked.ends]
    n_c = n_all - n_t
    safe_c = np.where(n_c > 0, n_c, 1.0)
    if kind == "qini":
        values = y_t - np.where(n_c > 0, y_c * n_t / safe_c, 0.0)
    else:
        rate_t = np.where(n_t > 0, y_t / np.where(n_t > 0, n_t, 1.0), 0.0)
        rate_c = np.where(n_c > 0, y_c / safe_c, 0.0)
        values = (rate_t - rate_c) * n_all
    return np.r_[0.0, n_all], np.r_[0.0, values]


def qini_curve(y: Any, treatment: Any, score: Any) -> tuple[Array, Array]:
    """Points ``(k, Qini(k))`` of the Qini curve, from ``(0, 0)``; ``treatment`` is 0/1."""
    yy, w, s = _inputs(y, treatment, score)
    return _curve(_Ranked.of(s), yy, w, np.ones_like(yy), "qini")


def uplift_curve(y: Any, treatment: Any, score: Any) -> tuple[Array, Array]:
    """Points ``(k, uplift(k))`` of the uplift curve, from ``(0, 0)``; ``treatment`` is 0/1."""
    yy, w, s = _inputs(y, treatment, score)
    return _curve(_Ranked.of(s), yy, w, np.ones_like(yy), "uplift")


class _Scorer:
    """Normalized Qini and uplift areas of one ranking, for any row weights (bootstrap)."""

    def __init__(self, y: Array, w: Array, score: Array) -> None:
        self.y, self.w = y, w
        self.model = _Ranked.of(score)
        self.best_qini = _Ranked.of(y * w - y * (1.0 - w))
        agree = 2.0 * (y == w)
        self.best_uplift = (_Ranked.of(agree + y), _Ranked.of(agree + w))

    def _normalized(self, actual: tuple[Array, Array], best: tuple[Array, Array]) -> float:
        baseline = best[0][-1] * best[1][-1] / 2.0
        top = np.trapezoid(best[1], best[0]) - baseline
        if top == 0:
            return float("nan")
        return float((np.trapezoid(actual[1], actual[0]) - baseline) / top)

    def qini(self, c: Array) -> float:
        actual = _curve(self.model, self.y, self.w, c, "qini")
        return self._normalized(actual, _curve(self.best_qini, self.y, self.w, c, "qini"))

    def auuc(self, c: Array) -> float:
        y, w = self.y, self.w
        responders_c = float((c * (y == 1) * (w == 0)).sum())
        silent_t = float((c * (y == 0) * (w == 1)).sum())
        best = self.best_uplift[0] if responders_c > silent_t else self.best_uplift[1]
        actual = _curve(self.model, y, w, c, "uplift")
        return self._normalized(actual, _curve(best, y, w, c, "uplift"))

    def uplift_at(self, c: Array, k: float) -> float:
        """Treated minus control mean among the top ``k`` share of rows (weights ``c``)."""
        order = self.model.order
        cut = np.cumsum(c[order]) <= k * c.sum()
        rows, cw = order[cut], c[order][cut]
        wt, y = self.w[rows], self.y[rows]
        n_t, n_c = (cw * wt).sum(), (cw * (1.0 - wt)).sum()
        if n_t == 0 or n_c == 0:
            return float("nan")
        return float((cw * wt * y).sum() / n_t - (cw * (1.0 - wt) * y).sum() / n_c)


def qini_auc(y: Any, treatment: Any, score: Any) -> float:
    """Normalized area under the Qini curve (0 random, 1 perfect; scikit-uplift's definition)."""
    yy, w, s = _inputs(y, treatment, score)
    return _Scorer(yy, w, s).qini(np.ones_like(yy))


def auuc(y: Any, treatment: Any, score: Any) -> float:
    """Normalized area under the uplift curve (AUUC; 0 random, 1 perfect)."""
    yy, w, s = _inputs(y, treatment, score)
    return _Scorer(yy, w, s).auuc(np.ones_like(yy))


def uplift_at(y: Any, treatment: Any, score: Any, k: float = 0.3) -> float:
    """Observed uplift (treated rate - control rate) among the top ``k`` share by score."""
    yy, w, s = _inputs(y, treatment, score)
    return _Scorer(yy, w, s).uplift_at(np.ones_like(yy), k)


def _interval(
    values: Array, point: float, level: float
) -> Estimate:  # percentile bootstrap interval
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return Estimate(point, float("nan"), float("nan"))
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return Estimate(point, float(low), float(high))


def score_intervals(
    y: Any,
    treatment: Any,
    score: Any,
    *,
    n_boot: int = 200,
    level: float = 0.95,
    k: float = 0.3,
    random_state: int = 0,
) -> dict[str, Estimate]:
    """Qini, AUUC and uplift in the top ``k`` share, each with a percentile bootstrap interval.

    The rows are resampled with replacement ``n_boot`` times (as multinomial counts), the
    ranking ``score`` kept; the keys are ``qini``, ``auuc`` and ``uplift_at``.
    """
    yy, w, s = _inputs(y, treatment, score)
    scorer = _Scorer(yy, w, s)
    ones = np.ones_like(yy)
    rng = np.random.default_rng(random_state)
    draws = np.empty((n_boot, 3))
    for b in range(n_boot):
        c = rng.multinomial(yy.size, np.full(yy.size, 1.0 / yy.size)).astype(np.float64)
        draws[b] = (scorer.qini(c), scorer.auuc(c), scorer.uplift_at(c, k))
    points = (scorer.qini(ones), scorer.auuc(ones), scorer.uplift_at(ones, k))
    return {
        name: _interval(draws[:, i], points[i], level)
        for i, name in enumerate(("qini", "auuc", "uplift_at"))
    }


def uplift_by_decile(
    y: Any,
    treatment: Any,
    score: Any,
    *,
    bins: int = 10,
    n_boot: int = 200,
    level: float = 0.95,
    random_state: int = 0,
) -> pd.DataFrame:
    """Observed uplift per decile of the ranking (1 = highest scores), with bootstrap intervals.

    Columns: ``decile``, ``n_treated``, ``n_control``, ``rate_treated``, ``rate_control``,
    ``uplift`` (treated - control mean), ``uplift_low``, ``uplift_high``, ``predicted`` (mean
    score). Rows are cut into ``bins`` groups of (nearly) equal size by descending score.
    """
    yy, w, s = _inputs(y, treatment, score)
    rng = np.random.default_rng(random_state)
    order = np.argsort(-s, kind="mergesort")
    rows: list[dict[str, float]] = []
    for d, part in enumerate(np.array_split(order, bins), start=1):
        yt, yc = yy[part][w[part] == 1], yy[part][w[part] == 0]
        point = float(yt.mean() - yc.mean()) if yt.size and yc.size else float("nan")
        draws = np.array(
            [
                rng.choice(yt, yt.size).mean() - rng.choice(yc, yc.size).mean()
                for _ in range(n_boot if yt.size and yc.size else 0)
            ]
        )
        est = _interval(draws, point, level)
        rows.append(
            {
                "decile": d,
                "n_treated": int(yt.size),
                "n_control": int(yc.size),
                "rate_treated": float(yt.mean()) if yt.size else float("nan"),
                "rate_control": float(yc.mean()) if yc.size else float("nan"),
                **est.as_dict("uplift"),
                "predicted": float(s[part].mean()),
            }
        )
    return pd.DataFrame(rows)


def compare_targeting(
    y: Any,
    treatment: Any,
    scores: Mapping[str, Any],
    *,
    n_boot: int = 200,
    level: float = 0.95,
    k: float = 0.3,
    random_state: int = 0,
) -> pd.DataFrame:
    """Qini, AUUC and top-``k`` uplift of several rankings on the same rows, plus random order.

    ``scores`` maps a policy name to its score (higher = target first), e.g. ``{"model":
    uplift, "highest churn risk": risk}``. A ``random`` row (a seeded random order) shows what
    targeting without a model gives on these rows. One row per policy, with intervals.
    """
    yy, w, _ = _inputs(y, treatment)
    rng = np.random.default_rng(random_state)
    policies = {**dict(scores), "random": rng.random(yy.size)}
    rows = []
    for name, score in policies.items():
        est = score_intervals(
            yy, w, score, n_boot=n_boot, level=level, k=k, random_state=random_state
        )
        row: dict[str, Any] = {"policy": name}
        for key, value in est.items():
            row.update(value.as_dict(key))
        rows.append(row)
    return pd.DataFrame(rows)


def arm_rows(treatment: Any, arm: str, control: str) -> tuple[Array, Array]:
    """The rows in ``arm`` or ``control`` (a mask) and their 0/1 treatment indicator."""
    names = np.asarray(treatment).astype(str)
    mask = (names == arm) | (names == control)
    return mask, (names[mask] == arm).astype(np.int64)


def evaluate_arms(
    y: Any,
    treatment: Any,
    uplift: Any,
    arms: list[str],
    *,
    control: str = "control",
    n_boot: int = 200,
    level: float = 0.95,
    random_state: int = 0,
) -> pd.DataFrame:
    """Per arm: its rows and control's, ranked by that arm's uplift column; Qini/AUUC intervals.

    ``uplift`` is :meth:`UpliftLearner.predict_uplift`'s output (one column per arm in
    ``arms``, or a vector for one arm). Columns: ``arm``, ``n``, ``observed_uplift`` and the
    keys of :func:`score_intervals` with ``_low`` / ``_high``.
    """
    yy = np.asarray(y, dtype=np.float64).ravel()
    matrix = np.asarray(uplift, dtype=np.float64).reshape(yy.size, -1)
    rows = []
    for i, arm in enumerate(arms):
        mask, w = arm_rows(treatment, arm, control)
        ys = yy[mask]
        est = score_intervals(
            ys, w, matrix[mask, i], n_boot=n_boot, level=level, random_state=random_state
        )
        row: dict[str, Any] = {
            "arm": arm,
            "n": int(mask.sum()),
            "observed_uplift": float(ys[w == 1].mean() - ys[w == 0].mean()),
        }
        for key, value in est.items():
            row.update(value.as_dict(key))
        rows.append(row)
    return pd.DataFrame(rows)
