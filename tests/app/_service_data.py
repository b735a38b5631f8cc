"""A small hand-made retail business for the service tests: six customers with orders, events,
a subscription, interactions, churn scores (reasons as message keys) and CLV scores."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd

import retain.warehouse as wh

AS_OF = dt.datetime(2024, 6, 30)


def _ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s)


def reasons(*items: tuple[str, dict[str, Any], float]) -> str:
    return json.dumps([{"key": k, "params": p, "contribution": c} for k, p, c in items])


CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["c1", "c2", "c3", "c4", "c5", "c6"],
        "acquired_at": [
            _ts("2024-01-05"),
            _ts("2024-01-20"),
            _ts("2024-02-03"),
            _ts("2024-02-28"),
            _ts("2024-03-15"),
            _ts("2024-04-01"),
        ],
        "country": ["JP", "KR", "JP", "US", "JP", "KR"],
        "language": ["ja", "ko", "ja", "en", "ja", "ko"],
        "time_zone": [
            "Asia/Tokyo",
            "Asia/Seoul",
            "Asia/Tokyo",
            "America/New_York",
            "Asia/Tokyo",
            "Asia/Seoul",
        ],
        "acquisition_channel": ["search", "referral", "search", "store", "social", "referral"],
        "email": [f"c{i}@example.com" for i in range(1, 7)],
        "phone": [f"+81-90-0000-000{i}" for i in range(1, 7)],
        "email_opt_in": [True, False, True, True, False, True],
        "sms_opt_in": [False] * 6,
        "attributes": [json.dumps({"segment": "vip"}), "{}", "{}", "{}", "{}", "{}"],
    }
)

ORDERS = pd.DataFrame(
    {
        "order_id": [f"o{i}" for i in range(1, 11)],
        "customer_id": ["c1", "c1", "c1", "c2", "c2", "c3", "c4", "c5", "c5", "c6"],
        "ordered_at": [
            _ts(s)
            for s in (
                "2024-01-05",
                "2024-02-10",
                "2024-03-12",
                "2024-01-20",
                "2024-03-02",
                "2024-02-03",
                "2024-02-28",
                "2024-03-15",
                "2024-05-20",
                "2024-04-01",
            )
        ],
        "amount": [120.0, 80.0, 60.0, 45.5, 30.0, 200.0, 15.0, 75.0, 90.0, 50.0],
        "currency": ["USD"] * 10,
        "status": ["completed"] * 10,
        "channel": ["web"] * 10,
        "discount_amount": [0.0] * 10,
    }
)

EVENTS = pd.DataFrame(
    {
        "event_id": ["e1", "e2", "e3", "e4"],
        "customer_id": ["c1", "c1", "c2", "c3"],
        "occurred_at": [_ts("2024-03-01"), _ts("2024-04-15"), _ts("2024-03-03"), _ts("2024-02-10")],
        "name": ["login", "cancel_page_view", "login", "payment_failed"],
        "channel": ["web", "web", "app", "web"],
        "properties": ["{}", json.dumps({"page": "/cancel"}), "{}", "{}"],
    }
)

SUBSCRIPTIONS = pd.DataFrame(
    {
        "subscription_id": ["s1"],
        "customer_id": ["c1"],
        "plan": ["gold"],
        "started_at": [_ts("2024-01-05")],
        "ended_at": [_ts("2024-05-01")],
        "billing_period": ["month"],
        "amount": [20.0],
        "currency": ["USD"],
        "cancel_reason": ["price"],
        "trial_ends_at": [pd.NaT],
        "contract_ends_at": [pd.NaT],
    }
)

INTERACTIONS = pd.DataFrame(
    {
        "interaction_id": ["i1", "i2"],
        "customer_id": ["c1", "c3"],
        "occurred_at": [_ts("2024-04-01"), _ts("2024-02-12")],
        "kind": ["complaint", "message_sent"],
        "channel": ["phone", "email"],
        "campaign_id": [None, "spring"],
        "properties": [json.dumps({"ticket_id": "t1"}), "{}"],
    }
)

CHURN = pd.DataFrame(
    {
        "customer_id": ["c1", "c2", "c3", "c4", "c5", "c1"],
        "as_of": [AS_OF, AS_OF, AS_OF, AS_OF, AS_OF, AS_OF - dt.timedelta(days=30)],
        "definition": ["default"] * 6,
        "probability": [0.91, 0.72, 0.55, 0.30, 0.12, 0.40],
        "risk_band": ["high", "high", "medium", "low", "low", "medium"],
        "reasons": [
            reasons(
                ("reasons.complaints_unresolved", {"n": 1, "days": 12}, 0.4),
                ("reasons.no_recent_orders", {"days": 110}, 0.2),
            ),
            reasons(("reasons.no_recent_orders", {"days": 120}, 0.3)),
            reasons(("reasons.payment_failed", {"n": 2, "days": 5}, 0.25)),
            "[]",
            "not json",
            reasons(("reasons.no_recent_orders", {"days": 80}, 0.1)),
        ],
        "model_version": ["2", "2", "2", "2", "2", "1"],
        "scored_at": [AS_OF] * 5 + [AS_OF - dt.timedelta(days=30)],
    }
)

CLV = pd.DataFrame(
    {
        "customer_id": ["c1", "c2", "c3", "c4", "c6"],
        "as_of": [AS_OF] * 5,
        "model_version": ["1"] * 5,
        "frequency": [2.0, 1.0, 0.0, 0.0, 0.0],
        "recency": [9.7, 6.0, 0.0, 0.0, 0.0],
        "T": [25.0, 23.0, 21.0, 18.0, 13.0],
        "monetary_value": [70.0, 30.0, 0.0, 0.0, 0.0],
        "probability_alive": [0.35, 0.6, 1.0, 1.0, 1.0],
        "expected_purchases": [0.5, 0.8, 0.4, 0.3, 0.6],
        "expected_spend": [70.0, 35.0, 60.0, 20.0, 40.0],
        "clv": [500.0, 120.0, 300.0, 40.0, 90.0],
        "currency": ["USD"] * 5,
        "horizon_months": [12] * 5,
    }
)

TABLES = {
    "customers": CUSTOMERS,
    "orders": ORDERS,
    "events": EVENTS,
    "subscriptions": SUBSCRIPTIONS,
    "interactions": INTERACTIONS,
    "churn_scores": CHURN,
    "clv_scores": CLV,
}


def load(con: Any, tables: dict[str, pd.DataFrame] | None = None) -> None:
    """Write the business into ``con`` (a warehouse with the canonical tables)."""
    for name, frame in (tables or TABLES).items():
        wh.write_table(con, name, frame, mode="append")
