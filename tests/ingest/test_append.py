"""``retain.ingest.append``: the one way the product's own records (deliveries, survey answers,
exit reasons, ticket stages) reach the warehouse's ``interactions``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa

import retain.warehouse as wh
from retain.ingest import ingest
from retain.ingest.append import Interaction, append_interactions

WHEN = dt.datetime(2026, 5, 1, 9, 30)


def _stored(con: Any) -> list[dict[str, Any]]:
    frame = wh.read_table(con, "interactions").order_by("interaction_id").to_pandas()
    return frame.to_dict("records")  # type: ignore[no-any-return]


def test_records_land_once_with_json_properties(target: Any) -> None:
    ingest("customers", pa.table({"customer_id": ["c1", "c2"]}), con=target)
    records = [
        Interaction(
            "survey-1", "c1", WHEN, "survey_answer", "web", {"score": 9, "comment": "良い"}
        ),
        Interaction("msg-7-1-3", "c2", WHEN, "message_sent", "email", {}, campaign_id="winback"),
    ]
    assert append_interactions(records, con=target) == 2
    assert append_interactions(records, con=target) == 2  # a retry after a crash: no new rows
    rows = _stored(target)
    assert [r["interaction_id"] for r in rows] == ["msg-7-1-3", "survey-1"]
    survey = rows[1]
    assert json.loads(survey["properties"]) == {"score": 9, "comment": "良い"}
    assert "良い" in survey["properties"]  # non-ASCII kept as written
    assert rows[0]["campaign_id"] == "winback" and survey["campaign_id"] is None
    assert append_interactions([], con=target) == 0
    stranger = Interaction("survey-2", "nobody", WHEN, "survey_answer", "web", {"score": 1})
    append_interactions([stranger], con=target)  # quarantined like any ingested row
    assert len(_stored(target)) == 2
