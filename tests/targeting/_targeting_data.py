"""A small scored business for the targeting tests: two scoring runs, a tie broken by the model
version, a second churn definition, a customer without CLV.

Latest scores (definition "default") and value at risk, p(churn) x CLV, by hand:

=====  ===========  ======  ==============
id     p(churn)     CLV     value at risk
=====  ===========  ======  ==============
a1     0.90 high    200     180
a2     0.65 medium  400     260
a3     0.80 high    50      40
a4     0.10 low     1000    100
a5     0.70 high    (none)  0
=====  ===========  ======  ==============

Total 580; three high, one medium; as_of 2024-06-30.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd

import retain.warehouse as wh
from retain.schema import get_table

MAY = dt.datetime(2024, 5, 31)
JUNE = dt.datetime(2024, 6, 30)


def _reasons(key: str, **params: Any) -> str:
    return json.dumps([{"key": key, "params": params, "contribution": 0.3}])


def _churn(
    cid: str,
    as_of: dt.datetime,
    p: float,
    band: str,
    *,
    version: str = "2",
    scored_at: dt.datetime | None = None,
    definition: str = "default",
    reasons: str = "[]",
) -> dict[str, Any]:
    return {
        "customer_id": cid,
        "as_of": as_of,
        "definition": definition,
        "probability": p,
        "risk_band": band,
        "reasons": reasons,
        "model_version": version,
        "scored_at": scored_at or as_of + dt.timedelta(days=1),
    }


def _clv(cid: str, as_of: dt.datetime, clv: float, *, version: str = "1") -> dict[str, Any]:
    return {
        "customer_id": cid,
        "as_of": as_of,
        "model_version": version,
        "clv": clv,
        "currency": "USD",
        "probability_alive": 0.5,
    }


CUSTOMERS = [
    {"customer_id": "a1", "country": "JP", "acquisition_channel": "search", "email": "a1@x.org"},
    {"customer_id": "a2", "country": "KR", "acquisition_channel": "store", "email": "a2@x.org"},
    {"customer_id": "a3", "country": "JP", "acquisition_channel": "store", "email": "a3@x.org"},
    {"customer_id": "a4", "country": "US", "acquisition_channel": "search", "email": "a4@x.org"},
    {"customer_id": "a5", "country": "JP", "acquisition_channel": "social", "email": "=cmd()"},
]

CHURN = [
    _churn("a1", MAY, 0.2, "low"),
    _churn("a1", JUNE, 0.9, "high", reasons=_reasons("reasons.payment_failed", n=2, days=5)),
    _churn("a1", JUNE, 0.05, "low", definition="subscription"),
    _churn("a2", MAY, 0.5, "medium"),
    _churn("a2", JUNE, 0.6, "medium", scored_at=dt.datetime(2024, 7, 1)),
    _churn("a2", JUNE, 0.65, "medium", scored_at=dt.datetime(2024, 7, 2)),
    _churn("a3", JUNE, 0.8, "high", reasons="not json"),
    _churn("a4", JUNE, 0.3, "medium", version="1"),
    _churn("a4", JUNE, 0.1, "low", version="2"),
    _churn("a5", JUNE, 0.7, "high"),
]

CLV = [
    _clv("a1", MAY, 100.0),
    _clv("a1", JUNE, 200.0),
    _clv("a2", JUNE, 400.0),
    _clv("a3", JUNE, 50.0),
    _clv("a4", JUNE, 10.0, version="1"),
    _clv("a4", JUNE, 1000.0, version="2"),
]

VALUE_AT_RISK = {"a1": 180.0, "a2": 260.0, "a3": 40.0, "a4": 100.0, "a5": 0.0}


def write(con: Any, name: str, rows: list[dict[str, Any]]) -> None:
    """Append ``rows`` to canonical table ``name``; columns not given are null."""
    columns = [c.name for c in get_table(name).columns]
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns)
    wh.write_table(con, name, frame, mode="append")
