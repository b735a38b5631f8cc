"""The report's lifetime-value section for a subscription-only business: subscribers shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

import retain.warehouse as wh
from retain.config import Settings
from retain.models.clv import fit_clv, score_clv
from retain.report.clv import report_sections


def _subscriptions(n: int = 300, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 48, n)
    plan = rng.choice(["Month-to-month", "One year"], n)
    gone = rng.random(n) < np.where(plan == "One year", 0.05, 0.3)
    return pd.DataFrame(
        {
            "subscription_id": [f"S{i}" for i in range(n)],
            "customer_id": [f"C{i}" for i in range(n)],
            "plan": plan,
            "billing_period": "month",
            "amount": 40.0,
            "currency": "USD",
            "started_at": [
                pd.Timestamp("2019-09-01") - pd.DateOffset(months=int(m)) for m in tenure
            ],
            "ended_at": [pd.Timestamp("2019-09-30") if g else pd.NaT for g in gone],
        }
    )


def test_subscribers_get_a_figure_with_their_plans(warehouse: Any, tmp_path: Path) -> None:
    schema = wh.read_table(warehouse, "subscriptions").schema()
    frame = _subscriptions()
    for name in schema.names:
        if name not in frame:
            frame[name] = None
    wh.write_table(
        warehouse,
        "subscriptions",
        ibis.memtable(frame[list(schema.names)]).cast(schema).to_pyarrow(),
    )
    conf = Settings(models_dir=tmp_path / "models", currency="USD")
    fit_clv(warehouse, settings=conf)
    score_clv(warehouse, settings=conf)
    (section,) = report_sections(warehouse, conf)
    assert "300 customers" in section.summary
    titles = [item.title for item in section.items]
    # No buyers: no P(alive) chart (a subscriber's is observed, not estimated).
    assert titles == ["Most valuable customers", "Subscribers"]
    subscribers = section.items[-1]
    assert subscribers.reading.startswith("300 subscribers (")
    assert subscribers.table is not None
    plans = dict(
        zip(subscribers.table["Plan"], subscribers.table["First renewal rate"], strict=True)
    )
    assert set(plans) == {"Month-to-month", "One year"}
    assert float(plans["One year"].rstrip("%")) > float(plans["Month-to-month"].rstrip("%"))
