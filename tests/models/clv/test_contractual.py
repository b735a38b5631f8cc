"""Subscribers' lifetime value: the sBG spell likelihood, per-plan fits, and clv_scores rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import approx_fprime

import retain.warehouse as wh
from retain.config import Settings
from retain.models.clv import (
    ShiftedBetaGeometricModel,
    customer_lifetime_value,
    fit_clv,
    load_models,
    rfm_summary,
    score_clv,
)
from retain.models.clv.contractual import (
    fit_subscriptions,
    subscriber_values,
    subscription_spells,
)
from retain.models.clv.sbg import spell_log_likelihood
from retain.models.registry import ModelRegistry
from retain.targeting import latest_clv_scores

# Fader & Hardie (2007), "regular" customers: survivors at the start of years 0..7.
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]


def test_spells_reproduce_the_cohort_fit() -> None:
    cohort = ShiftedBetaGeometricModel().fit(REGULAR)
    s = np.array(REGULAR, dtype=float)
    periods = np.r_[np.arange(1, len(s)), len(s) - 1.0]
    ended = np.r_[np.ones(len(s) - 1), 0.0]
    weight = np.r_[s[:-1] - s[1:], s[-1]]
    spells = ShiftedBetaGeometricModel().fit_spells(periods, ended, weight=weight)
    assert spells.params_["alpha"] == pytest.approx(cohort.params_["alpha"], rel=1e-5)
    assert spells.params_["beta"] == pytest.approx(cohort.params_["beta"], rel=1e-5)
    assert spells.log_likelihood_ == pytest.approx(cohort.log_likelihood_, rel=1e-8)


@pytest.mark.parametrize("entered", [np.zeros(8), np.array([0, 0, 1, 1, 2, 2, 3, 3.0])])
def test_spell_gradient_matches_finite_differences(entered: np.ndarray) -> None:
    periods = np.r_[np.arange(1, 8), 7.0]
    ended = np.r_[np.ones(7), 0.0]
    weight = np.array([369, 163, 86, 56, 37, 27, 21, 241.0])
    start = np.minimum(entered, np.where(ended > 0, periods - 1, periods))
    theta = np.array([0.7, 1.3])
    _, grad = spell_log_likelihood(theta, periods, ended, start, weight)
    numeric = approx_fprime(
        theta, lambda x: spell_log_likelihood(x, periods, ended, start, weight)[0], 1e-7
    )
    assert grad == pytest.approx(numeric, rel=1e-4)


def _subscriptions(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        columns=["customer_id", "plan", "billing_period", "amount", "currency", "start", "end"],
    ).assign(
        started_at=lambda f: pd.to_datetime(f["start"]),
        ended_at=lambda f: pd.to_datetime(f["end"]),
    )


def _snapshot(n: int = 2000, churn: float = 0.2, seed: int = 1) -> pd.DataFrame:
    """Telco-like: every subscription alive on 2019-09-01, a share cancels in September."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, n)
    gone = rng.random(n) < churn
    start = pd.Timestamp("2019-09-01") - pd.to_timedelta(0, "D")
    rows = [
        (
            f"c{i}",
            "Month-to-month",
            "month",
            50.0,
            "USD",
            start - pd.DateOffset(months=int(m)),
            pd.Timestamp("2019-09-30") if g else None,
        )
        for i, (m, g) in enumerate(zip(tenure, gone, strict=True))
    ]
    return _subscriptions(rows)


def test_a_snapshot_is_read_as_left_truncated() -> None:
    """Only September's cancellations are known: the renewal odds must say about 80 %."""
    frame = _snapshot()
    spells = subscription_spells(
        ibis.memtable(frame), as_of=pd.Timestamp("2019-09-30"), currency="USD"
    )
    active = spells[~spells["ended"]]
    # A one-month subscriber who stayed has survived one renewal (the start of October).
    assert (active["periods"] >= 1).all()
    fit = fit_subscriptions(spells)
    model = fit.models["subscription:month:Month-to-month"]
    renewals = spells["periods"].to_numpy() - spells["ended"].to_numpy()
    predicted_churn = 1 - np.mean(model.expected_retention_rate(renewals + 1))
    assert predicted_churn == pytest.approx(0.2, abs=0.03)


def test_values_are_the_discounted_renewals_within_the_horizon() -> None:
    frame = _snapshot(n=400, churn=0.25)
    frame.loc[0, "currency"] = "JPY"
    spells = subscription_spells(
        ibis.memtable(frame), as_of=pd.Timestamp("2019-09-30"), currency="USD"
    )
    fit = fit_subscriptions(spells)
    values = subscriber_values(
        fit, spells, horizon_months=12, margin=0.5, annual_discount_rate=0.1
    ).set_index("customer_id")
    assert len(values) == 400
    assert values.loc["c0", "currency"] == "JPY"  # kept: amounts are never converted here
    ended = spells.loc[spells["ended"], "customer_id"]
    assert (values.loc[ended, "clv"] == 0).all()
    assert (values.loc[ended, "probability_alive"] == 0).all()
    alive = values.drop(index=ended)
    # At most 12 monthly payments, each worth at most 50 x 0.5 and discounted.
    assert (alive["expected_purchases"] > 0).all() and (alive["expected_purchases"] <= 12).all()
    assert (alive["clv"] > 0).all() and (alive["clv"] < 12 * 25).all()
    assert (alive["clv"] <= alive["expected_purchases"] * 25 + 1e-9).all()


def test_small_plans_borrow_the_model_of_their_billing_period() -> None:
    big = _snapshot(n=300, churn=0.2)
    small = _snapshot(n=10, churn=0.2, seed=2).assign(
        plan="Two year", customer_id=lambda f: "s" + f["customer_id"]
    )
    spells = subscription_spells(
        ibis.memtable(pd.concat([big, small])), as_of=pd.Timestamp("2019-09-30"), currency="USD"
    )
    fit = fit_subscriptions(spells)
    assert fit.plans["subscription:month:Two year"] == "subscription:month:*"
    assert fit.plans["subscription:month:Month-to-month"] == "subscription:month:Month-to-month"
    assert any("Two year" in note for note in fit.notes)


def _put(con: Any, name: str, frame: pd.DataFrame) -> None:
    schema = wh.read_table(con, name).schema()
    out = frame.copy()
    for column in schema.names:
        if column not in out:
            out[column] = None
    wh.write_table(con, name, ibis.memtable(out[list(schema.names)]).cast(schema).to_pyarrow())


def test_subscription_only_business_gets_the_contractual_value(
    warehouse: Any, tmp_path: Path
) -> None:
    frame = _snapshot(n=300).assign(subscription_id=lambda f: "S" + f["customer_id"])
    _put(warehouse, "subscriptions", frame)
    conf = Settings(models_dir=tmp_path / "models", currency="USD")
    stored = fit_clv(warehouse, settings=conf)
    assert "purchase" not in stored.models and stored.subscription_models
    assert stored.meta["as_of"].startswith("2019-09-30")
    assert any("only subscribers" in note for note in stored.meta["warnings"])
    scores = score_clv(warehouse, settings=conf).set_index("customer_id")
    assert len(scores) == 300 and scores["clv"].notna().all()
    assert set(scores["currency"]) == {"USD"}
    assert scores["frequency"].isna().all()
    latest = latest_clv_scores(warehouse).to_pandas()
    assert len(latest) == 300


def test_a_mixed_business_adds_both_values_per_customer(
    warehouse: Any, tmp_path: Path, cdnow_sample_orders: pd.DataFrame, put_orders: Any
) -> None:
    put_orders(warehouse, cdnow_sample_orders)
    buyer = str(cdnow_sample_orders["customer_id"].iloc[0])
    subs = _snapshot(n=200)
    subs["start"] = subs["started_at"] = subs["started_at"] - pd.DateOffset(years=22)
    subs["ended_at"] = subs["ended_at"] - pd.DateOffset(years=22)
    subs.loc[0, "customer_id"] = buyer
    subs.loc[0, "ended_at"] = pd.NaT
    subs = subs.assign(subscription_id=lambda f: "S" + f.index.astype(str))
    _put(warehouse, "subscriptions", subs)
    conf = Settings(models_dir=tmp_path / "models", currency="USD")
    stored = fit_clv(warehouse, settings=conf, as_of="1997-09-30")
    assert "purchase" in stored.models and stored.subscription_models
    scores = score_clv(warehouse, settings=conf).set_index("customer_id")
    subscribers = set(subs["customer_id"])
    assert subscribers <= set(scores.index)
    assert len(scores) == 2357 + len(subscribers) - 1
    rfm = rfm_summary(wh.read_table(warehouse, "orders"), as_of="1997-09-30").to_pandas()
    alone = customer_lifetime_value(
        stored.purchase_model,
        stored.spend_model,
        rfm[rfm["customer_id"] == buyer],
        horizon_months=12,
        margin=conf.clv.margin,
        annual_discount_rate=conf.clv.annual_discount_rate,
        time_unit="week",
    )
    spells = subscription_spells(
        wh.read_table(warehouse, "subscriptions"), as_of=pd.Timestamp("1997-09-30"), currency="USD"
    )
    fit = fit_subscriptions(spells)
    renewals = subscriber_values(
        fit, spells, horizon_months=12, margin=conf.clv.margin, annual_discount_rate=0.1
    ).set_index("customer_id")
    # The buyer's row keeps the purchase summary and adds the subscription's value to it.
    assert scores.loc[buyer, "frequency"] == alone["frequency"].iloc[0]
    assert renewals.loc[buyer, "clv"] > 0
    assert scores.loc[buyer, "clv"] == pytest.approx(
        alone["clv"].iloc[0] + renewals.loc[buyer, "clv"]
    )
    assert scores.loc[buyer, "probability_alive"] == 1.0


def test_the_registry_names_the_version_once_per_model(warehouse: Any, tmp_path: Path) -> None:
    big = _snapshot(n=300)
    other = _snapshot(n=300, seed=4).assign(
        plan="One year", customer_id=lambda f: "o" + f["customer_id"]
    )
    frame = pd.concat([big, other], ignore_index=True)
    _put(
        warehouse,
        "subscriptions",
        frame.assign(subscription_id=lambda f: "S" + f.index.astype(str)),
    )
    conf = Settings(models_dir=tmp_path / "models", currency="USD")
    stored = fit_clv(warehouse, settings=conf, model="sbg")
    assert len(stored.subscription_models) == 2
    (card,) = ModelRegistry(conf.models_dir).cards("clv")
    assert card.version == stored.version and card.name == "sBG"
    assert set(load_models(conf).subscription_models) == set(stored.subscription_models)
