"""A small business with one customer per guardrail and trigger case, as of 2024-06-30 12:00 UTC."""

from __future__ import annotations

import datetime as dt
import json

import ibis
import ibis.expr.types as ir
import pandas as pd

from retain.features import Sources
from retain.schema import get_table

AS_OF = dt.datetime(2024, 6, 30, 12, 0)


def _customer(cid: str, **kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "customer_id": cid,
        "acquired_at": dt.datetime(2023, 1, 1),
        "language": "en",
        "time_zone": "Europe/London",
        "country": "GB",
        "email": f"{cid}@example.com",
        "phone": None,
        "email_opt_in": True,
        "sms_opt_in": False,
        "attributes": json.dumps({"first_name": cid.upper(), "plan": "basic"}),
    }
    row.update(kw)
    return row


CUSTOMERS = [
    _customer("a1"),  # inactive 90 days, reachable
    _customer(
        "a2",
        language="ja",
        time_zone="Asia/Tokyo",
        email_opt_in=False,
        sms_opt_in=True,
        phone="+81-3-0000-0000",
    ),  # no e-mail consent; SMS yes; 21:00 in Tokyo
    _customer("a3", language="ko", time_zone="Asia/Seoul"),  # suppressed address
    _customer("a4", time_zone="Pacific/Auckland"),  # 00:00 in Auckland: quiet hours
    _customer("a5"),  # active 10 days ago: not inactive
    _customer("a6"),  # two marketing messages this week already
    _customer("a7"),  # already messaged for this silence
    _customer("a8"),  # payment_failed yesterday
    _customer("a9"),  # contract ends 2024-07-20
    _customer("a10", attributes=json.dumps({"birthday": "1990-06-30", "first_name": "Ken"})),
    _customer("a11", acquired_at=dt.datetime(2024, 6, 27, 9)),  # new, day 3 of onboarding
    _customer("a12", attributes=json.dumps({"plan": "gold"})),  # risk medium -> high
    _customer("a13"),  # risk high -> high (no crossing)
]

_LAST = {"a1": 90, "a2": 90, "a3": 90, "a4": 90, "a5": 10, "a6": 90, "a7": 90, "a12": 90}


def orders() -> pd.DataFrame:
    rows = []
    for cid, days in _LAST.items():
        at = AS_OF - dt.timedelta(days=days)
        rows.append({"order_id": f"{cid}-1", "customer_id": cid, "ordered_at": at, "amount": 20.0})
        rows.append(
            {
                "order_id": f"{cid}-0",
                "customer_id": cid,
                "ordered_at": at - dt.timedelta(days=30),
                "amount": 20.0,
            }
        )
    # after as_of: a point-in-time run must not see it
    rows.append(
        {
            "order_id": "a1-future",
            "customer_id": "a1",
            "ordered_at": AS_OF + dt.timedelta(days=2),
            "amount": 20.0,
        }
    )
    for cid in ("a8", "a9", "a10", "a13"):
        rows.append(
            {
                "order_id": f"{cid}-1",
                "customer_id": cid,
                "ordered_at": AS_OF - dt.timedelta(days=5),
                "amount": 20.0,
            }
        )
    return pd.DataFrame(rows)


def events() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "event_id": "e1",
                "customer_id": "a8",
                "occurred_at": AS_OF - dt.timedelta(hours=20),
                "name": "payment_failed",
                "channel": "web",
            },
            {
                "event_id": "e0",
                "customer_id": "a8",
                "occurred_at": AS_OF - dt.timedelta(days=9),
                "name": "payment_failed",
                "channel": "web",
            },
            {
                "event_id": "e2",
                "customer_id": "a2",
                "occurred_at": AS_OF - dt.timedelta(days=100),
                "name": "login",
                "channel": "sms",
            },
        ]
    )


def subscriptions() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "subscription_id": "s9",
                "customer_id": "a9",
                "plan": "pro",
                "started_at": dt.datetime(2023, 7, 20),
                "ended_at": None,
                "contract_ends_at": dt.datetime(2024, 7, 20),
                "amount": 10.0,
            },
            {
                "subscription_id": "s8",
                "customer_id": "a8",
                "plan": "pro",
                "started_at": dt.datetime(2023, 9, 1),
                "ended_at": None,
                "contract_ends_at": dt.datetime(2024, 9, 1),
                "amount": 10.0,
            },
        ]
    )


def churn_scores() -> ir.Table:
    rows = []
    for cid, before, after in (("a12", "medium", "high"), ("a13", "high", "high")):
        for when, band in ((dt.datetime(2024, 5, 31), before), (dt.datetime(2024, 6, 28), after)):
            rows.append(
                {
                    "customer_id": cid,
                    "as_of": when,
                    "definition": "shop",
                    "probability": 0.8 if band == "high" else 0.4,
                    "risk_band": band,
                    "reasons": "[]",
                    "model_version": "1",
                    "scored_at": when,
                }
            )
    schema = get_table("churn_scores").ibis_schema()
    frame = pd.DataFrame([{c: r.get(c) for c in schema.names} for r in rows])
    return ibis.memtable(frame, schema=schema)


def sources() -> Sources:
    return Sources.from_tables(
        {
            "customers": pd.DataFrame(CUSTOMERS),
            "orders": orders(),
            "events": events(),
            "subscriptions": subscriptions(),
        }
    )
