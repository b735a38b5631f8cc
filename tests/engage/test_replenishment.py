"""Repurchase intervals from order lines and the reminder before run-out (the tea shop)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from retain.engage.playbooks import ReplenishmentTrigger
from retain.engage.replenishment import due_reminders, purchases, repurchase_intervals
from retain.engage.triggers import fired
from retain.features import Sources

START = dt.datetime(2024, 1, 5, 10, 0)


def _shop() -> Sources:
    """A tea shop selling one bag of tea leaves a month (seed 003, line 68: "if you sell one bag
    of tea leaves a month, send customers a reminder at 20 days").

    - t1..t5 buy one bag every 30 days, six times (t5 once waited 95 days: a holiday);
    - t6 bought twice (one gap of its own: too few, the product's interval applies), two bags
      the second time;
    - t7 buys every 10 days, eight times: its own cadence wins over the product's.
    """
    orders, lines = [], []

    def buy(cid: str, at: dt.datetime, qty: int = 1) -> None:
        oid = f"o{len(orders)}"
        orders.append({"order_id": oid, "customer_id": cid, "ordered_at": at, "amount": 10.0 * qty})
        lines.append(
            {
                "order_id": oid,
                "line_no": 1,
                "product_id": "tea",
                "product_name": "Sencha 100 g",
                "quantity": qty,
                "unit_price": 10.0,
            }
        )

    for n in range(1, 6):
        at = START
        for k in range(6):
            buy(f"t{n}", at)
            at += dt.timedelta(days=95 if (n == 5 and k == 2) else 30)
    buy("t6", START + dt.timedelta(days=60))
    buy("t6", START + dt.timedelta(days=90), qty=2)
    for k in range(8):
        buy("t7", START + dt.timedelta(days=70 + 10 * k))
    return Sources.from_tables({"orders": pd.DataFrame(orders), "order_lines": pd.DataFrame(lines)})


def test_product_interval_is_the_median_gap_and_own_history_wins() -> None:
    got = repurchase_intervals(_shop(), "2024-12-31").to_pandas().set_index("customer_id")
    assert got.loc["t1", "interval_days"] == pytest.approx(30.0)
    assert got.loc["t1", "source"] == "customer"
    # t5's 95-day holiday does not move its own median (4 gaps of 30, one of 95)
    assert got.loc["t5", "interval_days"] == pytest.approx(30.0)
    # t6 has one gap: the product's median over everyone (30 days; t7's 10-day gaps are 7 of 33)
    assert got.loc["t6", "source"] == "product"
    assert got.loc["t6", "interval_days"] == pytest.approx(30.0)
    assert got.loc["t7", "interval_days"] == pytest.approx(10.0)


def test_monthly_bag_is_reminded_on_day_20() -> None:
    last = START + dt.timedelta(days=150)  # t1's sixth bag
    due = due_reminders(_shop(), last + dt.timedelta(days=1)).to_pandas().set_index("customer_id")
    assert due.loc["t1", "due_at"] == pd.Timestamp((last + dt.timedelta(days=20)).date())
    assert due.loc["t1", "run_out_at"] == pd.Timestamp((last + dt.timedelta(days=30)).date())
    # two bags last twice as long: t6's reminder 50 days after its last order
    t6_last = START + dt.timedelta(days=90)
    assert due.loc["t6", "due_at"] == pd.Timestamp((t6_last + dt.timedelta(days=50)).date())


def test_trigger_fires_from_day_20_to_run_out_once_per_purchase() -> None:
    shop = _shop()
    trigger = ReplenishmentTrigger(kind="replenishment", lead_days=10)
    last = START + dt.timedelta(days=150)

    def who(day: int) -> pd.DataFrame:
        frame = fired(trigger, shop, (last + dt.timedelta(days=day)).date()).to_pandas()
        return frame.set_index("customer_id")

    assert "t1" not in who(19).index
    day20 = who(20)
    assert "t1" in day20.index
    assert day20.loc["t1", "occurrence"] == f"replenish:tea:{last.date()}"
    assert day20.loc["t1", "product_name"] == "Sencha 100 g"
    # the same purchase on day 25 is the same occurrence (the re-entry rule keys on it)
    assert who(25).loc["t1", "occurrence"] == day20.loc["t1", "occurrence"]
    assert "t1" not in who(31).index  # ran out: no longer a reminder


def _mixed_shop(seed: int = 7) -> Sources:
    """200 customers, four products, random dates and quantities, some buying twice a day."""
    rng = np.random.default_rng(seed)
    orders, lines = [], []
    for c in range(200):
        for k in range(int(rng.integers(1, 9))):
            oid = f"o{c}-{k}"
            at = START + dt.timedelta(days=int(rng.integers(0, 300)), hours=int(rng.integers(24)))
            orders.append({"order_id": oid, "customer_id": f"c{c}", "ordered_at": at, "amount": 1})
            for n, product in enumerate(rng.choice(["a", "b", "c", "d"], size=2, replace=False)):
                lines.append(
                    {
                        "order_id": oid,
                        "line_no": n,
                        "product_id": str(product),
                        "product_name": f"{product}-{k}",
                        "quantity": int(rng.integers(0, 4)),
                        "unit_price": 1.0,
                    }
                )
    return Sources.from_tables({"orders": pd.DataFrame(orders), "order_lines": pd.DataFrame(lines)})


def test_due_reminders_match_the_intervals_joined_to_each_last_purchase() -> None:
    # due_reminders computes the last purchase and the intervals in one pass over the
    # purchases; the reference composes the public pieces as they were first written
    shop, as_of = _mixed_shop(), dt.datetime(2024, 9, 1)
    bought = purchases(shop, as_of).to_pandas()
    last = bought.sort_values("ordered_at").groupby(["customer_id", "product_id"]).tail(1)
    intervals = repurchase_intervals(shop, as_of, min_customer_intervals=2).to_pandas()
    want = last.merge(intervals, on=["customer_id", "product_id"])
    got = due_reminders(shop, as_of, lead_days=5, min_customer_intervals=2).to_pandas()
    assert len(got) == len(want) > 100
    assert set(want["source"]) == {"customer", "product"}
    key = ["customer_id", "product_id"]
    got, want = got.sort_values(key, ignore_index=True), want.sort_values(key, ignore_index=True)
    assert got["last_ordered_at"].tolist() == want["ordered_at"].tolist()
    assert got["product_name"].tolist() == want["product_name"].tolist()
    assert got["quantity"].tolist() == want["quantity"].tolist()
    assert got["source"].tolist() == want["source"].tolist()
    assert np.allclose(got["interval_days"], want["interval_days"])
    units = want["interval_days"] * want["quantity"] * 86_400
    run_out = (want["ordered_at"] + pd.to_timedelta(units.round(), unit="s")).dt.floor("D")
    assert got["run_out_at"].tolist() == run_out.tolist()
    assert (got["due_at"] == got["run_out_at"] - pd.Timedelta(days=5)).all()
