"""A small business for the segment-builder tests: who each rule keeps, worked out by hand.

Evaluated as of JULY (2024-07-01): a5 was acquired later, so only a1-a4 exist then.

====  =======  ==========  =====  ========  =====  ==========  ===================  ========
id    country  acquired    days   churn     CLV    rfm 06-01   attributes           logins*
====  =======  ==========  =====  ========  =====  ==========  ===================  ========
a1    JP       2024-01-01  182    0.90 hi   200    loyal       plan gold, visits 12  3
a2    KR       2024-06-01  30     0.65 med  400    new         plan silver, visits 3 1
a3    JP       2023-07-01  366    0.80 hi   50     at_risk     plan gold             3
a4    US       (none)      -      0.10 low  1000   lost        (none)                0
====  =======  ==========  =====  ========  =====  ==========  ===================  ========

\\* logins in the 30 days before JULY. Churn scores and CLV are ``_targeting_data``'s (as of
2024-06-30; on 2024-06-15 only May's scores are known: a1 0.2 low, a2 0.5 medium). An RFM
membership stored on 2024-08-01 (a1 at_risk) lies after JULY and must not be read.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import _targeting_data as data
import ibis
import pandas as pd

import retain.warehouse as wh
from retain.schema import get_table

JULY = dt.datetime(2024, 7, 1)
JUNE_15 = dt.datetime(2024, 6, 15)

CUSTOMERS = [
    {
        "customer_id": "a1",
        "country": "JP",
        "acquisition_channel": "search",
        "acquired_at": dt.datetime(2024, 1, 1),
        "email": "a1@x.org",
        "email_opt_in": True,
        "attributes": json.dumps({"plan": "gold", "visits": 12}),
    },
    {
        "customer_id": "a2",
        "country": "KR",
        "acquisition_channel": "store",
        "acquired_at": dt.datetime(2024, 6, 1),
        "email_opt_in": False,
        "attributes": json.dumps({"plan": "silver", "visits": 3}),
    },
    {
        "customer_id": "a3",
        "country": "JP",
        "acquisition_channel": "store",
        "acquired_at": dt.datetime(2023, 7, 1),
        "email": "a3@x.org",
        "email_opt_in": False,
        "attributes": json.dumps({"plan": "gold"}),
    },
    {
        "customer_id": "a4",
        "country": "US",
        "acquisition_channel": "search",
        "email": "a4@x.org",
        "email_opt_in": False,
    },
    {
        "customer_id": "a5",
        "country": "JP",
        "acquisition_channel": "social",
        "acquired_at": dt.datetime(2024, 8, 1),
        "email": "a5@x.org",
        "email_opt_in": True,
        "attributes": json.dumps({"visits": 40}),
    },
]


def _event(n: int, cid: str, name: str, at: dt.datetime) -> dict[str, Any]:
    return {"event_id": f"e{n}", "customer_id": cid, "occurred_at": at, "name": name}


EVENTS = [
    _event(1, "a1", "login", dt.datetime(2024, 6, 10)),
    _event(2, "a1", "login", dt.datetime(2024, 6, 20)),
    _event(3, "a1", "login", dt.datetime(2024, 6, 30, 23, 0)),
    _event(4, "a1", "login", dt.datetime(2024, 3, 1)),
    _event(5, "a2", "login", dt.datetime(2024, 6, 28)),
    _event(6, "a3", "login", dt.datetime(2024, 6, 5)),
    _event(7, "a3", "login", dt.datetime(2024, 6, 6)),
    _event(8, "a3", "login", dt.datetime(2024, 6, 7)),
    _event(9, "a4", "page_view", dt.datetime(2024, 6, 7)),
    _event(10, "a3", "login", dt.datetime(2024, 7, 1)),
]

MEMBERSHIPS = [
    ("2024-06-01", {"a1": "loyal", "a2": "new", "a3": "at_risk", "a4": "lost"}),
    ("2024-08-01", {"a1": "at_risk", "a2": "new", "a3": "at_risk", "a4": "lost"}),
]


def _typed(name: str, rows: list[dict[str, Any]]) -> Any:
    schema = get_table(name).ibis_schema()
    frame = pd.DataFrame([{c: row.get(c) for c in schema.names} for row in rows])
    return ibis.memtable(frame, schema=schema)


def write_business(con: Any) -> Any:
    """Write the business above into the warehouse ``con`` (DuckDB, PostgreSQL or Spark)."""
    from retain.targeting.segments import store_memberships

    for name, rows in (
        ("customers", CUSTOMERS),
        ("events", EVENTS),
        ("churn_scores", data.CHURN),
        ("clv_scores", data.CLV),
    ):
        if wh.backend_name(con) == "pyspark":
            con.create_table(name, _typed(name, rows), overwrite=True)
        else:
            wh.write_table(con, name, _typed(name, rows))
    for day, members in MEMBERSHIPS:
        frame = pd.DataFrame({"customer_id": list(members), "segment": list(members.values())})
        store_memberships(con, "rfm", day, frame)
    return con
