"""A seeded small shop for the browser tests and the screenshots: 120 customers over 12 months
with orders, a few subscriptions, events, complaints, churn scores with reasons and CLV."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

import pandas as pd

import retain.warehouse as wh

START = dt.datetime(2024, 1, 1)
AS_OF = dt.datetime(2024, 12, 31)
COUNTRIES = ("JP", "KR", "US")
CHANNELS = ("search", "referral", "social", "store")
REASONS = (
    ("reasons.complaints_unresolved", lambda r: {"n": r.randint(1, 3), "days": r.randint(5, 40)}),
    ("reasons.payment_failed", lambda r: {"n": r.randint(1, 2), "days": r.randint(2, 30)}),
    ("reasons.usage_down", lambda r: {"pct": r.randint(40, 90)}),
    ("reasons.no_recent_orders", lambda r: {"days": r.randint(91, 200)}),
    ("reasons.no_contact", lambda r: {"days": r.randint(120, 300)}),
    ("reasons.cancel_page_visits", lambda r: {"n": r.randint(1, 4)}),
)


def build(n: int = 120, seed: int = 7) -> dict[str, pd.DataFrame]:
    """The shop's tables, keyed by canonical table name."""
    rnd = random.Random(seed)
    customers, orders, events, subs, inter, churn, clv = [], [], [], [], [], [], []
    for i in range(1, n + 1):
        cid = f"C{i:04d}"
        acquired = START + dt.timedelta(days=rnd.randint(0, 300))
        country = rnd.choice(COUNTRIES)
        customers.append(
            {
                "customer_id": cid,
                "acquired_at": acquired,
                "country": country,
                "language": {"JP": "ja", "KR": "ko", "US": "en"}[country],
                "time_zone": {"JP": "Asia/Tokyo", "KR": "Asia/Seoul", "US": "America/New_York"}[
                    country
                ],
                "acquisition_channel": rnd.choice(CHANNELS),
                "email": f"{cid.lower()}@example.com",
                "phone": f"+81-90-{i:04d}-0000",
                "email_opt_in": rnd.random() < 0.7,
                "sms_opt_in": False,
                "attributes": json.dumps({"tier": rnd.choice(["gold", "std"])}),
            }
        )
        when, k = acquired, 0
        life = rnd.uniform(60, 500)
        while when < min(AS_OF, acquired + dt.timedelta(days=life)):
            k += 1
            orders.append(
                {
                    "order_id": f"{cid}-O{k}",
                    "customer_id": cid,
                    "ordered_at": when,
                    "amount": round(rnd.uniform(20, 180), 2),
                    "currency": "USD",
                    "status": "completed",
                    "channel": rnd.choice(["web", "app"]),
                    "discount_amount": 0.0,
                }
            )
            events.append(
                {
                    "event_id": f"{cid}-E{k}",
                    "customer_id": cid,
                    "occurred_at": when - dt.timedelta(hours=2),
                    "name": "login",
                    "channel": "app",
                    "properties": "{}",
                }
            )
            when += dt.timedelta(days=rnd.uniform(15, 70))
        if i % 4 == 0:
            ended = acquired + dt.timedelta(days=life)
            ended = ended if ended < AS_OF else None
            subs.append(
                {
                    "subscription_id": f"{cid}-S",
                    "customer_id": cid,
                    "plan": "plus",
                    "started_at": acquired,
                    "ended_at": ended,
                    "billing_period": "month",
                    "amount": 19.0,
                    "currency": "USD",
                    "cancel_reason": "price" if ended else None,
                    "trial_ends_at": None,
                    "contract_ends_at": None,
                }
            )
        if rnd.random() < 0.3:
            inter.append(
                {
                    "interaction_id": f"{cid}-I1",
                    "customer_id": cid,
                    "occurred_at": AS_OF - dt.timedelta(days=rnd.randint(5, 60)),
                    "kind": "complaint",
                    "channel": "phone",
                    "campaign_id": None,
                    "properties": json.dumps({"ticket_id": f"T{i}"}),
                }
            )
        p = min(0.97, max(0.02, rnd.betavariate(1.4, 2.6) + (0.2 if life < 250 else 0)))
        band = "high" if p >= 0.6 else "medium" if p >= 0.3 else "low"
        picked = rnd.sample(REASONS, 3)
        reasons = [
            {"key": key, "params": make(rnd), "contribution": round(rnd.uniform(0.05, 0.3), 3)}
            for key, make in picked
        ]
        churn.append(
            {
                "customer_id": cid,
                "as_of": AS_OF,
                "definition": "default",
                "probability": round(p, 3),
                "risk_band": band,
                "reasons": json.dumps(sorted(reasons, key=lambda x: -x["contribution"])),
                "model_version": "1",
                "scored_at": AS_OF,
            }
        )
        spend = sum(o["amount"] for o in orders if o["customer_id"] == cid)
        clv.append(
            {
                "customer_id": cid,
                "as_of": AS_OF,
                "model_version": "1",
                "frequency": float(max(k - 1, 0)),
                "recency": 10.0,
                "T": 40.0,
                "monetary_value": spend / max(k, 1),
                "probability_alive": round(1 - p, 3),
                "expected_purchases": round(rnd.uniform(0.2, 4), 2),
                "expected_spend": spend / max(k, 1),
                "clv": round(spend * rnd.uniform(0.3, 1.2), 2),
                "currency": "USD",
                "horizon_months": 12,
            }
        )
    return {
        "customers": pd.DataFrame(customers),
        "orders": pd.DataFrame(orders),
        "events": pd.DataFrame(events),
        "subscriptions": pd.DataFrame(subs),
        "interactions": pd.DataFrame(inter),
        "churn_scores": pd.DataFrame(churn),
        "clv_scores": pd.DataFrame(clv),
    }


def load(con: Any, n: int = 120, seed: int = 7) -> None:
    """Write the shop into ``con``, a warehouse with the canonical tables."""
    for name, frame in build(n, seed).items():
        if name in ("subscriptions",):
            for col in ("ended_at", "trial_ends_at", "contract_ends_at"):
                frame[col] = pd.to_datetime(frame[col])
        wh.write_table(con, name, frame, mode="append")
