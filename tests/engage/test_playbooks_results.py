"""Results: treated against holdout with 95 % intervals, on a planted effect and on the demo."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from retain.engage.playbooks import Goal, InactiveTrigger, Offer, Playbook
from retain.engage.results import playbook_results
from retain.errors import NotFoundError
from retain.features import Sources

T0 = dt.datetime(2024, 3, 1, 9)


def _planted(n: int, *, base: float, lift: float, seed: int = 5) -> Sources:
    """``n`` customers, 25 % held out at random; treated buy with ``base + lift``, others ``base``.

    Treated customers are split into variants a and b (campaign ids ``wb:a`` / ``wb:b``); b
    converts like the holdout (no lift). Each order is worth 40.
    """
    rng = np.random.default_rng(seed)
    held = rng.random(n) < 0.25
    variant_b = rng.random(n) < 0.5
    rate = np.where(held | variant_b, base, base + lift)
    buys = rng.random(n) < rate
    inter, orders = [], []
    for i in range(n):
        cid = f"c{i}"
        campaign = "wb" if held[i] else ("wb:b" if variant_b[i] else "wb:a")
        kind = "holdout" if held[i] else "message_sent"
        inter.append(
            {
                "interaction_id": f"i{i}",
                "customer_id": cid,
                "occurred_at": T0,
                "kind": kind,
                "channel": "email",
                "campaign_id": campaign,
                "properties": json.dumps({"group": "control" if held[i] else "treatment"}),
            }
        )
        if buys[i]:
            at = T0 + dt.timedelta(days=float(rng.uniform(1, 25)))
            orders.append(
                {"order_id": f"o{i}", "customer_id": cid, "ordered_at": at, "amount": 40.0}
            )
        # an order before the message and one after the window count for nothing
        orders.append(
            {
                "order_id": f"p{i}",
                "customer_id": cid,
                "ordered_at": T0 - dt.timedelta(days=3),
                "amount": 999.0,
            }
        )
        orders.append(
            {
                "order_id": f"l{i}",
                "customer_id": cid,
                "ordered_at": T0 + dt.timedelta(days=45),
                "amount": 999.0,
            }
        )
    # a late assignment whose window is still open is pending
    inter.append(
        {
            "interaction_id": "late",
            "customer_id": "late",
            "occurred_at": T0 + dt.timedelta(days=50),
            "kind": "message_sent",
            "channel": "email",
            "campaign_id": "wb:a",
            "properties": None,
        }
    )
    return Sources.from_tables(
        {"interactions": pd.DataFrame(inter), "orders": pd.DataFrame(orders)}
    )


PLAYBOOK = Playbook(
    name="wb",
    trigger=InactiveTrigger(kind="inactive", days=60),
    template="winback",
    offer=Offer(name="coupon", cost=5.0),
    margin=0.5,
    goal=Goal(metric="conversion", window_days=30, target=0.2),
)


def test_planted_lift_is_found_per_variant_with_its_interval() -> None:
    got = playbook_results(
        _planted(8000, base=0.10, lift=0.08), "wb", as_of="2024-05-01", playbook=PLAYBOOK
    )
    assert got["window_days"] == 30 and got["pending"] == 1
    by = {v["variant"]: v for v in got["variants"]}
    a, b = by["a"], by["b"]
    conv_a = a["difference"]["conversion"]
    assert conv_a["low"] < 0.08 < conv_a["high"] and conv_a["low"] > 0.03
    assert b["difference"]["conversion"]["low"] < 0.0 < b["difference"]["conversion"]["high"]
    # revenue: 40 per converted customer, so about 0.08 x 40 = 3.2 per customer
    rev = a["difference"]["revenue"]
    assert rev["low"] < 3.2 < rev["high"]
    assert a["treated"]["revenue_per_customer"] == pytest.approx(40 * a["treated"]["conversion"])
    n_a, conv_rate = a["treated"]["customers"], a["treated"]["conversion"]
    expected = n_a * rev["estimate"] * 0.5 - 5.0 * conv_rate * n_a
    assert a["incremental_profit"] == pytest.approx(expected)
    assert a["goal"]["value"] == pytest.approx(conv_rate)
    assert a["goal"]["progress"] == pytest.approx(conv_rate / 0.2)
    assert a["holdout"]["customers"] == b["holdout"]["customers"]


def test_no_effect_interval_covers_zero_and_unknown_name_is_not_found() -> None:
    got = playbook_results(_planted(4000, base=0.1, lift=0.0, seed=9), "wb", as_of="2024-05-01")
    for variant in got["variants"]:
        diff = variant["difference"]["conversion"]
        assert diff["low"] < 0 < diff["high"]
        assert variant["goal"] == {} and variant["incremental_profit"] is not None
    with pytest.raises(NotFoundError):
        playbook_results(_planted(10, base=0.1, lift=0.0), "nothing", as_of="2024-05-01")


@pytest.fixture(scope="module")
def demo() -> object:
    from retain.demo.generate import generate

    return generate(customers=12_000, seed=11, months=24)


def test_demo_campaigns_lift_matches_the_planted_effect(demo: object) -> None:
    """The demo's past campaigns carry their true effect (src/retain/demo/_campaigns.py)."""
    tables = demo.tables  # type: ignore[attr-defined]
    truth = demo.truth.campaigns.set_index("campaign_id")  # type: ignore[attr-defined]
    sources = Sources.from_tables(tables)
    end = tables["orders"]["ordered_at"].max()
    checked = 0
    for cid, row in truth.iterrows():
        got = playbook_results(sources, str(cid), as_of=end, window_days=60)
        (variant,) = got["variants"]
        assert variant["treated"]["customers"] == row["n_treatment"]
        assert variant["holdout"]["customers"] == row["n_holdout"]
        diff = variant["difference"]["conversion"]
        width = diff["high"] - diff["low"]
        # within the interval, allowing a little for 5 campaigns at 95 % each
        assert diff["low"] - width / 4 <= row["true_effect"] <= diff["high"] + width / 4, cid
        checked += 1
    assert checked >= 3
