"""Kaplan-Meier curves are counted in numpy (#21): the same numbers as lifelines, to 1e-12.

Curves, the exponential Greenwood bands, the event table and the median are compared with
``lifelines.KaplanMeierFitter`` on random durations with ties and censoring, raw and as counts,
integer (counted with ``bincount``) and fractional (sorted) alike.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test

from retain.errors import InvalidParameterError
from retain.metrics import kaplan_meier, logrank_test, survival_summary


def _lifelines(frame: pd.DataFrame, alpha: float = 0.05) -> KaplanMeierFitter:
    km = KaplanMeierFitter(alpha=alpha)
    weights = frame["n"].astype("float64") if "n" in frame.columns else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km.fit(frame["duration"].astype("float64"), frame["observed"], weights=weights)
    return km


def _same_as_lifelines(curve: pd.DataFrame, km: KaplanMeierFitter) -> None:
    sf = km.survival_function_.iloc[:, 0]
    ci = km.confidence_interval_survival_function_
    table = km.event_table.reindex(sf.index)
    np.testing.assert_array_equal(curve["timeline"].to_numpy(), sf.index.to_numpy(dtype=float))
    for ours, theirs in [
        (curve["survival"], sf),
        (curve["ci_lower"], ci.iloc[:, 0]),
        (curve["ci_upper"], ci.iloc[:, 1]),
        (curve["at_risk"], table["at_risk"]),
        (curve["observed"], table["observed"]),
        (curve["censored"], table["censored"]),
    ]:
        np.testing.assert_allclose(
            ours.to_numpy(dtype=float), theirs.to_numpy(dtype=float), rtol=0, atol=1e-12
        )


durations_strategy = st.lists(
    st.tuples(st.integers(-3, 40), st.booleans(), st.integers(1, 4)), min_size=1, max_size=60
)


@settings(max_examples=60, deadline=None)
@given(rows=durations_strategy, alpha=st.sampled_from([0.05, 0.1, 0.32]), counted=st.booleans())
def test_curves_and_bands_equal_lifelines(
    rows: list[tuple[int, bool, int]], alpha: float, counted: bool
) -> None:
    frame = pd.DataFrame(rows, columns=["duration", "observed", "n"]).astype({"observed": int})
    if not counted:
        frame = frame.drop(columns="n")
    _same_as_lifelines(kaplan_meier(frame, alpha=alpha), _lifelines(frame, alpha))


@settings(max_examples=30, deadline=None)
@given(rows=durations_strategy)
def test_fractional_durations_equal_lifelines(rows: list[tuple[int, bool, int]]) -> None:
    frame = pd.DataFrame(rows, columns=["duration", "observed", "n"]).astype({"observed": int})
    frame["duration"] = frame["duration"] / 3.0
    _same_as_lifelines(kaplan_meier(frame), _lifelines(frame))


def test_large_random_sample_and_median_equal_lifelines() -> None:
    rng = np.random.default_rng(7)
    size = 200_000
    frame = pd.DataFrame(
        {
            "duration": rng.integers(0, 365, size),
            "observed": (rng.random(size) < 0.4).astype(np.int64),
        }
    )
    km = _lifelines(frame)
    _same_as_lifelines(kaplan_meier(frame), km)
    summary = survival_summary(frame)
    assert summary.to_dict("records") == [
        {
            "customers": size,
            "churned": int(frame["observed"].sum()),
            "median_lifetime": float(km.median_survival_time_),
        }
    ]
    # durations spread beyond a table of counts are sorted instead, with the same result
    wide = frame.assign(duration=frame["duration"] * 1_000_003)
    _same_as_lifelines(kaplan_meier(wide), _lifelines(wide))


def test_segments_counts_and_zero_counts() -> None:
    frame = pd.DataFrame(
        {
            "plan": ["a", "a", "a", "b", "b", None, "c"],
            "duration": [1, 3, 3, 2, 5, 4, 2],
            "observed": [1, 0, 1, 1, 1, 0, 1],
            "n": [2, 1, 3, 1, 4, 2, 0],
        }
    )
    curves = kaplan_meier(frame, by="plan")
    assert list(curves.columns[:2]) == ["plan", "timeline"]
    assert curves["plan"].drop_duplicates().tolist()[:2] == ["a", "b"]
    assert "c" not in set(curves["plan"].dropna())  # only zero counts: no curve
    for plan, part in curves.groupby("plan", dropna=False, sort=False):
        mask = frame["plan"].isna() if part["plan"].isna().all() else frame["plan"] == plan
        rows = frame[mask]
        _same_as_lifelines(part.reset_index(drop=True), _lifelines(rows[rows["n"] > 0]))
    summary = survival_summary(frame, by="plan")
    assert summary.loc[summary["plan"] == "a", "customers"].item() == 6
    assert summary.loc[summary["plan"] == "a", "churned"].item() == 5
    assert summary.loc[summary["plan"] == "b", "median_lifetime"].item() == 5.0
    assert summary.loc[summary["plan"] == "a", "median_lifetime"].item() == 3.0


def test_logrank_equals_lifelines() -> None:
    frame = pd.DataFrame(
        {
            "plan": ["a", "a", "b", "b", "b"],
            "duration": [1, 4, 2, 2, 6],
            "observed": [1, 1, 0, 1, 1],
            "n": [3, 2, 4, 1, 2],
        }
    )
    ours = logrank_test(frame, by="plan")
    theirs: Any = multivariate_logrank_test(
        frame["duration"], frame["plan"], frame["observed"], weights=frame["n"].astype(float)
    )
    assert ours.statistic == pytest.approx(float(theirs.test_statistic), abs=1e-12)
    assert ours.groups == ("a", "b")


def test_no_durations_give_no_rows() -> None:
    empty = pd.DataFrame({"duration": pd.Series([], dtype="int64"), "observed": []})
    assert kaplan_meier(empty).empty
    assert list(kaplan_meier(empty, by=None).columns)[:2] == ["timeline", "survival"]
    by = empty.assign(plan=pd.Series([], dtype="string"))
    assert kaplan_meier(by, by="plan").columns[0] == "plan"
    assert survival_summary(by, by="plan").empty


def test_missing_duration_is_an_error() -> None:
    frame = pd.DataFrame({"duration": [1.0, np.nan], "observed": [1, 0]})
    with pytest.raises(InvalidParameterError, match="duration"):
        kaplan_meier(frame)
