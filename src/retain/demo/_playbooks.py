"""The demo's past playbook runs: when retain's shipped playbooks ran, and what they did.

Who a run messages, who it holds out and when is decided by retain's own playbook engine on the
loaded warehouse, as of each run date (``retain demo`` does it, see ``docs/demo.md``: the engine
sits in a layer above this package). This module holds what is the demo's own truth:

- the run dates (:func:`playbook_run_dates`: the 20th of some months, 01:00 UTC, each with room
  for its attribution window before the end);
- the planted effect of each playbook (:attr:`DemoParameters.playbook_effects`): the chance that a
  treated shop customer who is alive places an order because of the message, at a moment drawn
  in the first two weeks of the window (:func:`induced_orders`). Both arms draw, so both potential
  outcomes are known; only the treated get the order. Subscribers never order in the demo, so a
  subscription playbook's effect is a planted null;
- the potential outcomes of every assigned customer (:func:`playbook_truth`): ``y0`` = a completed
  order in the window without this playbook's message (every other order counts, whatever
  caused it), ``y1`` = ``y0`` or the induced order. The true effect of a playbook is the mean of
  ``y1 - y0`` over the customers it assigned, each counted at their first assignment, which is
  what ``retain playbooks results`` compares (treated minus holdout conversion).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from retain.demo._campaigns import month_start
from retain.demo._params import CATALOG, DemoParameters

__all__ = [
    "ASSIGNED_COLUMNS",
    "RUN_OFFSET",
    "induced_orders",
    "playbook_run_dates",
    "playbook_truth",
]

RUN_OFFSET = dt.timedelta(days=19, hours=1)
"""A run's moment within its month: the 20th at 01:00 UTC (10:00 in Tokyo and Seoul, evening in
the Americas, so some messages wait for the morning). Newsletters (the 3rd) and campaigns (the
10th) lie outside the caps' week before it."""

ASSIGNED_COLUMNS = (
    "playbook",
    "run_at",
    "customer_id",
    "arm",
    "variant",
    "assigned_at",
    "window_days",
    "offer",
)
"""What :func:`induced_orders` reads per assigned customer (``arm`` is treated or holdout)."""

_OFFER_DISCOUNT = {"coupon_10": 0.1, "coupon_20": 0.2, "free_shipping": 0.05}
_SECOND = pd.Timedelta(seconds=1)


def playbook_run_dates(
    params: DemoParameters, start: dt.datetime, months: int
) -> list[dt.datetime]:
    """The moments the shipped playbooks ran, each with its window before the demo's end."""
    end = month_start(start, months) + (start - month_start(start, 0))
    out = []
    for month in params.playbook_run_months:
        moment = month_start(start, month) + RUN_OFFSET
        window = dt.timedelta(days=params.playbook_window_days)
        if month < months and start <= moment and moment + window <= end:
            out.append(moment)
    return out


def _effects(params: DemoParameters) -> dict[str, float]:
    return dict(params.playbook_effects)


def induced_orders(
    assigned: pd.DataFrame,
    customers: pd.DataFrame,
    params: DemoParameters,
    *,
    seed: int,
    run: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Draw the planted effect of one run; return the assignments, orders and order lines.

    ``assigned`` has :data:`ASSIGNED_COLUMNS`; ``customers`` is the truth's ``customer_id``,
    ``line``, ``acquired_at`` and ``death_at``. Every assigned customer draws whether they would
    respond (``would_redeem``: a shop customer alive at ``induced_at`` who draws below the
    playbook's effect); a treated one who would gets an order (``order_id``), completed, on the
    web or the app, one catalog product with the offer's discount. The draws come from the stream
    ``SeedSequence([seed, 19, run])`` in (playbook, customer) order, so a run is reproducible.
    """
    frame = assigned.sort_values(["playbook", "customer_id"], kind="stable", ignore_index=True)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 19, run]))
    n = len(frame)
    window = frame["window_days"].to_numpy(dtype=np.float64)
    delay = rng.uniform(0.5, 1.0, n) * np.maximum(np.minimum(14.0, window - 0.5), 0.5)
    at = (pd.to_datetime(frame["assigned_at"]) + pd.to_timedelta(delay, unit="D")).dt.floor("s")
    who = frame[["customer_id"]].merge(
        customers[["customer_id", "line", "acquired_at", "death_at"]],
        on="customer_id",
        how="left",
    )
    death = pd.to_datetime(who["death_at"])
    alive = (
        (who["line"] == "shop").to_numpy()
        & (pd.to_datetime(who["acquired_at"]) <= at).to_numpy()
        & (death.isna() | (at < death)).to_numpy()
    )
    chance = frame["playbook"].map(_effects(params)).fillna(0.0).to_numpy(dtype=np.float64)
    would = (rng.random(n) < chance) & alive
    product = rng.integers(0, len(CATALOG), n)
    channel = np.where(rng.random(n) < 0.6, "web", "app")
    frame["would_redeem"] = would
    frame["induced_at"] = at
    placed = would & (frame["arm"] == "treated").to_numpy()
    stamp = f"{pd.Timestamp(frame['run_at'].iloc[0]):%Y%m%d}" if n else ""
    ids = [f"OPB{stamp}{k + 1:06d}" for k in range(int(placed.sum()))]
    frame["order_id"] = None
    frame.loc[placed, "order_id"] = ids
    chosen = [CATALOG[i] for i in product[placed]]
    price = np.array([p.price for p in chosen], dtype=np.float64)
    rate = frame.loc[placed, "offer"].map(_OFFER_DISCOUNT).fillna(0.0).to_numpy(dtype=np.float64)
    discount = np.round(price * rate, 2)
    orders = pd.DataFrame(
        {
            "order_id": ids,
            "customer_id": frame.loc[placed, "customer_id"].to_list(),
            "ordered_at": at[placed].to_list(),
            "amount": np.round(price - discount, 2),
            "currency": "USD",
            "status": "completed",
            "channel": channel[placed],
            "discount_amount": discount,
        }
    )
    lines = pd.DataFrame(
        {
            "order_id": ids,
            "line_no": np.ones(len(ids), dtype=np.int64),
            "product_id": [p.product_id for p in chosen],
            "quantity": np.ones(len(ids), dtype=np.int64),
            "unit_price": price,
            "product_name": [p.name for p in chosen],
            "category": [p.category for p in chosen],
        }
    )
    return frame, orders, lines


def playbook_truth(
    assigned: pd.DataFrame, orders: pd.DataFrame, params: DemoParameters
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The planted effect per playbook, and each assigned customer's potential outcomes.

    ``assigned`` is every run's output of :func:`induced_orders`; ``orders`` the completed orders
    (``order_id``, ``customer_id``, ``ordered_at``) after every run. A customer counts once per
    playbook, at their first assignment, and the window is ``(assigned_at, assigned_at +
    window_days]``, as in ``retain playbooks results``. Returns ``(playbooks, customers)``:
    ``playbook, runs, window_days, redemption, n_treatment, n_holdout, true_effect`` (the mean of
    ``y1 - y0``: the absolute lift in the window's conversion) and ``playbook, customer_id,
    group, variant, assigned_at, y0, y1``.
    """
    first = (
        assigned.sort_values(["playbook", "customer_id", "assigned_at"], kind="stable")
        .drop_duplicates(["playbook", "customer_id"])
        .reset_index(drop=True)
    )
    end = pd.to_datetime(first["assigned_at"]) + pd.to_timedelta(first["window_days"], unit="D")
    first = first.assign(_row=np.arange(len(first)), _end=end)
    pairs = first[["_row", "customer_id", "assigned_at", "_end", "order_id"]].merge(
        orders[["order_id", "customer_id", "ordered_at"]].rename(columns={"order_id": "_order"}),
        on="customer_id",
    )
    inside = (
        (pd.to_datetime(pairs["ordered_at"]) > pd.to_datetime(pairs["assigned_at"]))
        & (pd.to_datetime(pairs["ordered_at"]) <= pairs["_end"])
        & (pairs["_order"] != pairs["order_id"].fillna(""))
    )
    y0 = np.zeros(len(first), dtype=bool)
    y0[pairs.loc[inside, "_row"].unique()] = True
    y1 = y0 | first["would_redeem"].to_numpy(dtype=bool)
    treated = (first["arm"] == "treated").to_numpy()
    customers = pd.DataFrame(
        {
            "playbook": first["playbook"],
            "customer_id": first["customer_id"],
            "group": np.where(treated, "treatment", "control"),
            "variant": np.where(treated, first["variant"], "-"),
            "assigned_at": pd.to_datetime(first["assigned_at"]),
            "y0": y0,
            "y1": y1,
        }
    )
    effects = _effects(params)
    rows = []
    for name in sorted(set(customers["playbook"])):
        mine = (customers["playbook"] == name).to_numpy()
        lift = (y1[mine].astype(np.int64) - y0[mine].astype(np.int64)).mean()
        rows.append(
            {
                "playbook": name,
                "runs": int(assigned.loc[assigned["playbook"] == name, "run_at"].nunique()),
                "window_days": int(first.loc[mine, "window_days"].iloc[0]),
                "redemption": effects.get(name, 0.0),
                "n_treatment": int((treated & mine).sum()),
                "n_holdout": int((~treated & mine).sum()),
                "true_effect": float(lift),
            }
        )
    summary = pd.DataFrame(
        rows,
        columns=[
            "playbook",
            "runs",
            "window_days",
            "redemption",
            "n_treatment",
            "n_holdout",
            "true_effect",
        ],
    )
    return summary, customers
