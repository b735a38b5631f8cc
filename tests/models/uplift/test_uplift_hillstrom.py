"""Hillstrom's MineThatData e-mail test: the published arm rates, then uplift on a held-out split.

Source: Kevin Hillstrom, "MineThatData E-Mail Analytics And Data Mining Challenge", March 2008
(64,000 customers randomized into a men's e-mail, a women's e-mail and no e-mail, outcomes over
the next two weeks); the file is ``../shared/datasets/hillstrom`` (its README records the
provenance and the published results reproduced below).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from retain.models.uplift import (
    ClassTransformation,
    SLearner,
    TLearner,
    UpliftLearner,
    XLearner,
    evaluate_arms,
)

FILE = (
    "hillstrom/Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv.gz"
)
FEATURES = [
    "recency",
    "history_segment",
    "history",
    "mens",
    "womens",
    "zip_code",
    "newbie",
    "channel",
]
CONTROL = "No E-Mail"
SEED = 2008  # the split of benchmarks/uplift.py


DATASETS = Path(__file__).resolve().parents[3].parent / "shared" / "datasets"


@pytest.fixture(scope="module")
def hillstrom() -> pd.DataFrame:
    if not (DATASETS / FILE).is_file():
        pytest.skip(f"Hillstrom data not found under {DATASETS} (see DEVELOPERS.md)")
    return pd.read_csv(DATASETS / FILE)


def test_published_arm_rates(hillstrom: pd.DataFrame) -> None:
    """Visit 18.28 / 15.14 / 10.62 %, conversion 1.25 / 0.88 / 0.57 %, spend $1.42 / $1.08 /
    $0.65 per customer (Mens / Womens / No E-Mail), as published with the challenge."""
    by_arm = hillstrom.groupby("segment")
    assert by_arm.size().to_dict() == {
        "Mens E-Mail": 21_307,
        "Womens E-Mail": 21_387,
        "No E-Mail": 21_306,
    }
    rates = (by_arm[["visit", "conversion"]].mean() * 100).round(2)
    assert rates["visit"].to_dict() == {
        "Mens E-Mail": 18.28,
        "Womens E-Mail": 15.14,
        "No E-Mail": 10.62,
    }
    assert rates["conversion"].to_dict() == {
        "Mens E-Mail": 1.25,
        "Womens E-Mail": 0.88,
        "No E-Mail": 0.57,
    }
    spend = by_arm["spend"].mean().round(2).to_dict()
    assert spend == {"Mens E-Mail": 1.42, "Womens E-Mail": 1.08, "No E-Mail": 0.65}


@pytest.fixture(scope="module")
def split(hillstrom: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    rows = np.arange(len(hillstrom))
    train, test = train_test_split(
        rows, test_size=0.3, random_state=SEED, stratify=hillstrom["segment"]
    )
    return train, test


def _evaluate(
    cls: type[UpliftLearner], data: pd.DataFrame, split: tuple[np.ndarray, np.ndarray], y: str
) -> pd.DataFrame:
    train, test = split
    arm = data["segment"].to_numpy()
    X = data[FEATURES]
    outcome = data[y].to_numpy()
    model = cls(control=CONTROL, random_state=0).fit(X.iloc[train], arm[train], outcome[train])
    assert model.arms_ == ["Mens E-Mail", "Womens E-Mail"]
    uplift = model.predict_uplift(X.iloc[test])
    table = evaluate_arms(
        outcome[test], arm[test], uplift, model.arms_, control=CONTROL, n_boot=100
    )
    return table.set_index("arm")


@pytest.mark.parametrize("cls", [TLearner, XLearner, SLearner, ClassTransformation])
def test_visit_uplift_beats_random_targeting(
    cls: type[UpliftLearner], hillstrom: pd.DataFrame, split: tuple[np.ndarray, np.ndarray]
) -> None:
    """On the held-out 30 %, ranking by predicted uplift beats random order for the women's
    e-mail (whose effect varies most with the customer's history), interval above 0."""
    table = _evaluate(cls, hillstrom, split, "visit")
    assert table.loc["Womens E-Mail", "qini_low"] > 0.0
    assert table.loc["Womens E-Mail", "auuc_low"] > 0.0
    observed = table["observed_uplift"].to_dict()
    # The held-out arms' measured lifts stay near the published 7.66 and 4.52 points.
    assert observed["Mens E-Mail"] == pytest.approx(0.0766, abs=0.01)
    assert observed["Womens E-Mail"] == pytest.approx(0.0452, abs=0.01)


def test_conversion_scores_have_intervals(
    hillstrom: pd.DataFrame, split: tuple[np.ndarray, np.ndarray]
) -> None:
    """Conversions are rare (under 1.3 %), so their Qini is noisy; the intervals say so."""
    table = _evaluate(TLearner, hillstrom, split, "conversion")
    for _, row in table.iterrows():
        assert row["qini_low"] < row["qini"] < row["qini_high"]
        assert row["qini_high"] - row["qini_low"] > 0.05
