"""Targeting benchmark (issue 18): the offer planner for 1,000,000 customers x 4 actions.

    .venv/bin/python benchmarks/targeting.py                       # 1,000,000 customers
    .venv/bin/python benchmarks/targeting.py --customers 100000

A synthetic population (churn risk, CLV, order value) and a noisy uplift frame per (customer,
action), in the long shape ``uplift_by_halves`` hands the planner (with each valuation's
measured group and variance, so the profit's interval is computed), are planned under a
budget that binds and with capacities on two of the four actions, so the capacity walk runs.
Target: the whole plan (uplift pivot, costs, greedy, holdout hash, summary) under 30 s on 2
cores. Prints the time of each repetition, the load average beside it, and the peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import pandas as pd

from retain.config import OfferAction, OfferSettings
from retain.targeting.offers import plan_offers

ACTIONS = [
    OfferAction(name="reminder", kind="message", cost_per_contact=5.0),
    OfferAction(name="free_shipping", kind="shipping", cost_per_contact=10.0, discount_share=0.05),
    OfferAction(
        name="coupon_10",
        kind="discount",
        cost_per_contact=10.0,
        discount_share=0.10,
        capacity_per_week=20_000,
    ),
    OfferAction(name="call", kind="call", cost_per_contact=800.0, capacity_per_week=500),
]


def population(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customers and a long uplift frame (4 rows per customer) with out-of-fold noise."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"C{i:07d}" for i in range(n)], dtype=object)
    risk = rng.beta(2.0, 5.0, n)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "churn_probability": risk,
            "clv": rng.gamma(2.0, 6000.0, n),
            "order_value": rng.gamma(3.0, 1500.0, n),
        }
    )
    base = np.array([0.01, 0.02, 0.04, 0.10])
    true = risk[:, None] * base[None, :] * rng.lognormal(0.0, 0.5, (n, 4))
    uplift = pd.DataFrame(
        {
            "customer_id": np.repeat(ids, 4),
            "action": np.tile([a.name for a in ACTIONS], n),
            "uplift": (true + rng.normal(0, 0.01, (n, 4))).ravel(),
            "uplift_honest": (true + rng.normal(0, 0.01, (n, 4))).ravel(),
        }
    )
    # As uplift_by_halves values it: one of 2 halves x 5 measured groups per action, each with
    # its variance, so the plan's interval is computed too.
    side = rng.integers(0, 2, n * 4)
    group = rng.integers(0, 5, n * 4)
    labels = np.array([f"{h}/{g}" for h in range(2) for g in range(5)], dtype=object)
    uplift["honest_group"] = uplift["action"].to_numpy() + "/" + labels[side * 5 + group]
    uplift["honest_variance"] = 1e-4 * (1 + group)
    return customers, uplift


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--budget", type=float, default=10_000_000.0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    customers, uplift = population(args.customers)
    conf = OfferSettings(actions=ACTIONS, weeks=4)
    print(f"customers={args.customers:,} actions={len(ACTIONS)} budget={args.budget:,.0f}")
    for run in range(args.repeat):
        load = os.getloadavg()[0]
        start = time.perf_counter()
        plan = plan_offers(
            customers, budget=args.budget, settings=conf, uplift=uplift, plan_id=f"bench-{run}"
        )
        seconds = time.perf_counter() - start
        s = plan.summary
        print(
            f"run {run}: {seconds:.2f} s (load average {load:.1f}); targets={s.targets:,} "
            f"holdout={s.holdout:,} cost={s.total_cost:,.0f} profit={s.expected_profit:,.0f} "
            f"[{s.profit_low or 0:,.0f}, {s.profit_high or 0:,.0f}] "
            f"naive={s.naive_profit:,.0f} left_out={s.left_out}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MiB (whole process, input frames included)")


if __name__ == "__main__":
    main()
