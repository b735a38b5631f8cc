"""Uplift split by halves: the estimates that choose never value the plan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retain.models.uplift import TLearner
from retain.targeting.offers import uplift_by_halves


def _campaign(n: int, effect: float, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    treated = rng.random(n) < 0.5
    base = 0.2 + 0.1 * (X["a"] > 0)
    p = base + effect * treated * (X["b"] > 0)
    y = (rng.random(n) < p).astype(int)
    return X, np.where(treated, "coupon", "control"), np.asarray(y)


@pytest.fixture(scope="module")
def learner() -> TLearner:
    return TLearner(random_state=0, min_child_samples=50, n_estimators=60)


def test_frame_has_the_planner_shape(learner: TLearner) -> None:
    X, arm, y = _campaign(4000, 0.1, 0)
    ids = pd.Series([f"P{i}" for i in range(500)])
    plan_X = X.iloc[:500].reset_index(drop=True)
    frame = uplift_by_halves(
        learner, X, arm, y, plan_X=plan_X, customer_ids=ids, actions={"coupon": "coupon_10"}
    )
    assert list(frame.columns) == ["customer_id", "action", "uplift", "uplift_honest"]
    assert frame["action"].unique().tolist() == ["coupon_10"]
    assert frame["customer_id"].tolist() == ids.tolist()
    # Two models: the chosen-on and valued-on estimates differ, and both see the effect of b.
    assert not np.allclose(frame["uplift"], frame["uplift_honest"])
    b = plan_X["b"].to_numpy() > 0
    for column in ("uplift", "uplift_honest"):
        assert frame[column][b].mean() > frame[column][~b].mean() + 0.05


def test_no_effect_the_chosen_look_good_only_on_their_own_estimates(learner: TLearner) -> None:
    """Zero true uplift: the top tenth by the choosing estimate looks positive on it, and
    about zero on the honest one (the winner's curse, removed)."""
    X, arm, y = _campaign(6000, 0.0, 1)
    plan_X = X.iloc[:3000].reset_index(drop=True)
    ids = [f"P{i}" for i in range(3000)]
    frame = uplift_by_halves(learner, X, arm, y, plan_X=plan_X, customer_ids=ids)
    top = frame.nlargest(300, "uplift")
    assert top["uplift"].mean() > 0.05
    assert abs(top["uplift_honest"].mean()) < top["uplift"].mean() / 3
