"""Evaluation by time: train on earlier reference dates, test on later ones never seen.

:func:`backtest` takes a *panel* (one row per customer and reference date: ``customer_id``,
``as_of``, the features and the ``churned`` label) and, for each of the last ``test_origins``
dates ``t``, trains on the rows whose label window closed before ``t`` (``as_of + H <= t``, so no
label overlaps the test period) and scores the rows at ``t``. The churn model and the baselines a
team would otherwise use are trained and scored on exactly the same rows:

- ``recency``: days since the last order (or event), turned into a probability by the churn rate
  per recency on the training rows (isotonic, so the rule's ranking is kept);
- ``logistic``: logistic regression on the same features (median-imputed with missing
  indicators, asinh-scaled, one-hot categoricals);
- ``bgnbd``: the BG/NBD probability of no purchase in the horizon (non-contractual only).

:func:`repeated_cv` is the single-snapshot protocol (IBM Telco): repeated stratified k-fold
cross-validation with bootstrap 95% intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from retain.errors import InvalidParameterError
from retain.i18n import t
from retain.models.churn._baselines import (
    _as_object,
    _recency_column,
    _RecencyRule,
    _split_columns,
    logistic_baseline,
)
from retain.models.churn._clv import bgnbd_scores
from retain.models.churn.champion import (
    CANDIDATES,
    bootstrap_interval,
    candidate_predictions,
    candidate_table,
)
from retain.models.churn.classifier import ChurnClassifier

__all__ = [
    "BASELINES",
    "Backtest",
    "backtest",
    "calibration_table",
    "evaluation_metrics",
    "lift_table",
    "logistic_baseline",
    "repeated_cv",
]

BASELINES: tuple[str, ...] = ("recency", "logistic", "bgnbd")
_KEYS = ("customer_id", "as_of", "churned")
METRICS = ("roc_auc", "pr_auc", "brier", "lift_10", "recall_10", "lift_20", "recall_20")


def _top_share(y: np.ndarray, p: np.ndarray, share: float) -> tuple[float, float]:
    """Lift and recall of churners among the ``share`` highest-risk rows."""
    k = max(1, round(len(y) * share))
    top = np.argsort(-p, kind="stable")[:k]
    base = y.mean()
    hit = y[top].mean()
    recall = y[top].sum() / max(y.sum(), 1)
    return (float(hit / base) if base > 0 else float("nan")), float(recall)


def evaluation_metrics(y: Any, p: Any) -> dict[str, float]:
    """ROC AUC, PR AUC, Brier score, lift and recall in the top 10% and 20%, base rate and n."""
    y_arr = np.asarray(y, dtype=np.float64)
    p_arr = np.asarray(p, dtype=np.float64)
    two = len(np.unique(y_arr)) == 2
    lift10, rec10 = _top_share(y_arr, p_arr, 0.10)
    lift20, rec20 = _top_share(y_arr, p_arr, 0.20)
    return {
        "roc_auc": float(roc_auc_score(y_arr, p_arr)) if two else float("nan"),
        "pr_auc": float(average_precision_score(y_arr, p_arr)) if two else float("nan"),
        "brier": float(brier_score_loss(y_arr, np.clip(p_arr, 0, 1))),
        "lift_10": lift10,
        "recall_10": rec10,
        "lift_20": lift20,
        "recall_20": rec20,
        "base_rate": float(y_arr.mean()),
        "n": float(len(y_arr)),
    }


def calibration_table(y: Any, p: Any, *, bins: int = 10) -> pd.DataFrame:
    """Mean predicted vs observed churn rate in ``bins`` equal-count bins of the prediction."""
    frame = pd.DataFrame({"y": np.asarray(y, dtype=float), "p": np.asarray(p, dtype=float)})
    ranks = frame["p"].rank(method="first")
    frame["bin"] = pd.qcut(ranks, q=min(bins, len(frame)), labels=False)
    out = frame.groupby("bin").agg(
        mean_predicted=("p", "mean"), observed=("y", "mean"), n=("y", "size")
    )
    return out.reset_index()


def lift_table(
    y: Any, p: Any, *, shares: Sequence[float] = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
) -> pd.DataFrame:
    """Lift and recall of churners when targeting the top ``share`` of customers by risk."""
    y_arr, p_arr = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    rows = [
        dict(zip(("share", "lift", "recall"), (s, *_top_share(y_arr, p_arr, s)), strict=True))
        for s in shares
    ]
    return pd.DataFrame(rows)


@dataclass
class Backtest:
    """What :func:`backtest` and :func:`repeated_cv` return."""

    metrics: pd.DataFrame
    """One row per model (``model`` first, then the baselines): the pooled test metrics."""
    by_origin: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Metrics per test reference date and model (empty for cross-validation)."""
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)
    """``model, bin, mean_predicted, observed, n`` over the pooled test rows."""
    lift: pd.DataFrame = field(default_factory=pd.DataFrame)
    """``model, share, lift, recall``."""
    protocol: str = ""
    """How the numbers were made, in one sentence (goes into the model card and docs)."""
    notes: list[str] = field(default_factory=list)
    """What was left out and why (e.g. the BG/NBD baseline without orders)."""
    candidates: pd.DataFrame = field(default_factory=pd.DataFrame)
    """One row per candidate (``candidate``, metrics, bootstrap ``*_low``/``*_high``); the
    ``model`` row of :attr:`metrics` is the champion's (empty without candidates)."""
    champion: dict[str, Any] = field(default_factory=dict)
    """How the champion was chosen (:func:`~retain.models.churn.champion.choose_champion`)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (model card, ``retain churn evaluate --format json``)."""

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            clean = frame.copy()
            for col in clean.columns:
                if pd.api.types.is_datetime64_any_dtype(clean[col]):
                    clean[col] = clean[col].dt.strftime("%Y-%m-%d")
            out: list[dict[str, Any]] = clean.to_dict(orient="records")  # type: ignore[assignment]
            return [
                {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
                for row in out
            ]

        return {
            "protocol": self.protocol,
            "notes": list(self.notes),
            "metrics": records(self.metrics),
            "by_origin": records(self.by_origin),
            "calibration": records(self.calibration),
            "lift": records(self.lift),
            "candidates": records(self.candidates),
            "champion": dict(self.champion),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Backtest:
        """Inverse of :meth:`to_dict`."""
        return cls(
            metrics=pd.DataFrame(data.get("metrics", [])),
            by_origin=pd.DataFrame(data.get("by_origin", [])),
            calibration=pd.DataFrame(data.get("calibration", [])),
            lift=pd.DataFrame(data.get("lift", [])),
            protocol=str(data.get("protocol", "")),
            notes=list(data.get("notes", [])),
            candidates=pd.DataFrame(data.get("candidates", [])),
            champion=dict(data.get("champion") or {}),
        )


def _champion_rows(
    y: np.ndarray, preds: dict[str, np.ndarray], metric: str, n_bootstrap: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The candidates' table (metrics with intervals) and the champion chosen from it."""
    rows = {k: evaluation_metrics(y, p) for k, p in preds.items()}
    return candidate_table(y, preds, rows, metric, n_bootstrap=n_bootstrap)


def _fit_predict(
    name: str,
    estimator: ChurnClassifier,
    train: pd.DataFrame,
    test: pd.DataFrame,
    features: list[str],
    *,
    horizon_days: float,
    time: str,
    label: str,
) -> np.ndarray | None:
    y = train[label].to_numpy(dtype=int)
    X_train, X_test = train[features], test[features]
    if name == "model":
        model = clone(estimator).fit(X_train, y, time=train[time])
        return np.asarray(model.predict_proba(X_test)[:, 1])
    if name == "logistic":
        cats, nums = _split_columns(X_train)
        nums = [c for c in nums if X_train[c].notna().any()]
        pipe = logistic_baseline(cats, nums)
        pipe.fit(_as_object(X_train, cats), y)
        return np.asarray(pipe.predict_proba(_as_object(X_test, cats))[:, 1])
    if name == "recency":
        column = _recency_column(X_train)
        if column is None:
            return None
        return _RecencyRule(column).fit(X_train, y).predict(X_test)
    if name == "bgnbd":
        scores = bgnbd_scores(X_test, horizon_days=horizon_days)
        if scores is None:
            return None
        return np.asarray(scores["p_no_purchase"].fillna(float(y.mean())).to_numpy())
    raise InvalidParameterError(
        t("churn.unknown_baseline", name=name),
        hint=t("churn.unknown_baseline_hint", known=", ".join(BASELINES)),
    )


def backtest(
    panel: pd.DataFrame,
    *,
    horizon_days: float,
    estimator: ChurnClassifier | None = None,
    baselines: Sequence[str] = BASELINES,
    test_origins: int = 3,
    min_train_origins: int = 3,
    time: str = "as_of",
    label: str = "churned",
    candidates: bool = False,
    champion_metric: str = "roc_auc",
    n_bootstrap: int = 200,
) -> Backtest:
    """Rolling-origin evaluation of the churn model and its baselines (see the module docstring).

    Parameters
    ----------
    panel
        One row per customer and reference date: ``customer_id``, ``time`` column, ``label``
        column and the features.
    horizon_days
        H of the churn definition: a training row is used for test date ``t`` only when
        ``as_of + H <= t``.
    estimator
        The churn model to evaluate (default: ``ChurnClassifier(random_state=0)``).
    baselines
        Any of ``"recency"``, ``"logistic"``, ``"bgnbd"``; those that do not apply to the data
        (no orders for BG/NBD) are left out with a note.
    test_origins
        How many of the latest reference dates are test dates.
    min_train_origins
        Fewest training reference dates a test date needs.
    candidates, champion_metric, n_bootstrap
        With ``candidates``, the ``model`` row is the champion among the trees, the logistic
        regression and their average (:mod:`~retain.models.churn.champion`), chosen by the
        pooled ``champion_metric`` with ``n_bootstrap`` resamples for the intervals.
    """
    for col in (time, label, "customer_id"):
        if col not in panel.columns:
            raise InvalidParameterError(
                t("churn.panel_column", column=col), hint=t("churn.panel_column_hint")
            )
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise InvalidParameterError(
            t("churn.unknown_baseline", name=unknown[0]),
            hint=t("churn.unknown_baseline_hint", known=", ".join(BASELINES)),
        )
    estimator = estimator if estimator is not None else ChurnClassifier(random_state=0)
    times = pd.to_datetime(panel[time])
    origins = sorted(times.unique())
    horizon = pd.Timedelta(days=horizon_days)
    tests = [
        o
        for o in origins[-test_origins:]
        if len([p for p in origins if p + horizon <= o]) >= min_train_origins
    ]
    if not tests:
        raise InvalidParameterError(
            t(
                "churn.no_test_date",
                n=min_train_origins,
                horizon=f"{horizon_days:g}",
                dates=len(origins),
            ),
            hint=t("churn.no_test_date_hint"),
        )
    features = [c for c in panel.columns if c not in {time, label, "customer_id"}]
    names = ["model", *baselines]
    preds: dict[str, list[np.ndarray]] = {n: [] for n in names}
    cands: dict[str, list[np.ndarray]] = {}
    ys: list[np.ndarray] = []
    by_origin: list[dict[str, Any]] = []
    notes: list[str] = []
    for origin in tests:
        train = panel[(times + horizon <= origin).to_numpy()]
        test = panel[(times == origin).to_numpy()]
        y_test = test[label].to_numpy(dtype=int)
        ys.append(y_test)
        for name in names:
            if candidates and name == "model":
                y_train = train[label].to_numpy(dtype=int)
                got = candidate_predictions(
                    estimator, train[features], y_train, test[features], train[time]
                )
                for key, value in got.items():
                    cands.setdefault(key, []).append(value)
                continue
            p = _fit_predict(
                name,
                estimator,
                train,
                test,
                features,
                horizon_days=horizon_days,
                time=time,
                label=label,
            )
            if p is None:
                preds.pop(name, None)
                continue
            if name in preds:
                preds[name].append(p)
        names = [n for n in names if n in preds]
    notes.extend(t("churn.baseline_left_out", name=b) for b in baselines if b not in preds)
    y_all = np.concatenate(ys)
    table, champion = pd.DataFrame(), dict[str, Any]()
    if candidates:
        pooled = {k: np.concatenate(v) for k, v in cands.items()}
        table, champion = _champion_rows(y_all, pooled, champion_metric, n_bootstrap)
        preds["model"] = cands[champion["chosen"]]
    for i, (origin, y_test) in enumerate(zip(tests, ys, strict=True)):
        by_origin.extend(
            {"model": n, "as_of": pd.Timestamp(origin), **evaluation_metrics(y_test, preds[n][i])}
            for n in names
        )
    metrics, calib, lifts = [], [], []
    for name in names:
        p_all = np.concatenate(preds[name])
        row = {"model": name, **evaluation_metrics(y_all, p_all)}
        # Every row with its 95% interval (pooled test rows resampled; PR AUC's weighted
        # resamples are slow and it rarely decides), so baselines read like the candidates.
        if n_bootstrap:
            for metric in ("roc_auc", "brier"):
                low, high = bootstrap_interval(y_all, p_all, metric, n_bootstrap=n_bootstrap)
                row[f"{metric}_low"], row[f"{metric}_high"] = low, high
        metrics.append(row)
        calib.append(calibration_table(y_all, p_all).assign(model=name))
        lifts.append(lift_table(y_all, p_all).assign(model=name))
    first = pd.Timestamp(tests[0]).date()
    protocol = (
        f"rolling origins: {len(origins)} reference dates; tested on the last {len(tests)} "
        f"(from {first}), each trained only on dates whose {horizon_days:g}-day label window "
        "closed before it"
    )
    by = pd.DataFrame(by_origin)
    return Backtest(
        metrics=pd.DataFrame(metrics),
        by_origin=by,
        calibration=pd.concat(calib, ignore_index=True)[
            ["model", "bin", "mean_predicted", "observed", "n"]
        ],
        lift=pd.concat(lifts, ignore_index=True)[["model", "share", "lift", "recall"]],
        protocol=protocol,
        notes=notes,
        candidates=table,
        champion=champion,
    )


def repeated_cv(
    X: pd.DataFrame,
    y: Any,
    *,
    estimator: ChurnClassifier | None = None,
    baselines: Sequence[str] = ("logistic",),
    n_splits: int = 5,
    n_repeats: int = 3,
    n_bootstrap: int = 500,
    random_state: int = 0,
    candidates: bool = False,
    champion_metric: str = "roc_auc",
) -> Backtest:
    """Repeated stratified k-fold cross-validation for a single snapshot, with bootstrap CIs.

    Every row is predicted out of fold once per repeat; metrics are averaged over repeats, and
    the 95% interval of each metric comes from ``n_bootstrap`` resamples of the customers
    (out-of-fold predictions of the first repeat). Nothing is oversampled: honest published
    figures on IBM Telco depend on that. With ``candidates`` the ``model`` row is the champion
    (see :func:`backtest`), its intervals from the same resamples.
    """
    y_arr = np.asarray(y).astype(int)
    estimator = estimator if estimator is not None else ChurnClassifier(random_state=0)
    kept = [f"candidate:{c}" for c in CANDIDATES] if candidates else ["model"]
    names = [*kept, *baselines]
    oof: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for rep in range(n_repeats):
        folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state + rep)
        fold_preds = {n: np.zeros(len(y_arr)) for n in names}
        for train, test in folds.split(X, y_arr):
            if candidates:
                got = candidate_predictions(
                    estimator, X.iloc[train], y_arr[train], X.iloc[test], None
                )
                for key, value in got.items():
                    fold_preds[f"candidate:{key}"][test] = value
            for name in names:
                if name.startswith("candidate:"):
                    continue
                p = (
                    _fit_predict(
                        name,
                        estimator,
                        X.iloc[train].assign(_y=y_arr[train]),
                        X.iloc[test],
                        list(X.columns),
                        horizon_days=0,
                        time="",
                        label="_y",
                    )
                    if name != "model"
                    else np.asarray(
                        clone(estimator)
                        .fit(X.iloc[train], y_arr[train])
                        .predict_proba(X.iloc[test])[:, 1]
                    )
                )
                if p is None:
                    raise InvalidParameterError(t("churn.baseline_not_applicable", name=name))
                fold_preds[name][test] = p
        for name in names:
            oof[name].append(fold_preds[name])
    rng = np.random.default_rng(random_state)
    samples = [rng.integers(0, len(y_arr), len(y_arr)) for _ in range(n_bootstrap)]
    rows, calib, lifts = [], [], []
    for name in names:
        per_repeat = pd.DataFrame([evaluation_metrics(y_arr, p) for p in oof[name]])
        row: dict[str, Any] = {"model": name}
        row.update({str(k): v for k, v in per_repeat.mean().items()})
        first = oof[name][0]
        boot = pd.DataFrame([evaluation_metrics(y_arr[s], first[s]) for s in samples])
        for metric in ("roc_auc", "pr_auc", "brier"):
            row[f"{metric}_low"] = float(boot[metric].quantile(0.025))
            row[f"{metric}_high"] = float(boot[metric].quantile(0.975))
        rows.append(row)
    table, champion = pd.DataFrame(), dict[str, Any]()
    if candidates:
        firsts = {c[10:]: oof[c][0] for c in kept}
        metric_rows = {str(r["model"])[10:]: r for r in rows[: len(kept)]}
        table, champion = candidate_table(
            y_arr, firsts, metric_rows, champion_metric, n_bootstrap=n_bootstrap
        )
        table = table.drop(columns="model")
        chosen = f"candidate:{champion['chosen']}"
        rows = [{**rows[kept.index(chosen)], "model": "model"}, *rows[len(kept) :]]
        oof["model"] = oof[chosen]
        names = ["model", *baselines]
    for name in names:
        calib.append(calibration_table(y_arr, oof[name][0]).assign(model=name))
        lifts.append(lift_table(y_arr, oof[name][0]).assign(model=name))
    protocol = (
        f"{n_repeats} x repeated stratified {n_splits}-fold cross-validation, no oversampling; "
        f"95% intervals from {n_bootstrap} bootstrap resamples of the out-of-fold predictions"
    )
    return Backtest(
        metrics=pd.DataFrame(rows),
        calibration=pd.concat(calib, ignore_index=True)[
            ["model", "bin", "mean_predicted", "observed", "n"]
        ],
        lift=pd.concat(lifts, ignore_index=True)[["model", "share", "lift", "recall"]],
        protocol=protocol,
        candidates=table,
        champion=champion,
    )
