"""Subscriber values as scored: one currency, recorded cancellations, and failed pooled fits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest

import retain.warehouse as wh
from retain.config import Settings
from retain.errors import DataValidationError
from retain.models.clv import contractual, fit_clv, score_clv
from retain.models.clv.contractual import (
    fit_subscriptions,
    subscriber_values,
    subscription_spells,
)
from retain.models.clv.value import monthly_discount_rate

AS_OF = pd.Timestamp("2019-09-30")


def _snapshot(n: int, churn: float = 0.2, seed: int = 1, plan: str = "Monthly") -> pd.DataFrame:
    """Every subscription alive on 2019-09-01 (USD 50 a month); a share cancels in September."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, n)
    gone = rng.random(n) < churn
    return pd.DataFrame(
        {
            "customer_id": [f"{plan[0]}{i}" for i in range(n)],
            "plan": plan,
            "billing_period": "month",
            "amount": 50.0,
            "currency": "USD",
            "started_at": [
                pd.Timestamp("2019-09-01") - pd.DateOffset(months=int(m)) for m in tenure
            ],
            "ended_at": [pd.Timestamp("2019-09-30") if g else pd.NaT for g in gone],
        }
    )


def _put(con: Any, name: str, frame: pd.DataFrame) -> None:
    schema = wh.read_table(con, name).schema()
    out = frame.copy()
    for column in schema.names:
        if column not in out:
            out[column] = None
    wh.write_table(con, name, ibis.memtable(out[list(schema.names)]).cast(schema).to_pyarrow())


def test_a_failed_pooled_fit_still_fits_the_later_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plan "A" is too small and the pooled fit fails: plan "B" has its own data all the same."""
    frame = pd.concat([_snapshot(10, seed=2, plan="A"), _snapshot(300, plan="B")])
    spells = subscription_spells(ibis.memtable(frame), as_of=AS_OF, currency="USD")
    real = contractual._fit_one

    def failing_pool(rows: pd.DataFrame, label: str, notes: list[str]) -> Any:
        if label.startswith("B"):
            return real(rows, label, notes)
        notes.append(f"sBG failed: {label}")
        return None

    monkeypatch.setattr(contractual, "_fit_one", failing_pool)
    fit = fit_subscriptions(spells)
    assert fit.plans["subscription:month:B"] == "subscription:month:B"
    assert "subscription:month:B" in fit.models
    assert "subscription:month:A" not in fit.plans
    assert any("failed" in note for note in fit.notes)
    values = subscriber_values(
        fit, spells, horizon_months=12, margin=0.5, annual_discount_rate=0.1
    ).set_index("customer_id")
    alive_b = values.loc[values.index.str.startswith("B") & (values["probability_alive"] == 1)]
    assert alive_b["clv"].notna().all() and (alive_b["clv"] > 0).all()


def test_a_recorded_cancellation_stops_the_payments_at_ended_at() -> None:
    """Cancelled for 1 Dec: the payment of 1 Nov is still due, none after it."""
    frame = _snapshot(300)
    frame.loc[0, "ended_at"] = pd.Timestamp("2019-12-01")
    frame.loc[1, "ended_at"] = pd.Timestamp("2019-10-15")  # the end of the paid period
    spells = subscription_spells(ibis.memtable(frame), as_of=AS_OF, currency="USD")
    assert not spells.loc[[0, 1], "ended"].any()  # still a subscriber on as_of: fitted as one
    fit = fit_subscriptions(spells)
    values = subscriber_values(
        fit, spells, horizon_months=12, margin=0.5, annual_discount_rate=0.1
    ).set_index("customer_id")
    leaving = values.loc["M0"]
    assert leaving["probability_alive"] == 0
    assert leaving["expected_purchases"] == 1
    d_m = monthly_discount_rate(0.1)
    assert 0.5 * 50 / (1 + d_m) ** 1.1 < leaving["clv"] <= 0.5 * 50
    assert values.loc["M1", "clv"] == 0 and values.loc["M1", "expected_purchases"] == 0
    staying = values.loc[frame.loc[frame["ended_at"].isna(), "customer_id"]]
    assert (staying["probability_alive"] == 1).all() and (staying["expected_purchases"] > 1).all()


def test_spells_compare_currency_codes_as_the_money_facts_do() -> None:
    frame = _snapshot(4)
    frame["currency"] = [" usd", "", None, "Jpy "]
    spells = subscription_spells(ibis.memtable(frame), as_of=AS_OF, currency="usd")
    assert list(spells["currency"]) == ["USD", "USD", "USD", "JPY"]


def _two_currencies(warehouse: Any) -> pd.DataFrame:
    """300 USD subscribers; the first also pays JPY 10,000 a month."""
    frame = _snapshot(300)
    frame.loc[0, "ended_at"] = pd.NaT
    yen = frame.iloc[[0]].assign(amount=10_000.0, currency="jpy", plan="Yen")
    both = pd.concat([frame, yen], ignore_index=True)
    _put(
        warehouse, "subscriptions", both.assign(subscription_id=lambda f: "S" + f.index.astype(str))
    )
    return both


def test_subscriber_values_are_summed_in_the_reporting_currency(
    warehouse: Any, tmp_path: Path
) -> None:
    both = _two_currencies(warehouse)
    _put(
        warehouse,
        "exchange_rates",
        pd.DataFrame(
            {
                "currency": ["JPY"],
                "reporting_currency": ["USD"],
                "rate": [0.01],
                "valid_from": [pd.Timestamp("2000-01-01")],
            }
        ),
    )
    conf = Settings(models_dir=tmp_path / "models", currency="USD")
    fit_clv(warehouse, settings=conf)
    scores = score_clv(warehouse, settings=conf, write=False).set_index("customer_id")
    assert set(scores["currency"]) == {"USD"}
    spells = subscription_spells(
        wh.read_table(warehouse, "subscriptions"), as_of=AS_OF, currency="USD"
    )
    stored = fit_subscriptions(spells)
    raw = subscriber_values(
        stored, spells, horizon_months=12, margin=conf.clv.margin, annual_discount_rate=0.1
    ).set_index(["customer_id", "currency"])
    usd, jpy = raw.loc[("M0", "USD"), "clv"], raw.loc[("M0", "JPY"), "clv"]
    assert jpy > usd  # the raw yen number would win a comparison across currencies
    assert scores.loc["M0", "clv"] == pytest.approx(usd + 0.01 * jpy)
    assert len(scores) == both["customer_id"].nunique()


def test_mixed_subscriber_currencies_without_rates_stop_scoring(
    warehouse: Any, tmp_path: Path
) -> None:
    _two_currencies(warehouse)
    conf = Settings(models_dir=tmp_path / "models", currency="USD")
    fit_clv(warehouse, settings=conf)
    with pytest.raises(DataValidationError) as raised:
        score_clv(warehouse, settings=conf, write=False)
    assert raised.value.code == "data.mixed_currencies"
    assert "JPY" in str(raised.value)
