"""Batch scoring's compiled TreeSHAP gives the classifier's own contributions, row for row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from retain.errors import InvalidParameterError
from retain.models.churn import ChurnClassifier, RegisteredModel, score_frame
from retain.models.churn.scoring import REASON_FLOOR, predict_with_contributions


def _data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "days_since_last_order": np.where(
                rng.random(n) < 0.1, np.nan, rng.integers(0, 400, n).astype(float)
            ),
            "orders_90d": rng.poisson(1.5, n).astype(float),
            "zero_heavy": np.where(rng.random(n) < 0.5, 0.0, rng.normal(size=n)),
            "ratio": rng.normal(size=n),
            "country": rng.choice(np.array(["JP", "KR", "US", None], dtype=object), n),
            "flag": rng.random(n) < 0.3,
        }
    )
    logit = (
        np.nan_to_num(frame["days_since_last_order"].to_numpy(), nan=300.0) / 120
        - 1.5
        - 0.3 * frame["orders_90d"].to_numpy()
        + 0.7 * (frame["country"] == "KR").to_numpy()
        + 0.5 * frame["zero_heavy"].to_numpy()
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame, y


def test_grouped_contributions_equal_lightgbm_treeshap() -> None:
    frame, y = _data(6000, seed=0)
    model = ChurnClassifier(random_state=0, n_estimators=80, linear_base=True).fit(frame, y)
    scored, _ = _data(5000, seed=1)  # unseen rows, categories and missing values included
    p_exact, c_exact = model.predict_with_contributions(scored)
    p, c = predict_with_contributions(model, scored)
    assert c.shape == c_exact.shape
    np.testing.assert_allclose(c, c_exact, rtol=0, atol=1e-10)
    np.testing.assert_allclose(p, p_exact, rtol=0, atol=1e-9)
    # Not a vacuous comparison: most features carry contributions.
    assert (np.abs(c[:, :-1]).sum(axis=0) > 0).sum() >= 5


def test_small_frames_and_plain_trees_agree_too() -> None:
    frame, y = _data(3000, seed=2)
    model = ChurnClassifier(random_state=0, n_estimators=40, linear_base=False).fit(frame, y)
    for rows in (frame.iloc[:1], frame.iloc[:50]):
        p_exact, c_exact = model.predict_with_contributions(rows)
        p, c = predict_with_contributions(model, rows)
        np.testing.assert_allclose(c, c_exact, rtol=0, atol=1e-10)
        np.testing.assert_allclose(p, p_exact, rtol=0, atol=1e-9)


def test_linear_base_terms_add_up_to_the_margin() -> None:
    frame, y = _data(4000, seed=3)
    model = ChurnClassifier(random_state=0, n_estimators=30, linear_base=True).fit(frame, y)
    assert model.linear_ is not None
    prepared = model.prepare(frame)
    linear = model.linear_.contributions(prepared)
    np.testing.assert_allclose(linear.sum(axis=1), model.linear_.margin(prepared), atol=1e-10)
    # The linear base reads the missing indicator and the categories, not only numbers.
    assert np.abs(linear[:, list(frame.columns).index("country")]).max() > 0
    raw = np.asarray(model.booster_.predict(prepared, raw_score=True))
    _, c = predict_with_contributions(model, frame)
    np.testing.assert_allclose(c.sum(axis=1), raw + model.linear_.margin(prepared), atol=1e-9)


def test_score_frame_does_not_depend_on_chunks_or_threads(tmp_path: Path) -> None:
    """Two threads over small chunks give the same rows, in order, as one pass on one thread."""
    frame, y = _data(3000, seed=4)
    model = ChurnClassifier(random_state=0, n_estimators=40).fit(frame, y)
    kinds = ["numeric" if pd.api.types.is_numeric_dtype(frame[c]) else "categorical" for c in frame]
    card = {
        "features": [{"name": c, "kind": k} for c, k in zip(frame.columns, kinds, strict=True)],
        "risk_bands": {"high": 0.6, "medium": 0.3},
    }
    registered = RegisteredModel("t", model, card, tmp_path)
    rows, _ = _data(2500, seed=5)
    rows.insert(0, "customer_id", [f"c{i}" for i in range(len(rows))])
    seen: list[int] = []
    one = score_frame(registered, rows, workers=1, chunk_rows=10_000)
    many = score_frame(registered, rows, workers=2, chunk_rows=300, on_chunk=seen.append)
    pd.testing.assert_frame_equal(one, many)
    assert sum(seen) == len(rows) and len(seen) == 9
    assert one["reasons"].str.startswith("[").all() and one["probability"].between(0, 1).all()


def test_reasons_below_the_floor_are_not_given(tmp_path: Path) -> None:
    """By default a family must add more than REASON_FLOOR log-odds to be a reason; 0 gives every
    risk-raising family, as reasons_json_array does."""
    frame, y = _data(3000, seed=4)
    model = ChurnClassifier(random_state=0, n_estimators=40).fit(frame, y)
    card = {"features": [{"name": c, "kind": "numeric"} for c in frame.columns[:4]]}
    card["features"] += [{"name": "country", "kind": "categorical"}]
    card["features"] += [{"name": "flag", "kind": "numeric"}]
    registered = RegisteredModel("t", model, card, tmp_path)
    rows, _ = _data(2000, seed=5)
    default = [json.loads(r) for r in score_frame(registered, rows)["reasons"]]
    every = [json.loads(r) for r in score_frame(registered, rows, min_contribution=0)["reasons"]]

    # The base-rate reason ("most customers like this one leave") stands for the model's bias
    # where no family passes the floor; it is not a family's contribution.
    def families(reasons: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
        return [[x for x in rs if not x["key"].startswith("reasons.base_rate")] for rs in reasons]

    default, every = families(default), families(every)
    given = [x["contribution"] for rs in default for x in rs]
    small = [x["contribution"] for rs in every for x in rs if x["contribution"] <= REASON_FLOOR]
    assert given and min(given) > REASON_FLOOR
    assert small  # not vacuous: without the floor some reasons are smaller
    assert sum(map(len, every)) == sum(map(len, default)) + len(small)
    with pytest.raises(InvalidParameterError, match="min_contribution"):
        score_frame(registered, rows, min_contribution=-0.1)
    for bad in (float("nan"), float("inf"), True, "0.1", None):
        with pytest.raises(InvalidParameterError, match="min_contribution"):
            score_frame(registered, rows, min_contribution=bad)  # type: ignore[arg-type]


def test_score_frame_refuses_chunks_or_threads_below_one(tmp_path: Path) -> None:
    frame, y = _data(1000, seed=6)
    model = ChurnClassifier(random_state=0, n_estimators=10).fit(frame, y)
    card = {"features": [{"name": c, "kind": "numeric"} for c in frame.columns]}
    registered = RegisteredModel("t", model, card, tmp_path)
    with pytest.raises(InvalidParameterError, match="'chunk_rows' parameter of score_frame"):
        score_frame(registered, frame, chunk_rows=0)
    with pytest.raises(InvalidParameterError, match="'workers' parameter of score_frame"):
        score_frame(registered, frame, workers=0)


def test_feature_matrix_equals_the_prepared_frame() -> None:
    """The fast path reads every column exactly as ``prepare`` does, odd inputs included."""
    from retain.models.churn._inputs import as_matrix

    frame, y = _data(3000, seed=4)
    model = ChurnClassifier(random_state=0, n_estimators=20).fit(frame, y)
    odd = frame.iloc[:8].copy()
    odd["country"] = np.array(["JP", "XX", None, np.nan, "KR", "US", "", "JP"], dtype=object)
    mixed = odd.copy()
    mixed["country"] = np.array(["JP", 1, None, "KR", 2.5, "US", "JP", True], dtype=object)
    typed = odd.assign(
        country=odd["country"].astype("category"),
        orders_90d=odd["orders_90d"].astype("int64"),
        flag=odd["flag"].astype(object),
    )
    empty = odd.assign(country=np.array([None] * 8, dtype=object))
    for rows in (frame, odd, mixed, typed, empty, frame.iloc[:0]):
        want = as_matrix(model.prepare(rows))
        got = model.feature_matrix(rows)
        np.testing.assert_array_equal(got, want)
        assert got.flags.f_contiguous


def test_feature_matrix_raises_the_classifiers_errors() -> None:
    frame, y = _data(2000, seed=5)
    model = ChurnClassifier(random_state=0, n_estimators=10).fit(frame, y)
    for broken, message in [
        (frame.assign(ratio=np.inf), "infinite"),
        (frame.assign(ratio="high"), "neither numeric"),
        (frame.drop(columns=["ratio"]), "feature columns differ"),
    ]:
        with pytest.raises(InvalidParameterError, match=message):
            model.feature_matrix(broken)
        with pytest.raises(InvalidParameterError, match=message):
            predict_with_contributions(model, broken)


@pytest.mark.parametrize("linear_base", [False, True])
def test_family_summed_contributions_equal_the_summed_per_feature_ones(linear_base: bool) -> None:
    from retain.models.churn._contributions import grouped as _grouped

    frame, y = _data(3000, seed=6)
    model = ChurnClassifier(random_state=0, n_estimators=30, linear_base=linear_base).fit(frame, y)
    groups = np.array([0, 1, 2, 1, 3, 0])  # any grouping: the sums must agree
    p_full, full = predict_with_contributions(model, frame)
    p, summed = predict_with_contributions(model, frame, groups=groups)
    assert summed.shape == (len(frame), 5)
    np.testing.assert_allclose(summed, _grouped(full, groups), rtol=0, atol=1e-10)
    np.testing.assert_allclose(p, p_full, rtol=0, atol=1e-9)
