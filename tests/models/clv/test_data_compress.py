"""Compressing a per-customer frame by counting (#21): the same distinct rows and weights as a
pandas group-by, the values bit for bit, and the same fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retain.errors import DataValidationError
from retain.models.clv import BetaGeoModel
from retain.models.clv._data import _count_rows, read_input
from retain.models.clv._purchase import rfm_rules

COLUMNS = ("frequency", "recency", "T")


def _pandas_groups(frame: pd.DataFrame) -> pd.DataFrame:
    grouped = frame.groupby(list(COLUMNS)).size().rename("weight").reset_index()
    return grouped.astype({"weight": "float64"})


def _read(frame: pd.DataFrame) -> pd.DataFrame:
    checked = read_input(
        frame,
        columns=COLUMNS,
        table="rfm",
        compress=True,
        rules=rfm_rules(),
        nonnegative=COLUMNS,
        integer=("frequency",),
    )
    out = pd.DataFrame({**checked.columns, "weight": checked.weight})
    return out.sort_values(list(COLUMNS)).reset_index(drop=True)


def _summary(rows: list[tuple[int, int, int]], unit: float) -> pd.DataFrame:
    """Per customer (frequency, recency days, age days) as rfm_summary gives them in ``unit``."""
    x = np.array([r[0] for r in rows], dtype=np.float64)
    age = np.array([r[2] for r in rows], dtype=np.float64)
    rec = np.where(x > 0, np.minimum([r[1] for r in rows], age), 0.0)
    return pd.DataFrame({"frequency": x, "recency": rec / unit, "T": age / unit})


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 40), st.integers(0, 40)),
        min_size=2,
        max_size=80,
    ),
    unit=st.sampled_from([1.0, 7.0, 365.25 / 12]),
)
def test_counting_equals_pandas_group_by(rows: list[tuple[int, int, int]], unit: float) -> None:
    frame = _summary(rows, unit)
    counted = _count_rows([frame[c].to_numpy() for c in COLUMNS])
    assert counted is not None  # whole days in a rfm_summary unit are counted
    values, weight = counted
    ours = pd.DataFrame({**dict(zip(COLUMNS, values, strict=True)), "weight": weight})
    pd.testing.assert_frame_equal(ours, _pandas_groups(frame), check_exact=True)
    pd.testing.assert_frame_equal(_read(frame), _pandas_groups(frame), check_exact=True)


def test_other_values_are_grouped_by_pandas() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, 500).astype(np.float64)
    T = np.round(rng.random(500) * 30, 3) + 1.0
    frame = pd.DataFrame({"frequency": x, "recency": np.where(x > 0, T / 2, 0.0), "T": T})
    assert _count_rows([frame[c].to_numpy() for c in COLUMNS]) is None
    pd.testing.assert_frame_equal(_read(frame), _pandas_groups(frame), check_exact=True)


def test_far_from_zero_values_keep_exact_keys() -> None:
    x = np.array([0.0, 1.0, 1.0, 2.0, 0.0])
    T = 1e9 + np.array([3.0, 4.0, 4.0, 3.0, 3.0])
    frame = pd.DataFrame({"frequency": x, "recency": np.where(x > 0, 1.0, 0.0), "T": T})
    pd.testing.assert_frame_equal(_read(frame), _pandas_groups(frame), check_exact=True)


def test_frame_fit_equals_compressed_fit() -> None:
    from retain.models.clv.bgnbd import simulate

    rng = np.random.default_rng(11)
    days = 272 - rng.integers(0, 84, 20_000)
    sim = simulate(
        {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
        days.size,
        T=days / 7.0,
        random_state=5,
    )
    frame = pd.DataFrame(
        {
            "frequency": sim["frequency"],
            "recency": np.floor(sim["recency"].to_numpy() * 7) / 7.0,
            "T": days / 7.0,
        }
    )
    ours = BetaGeoModel().fit(frame)
    packed = BetaGeoModel().fit(_pandas_groups(frame))
    for name, value in packed.params_.items():
        assert ours.params_[name] == pytest.approx(value, rel=1e-9)
    assert ours.n_customers_ == 20_000


def test_broken_rows_are_still_named() -> None:
    frame = pd.DataFrame({"frequency": [1.0, 0.0, 2.0], "recency": [1.0, 1.0, 9.0], "T": 5.0})
    with pytest.raises(DataValidationError, match="recency") as caught:
        _read(frame)
    rows = {v.row for v in caught.value.violations}
    assert rows == {1, 2}
