"""Stated exit reasons on a real DuckDB warehouse: latest answer, shares, revenue lost, splits."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa
import pytest

import retain.warehouse as wh
from retain.errors import InvalidParameterError
from retain.voice.reasons import (
    TAXONOMY,
    reason_summary,
    stated_beside_model,
    stated_reasons,
)
from retain.voice.texts import customer_texts


def _write(con: Any, name: str, rows: list[dict[str, Any]]) -> None:
    schema = con.table(name).schema()
    arrow = schema.to_pyarrow()
    decimals = {f.name for f in arrow if pa.types.is_decimal(f.type)}
    clean = [
        {
            c: Decimal(str(r[c])) if c in decimals and r.get(c) is not None else r.get(c)
            for c in schema.names
        }
        for r in rows
    ]
    wh.write_table(con, name, ibis.memtable(pa.Table.from_pylist(clean, schema=arrow)))


def _exit(i: int, customer: str, day: str, reason: str | None, comment: str = "") -> dict[str, Any]:
    props: dict[str, Any] = {"comment": comment}
    if reason is not None:
        props["reason"] = reason
    return {
        "interaction_id": f"I{i}",
        "customer_id": customer,
        "occurred_at": pd.Timestamp(day),
        "kind": "exit_survey",
        "channel": "web",
        "properties": json.dumps(props),
    }


@pytest.fixture
def answered(warehouse: Any) -> Any:
    _write(
        warehouse,
        "customers",
        [
            {"customer_id": c, "acquired_at": pd.Timestamp(d)}
            for c, d in [
                ("A", "2024-01-05"),
                ("B", "2024-01-20"),
                ("C", "2024-03-01"),
                ("D", "2024-03-02"),
                ("E", "2024-03-03"),
            ]
        ],
    )
    _write(
        warehouse,
        "interactions",
        [
            _exit(1, "A", "2025-01-10", "competitor", "moved to a rival"),
            _exit(2, "A", "2025-02-10", "price", '=HYPERLINK("x")'),  # A's latest answer
            _exit(3, "B", "2025-02-11", "price", "高すぎる"),
            _exit(4, "C", "2025-02-12", "Not_Using"),  # codes are matched lower-cased
            _exit(5, "D", "2025-02-13", "aliens"),  # unknown code: other
            _exit(6, "E", "2025-03-01", None, "<script>alert(1)</script>"),  # none: other
            {
                "interaction_id": "I7",
                "customer_id": "E",
                "occurred_at": pd.Timestamp("2025-01-01"),
                "kind": "complaint",
                "properties": json.dumps({"text": "배송이 늦어요"}),
            },
        ],
    )
    orders = []
    for n, (customer, day, amount, status) in enumerate(
        [
            ("A", "2024-06-01", 100.0, "completed"),
            ("A", "2023-12-01", 999.0, "completed"),  # over a year before A's answer
            ("A", "2025-03-01", 999.0, "completed"),  # after the answer
            ("B", "2024-12-01", 50.0, "completed"),
            ("B", "2024-12-05", 20.0, "returned"),  # a return counts negative
            ("C", "2024-09-01", 30.0, "completed"),
        ]
    ):
        orders.append(
            {
                "order_id": f"O{n}",
                "customer_id": customer,
                "ordered_at": pd.Timestamp(day),
                "amount": amount,
                "status": status,
            }
        )
    _write(warehouse, "orders", orders)
    return warehouse


def test_latest_answer_counts_and_unknown_codes_read_other(answered: Any) -> None:
    frame = stated_reasons(answered)
    assert dict(zip(frame.customer_id, frame.reason, strict=True)) == {
        "A": "price",
        "B": "price",
        "C": "not_using",
        "D": "other",
        "E": "other",
    }
    assert frame.set_index("customer_id").loc["B", "comment"] == "高すぎる"
    assert len(stated_reasons(answered, since="2025-02-12")) == 3
    assert stated_reasons(answered, until="2025-01-31").reason.tolist() == ["competitor"]


def test_summary_shares_and_revenue_lost(answered: Any) -> None:
    out = reason_summary(answered)
    assert list(out.columns) == ["reason", "customers", "share", "revenue_lost"]
    assert set(out.reason) == set(TAXONOMY)  # every code, zero included
    rows = out.set_index("reason")
    assert rows.loc["price", "customers"] == 2 and rows.loc["other", "customers"] == 2
    assert rows.loc["price", "share"] == 40.0 and rows.loc["not_using", "share"] == 20.0
    assert out.share.sum() == pytest.approx(100.0)
    # A: 100 within the year before the answer; B: 50 - 20 returned; C: 30
    assert rows.loc["price", "revenue_lost"] == pytest.approx(130.0)
    assert rows.loc["not_using", "revenue_lost"] == pytest.approx(30.0)
    assert rows.loc["competitor", "customers"] == 0
    assert out.customers.iloc[0] == 2  # most customers first


def test_split_by_cohort_and_month(answered: Any) -> None:
    cohort = reason_summary(answered, by="cohort")
    assert cohort.columns[0] == "cohort"
    jan = cohort[cohort.cohort == "2024-01"].set_index("reason")
    assert jan.loc["price", "customers"] == 2 and jan.loc["price", "share"] == 100.0
    march = cohort[cohort.cohort == "2024-03"].set_index("reason")
    assert march.customers.sum() == 3
    month = reason_summary(answered, by="month")
    assert sorted(set(month.month)) == ["2025-02", "2025-03"]
    with pytest.raises(InvalidParameterError):
        reason_summary(answered, by="planet")
    with pytest.raises(InvalidParameterError):
        reason_summary(answered, taxonomy=("price", "price"))


def test_split_by_stored_segment(answered: Any) -> None:
    from retain.targeting.segments import store_memberships

    frame = pd.DataFrame({"customer_id": ["A", "B", "C"], "segment": ["at_risk", "lost", "lost"]})
    store_memberships(answered, "rfm", "2025-01-31", frame)
    out = reason_summary(answered, by="segment:rfm")
    lost = out[out.segment == "lost"].set_index("reason")
    assert lost.loc["price", "customers"] == 1 and lost.loc["not_using", "customers"] == 1
    assert set(out.segment) == {"at_risk", "lost", "unknown"}


def test_beside_the_models_reasons(answered: Any) -> None:
    def reasons(*pairs: tuple[str, float]) -> str:
        return json.dumps([{"key": k, "params": {}, "contribution": c} for k, c in pairs])

    _write(
        answered,
        "churn_scores",
        [
            {
                "customer_id": "A",
                "as_of": pd.Timestamp("2025-01-31"),
                "definition": "shop",
                "model_version": "1",
                "probability": 0.8,
                "reasons": reasons(("reasons.recency", 0.2), ("reasons.price", 0.9)),
            },
            {
                "customer_id": "B",
                "as_of": pd.Timestamp("2025-01-31"),
                "definition": "shop",
                "model_version": "1",
                "probability": 0.6,
                "reasons": reasons(("reasons.price", 0.5)),
            },
            {
                "customer_id": "C",
                "as_of": pd.Timestamp("2025-01-31"),
                "definition": "shop",
                "model_version": "1",
                "probability": 0.4,
                "reasons": "[]",
            },
        ],
    )
    out = stated_beside_model(answered)
    got = {(r.reason, r.model_reason): r.customers for r in out.itertuples()}
    assert got == {("price", "reasons.price"): 2, ("not_using", "none"): 1}


def test_customer_texts_reads_comments_and_text(answered: Any) -> None:
    texts = customer_texts(answered)
    assert "배송이 늦어요" in set(texts.text)
    assert "" not in set(texts.text)  # C and D wrote nothing
    assert len(customer_texts(answered, kinds=["complaint"])) == 1


def test_complaint_volume_report_section(answered: Any) -> None:
    from retain.config import Settings
    from retain.report.voice import report_sections
    from retain.voice.volume import complaint_volume

    volume = complaint_volume(answered)
    assert volume.to_dict("records") == [
        {"day": pd.Timestamp("2025-01-01"), "group": "unknown", "complaints": 1}
    ]
    (section,) = report_sections(answered, Settings())
    assert section.key == "complaints" and len(section.items[0].figure.data) == 1
    assert complaint_volume(answered, kinds=["ticket_opened"]).empty
    assert report_sections(answered, Settings()) and not complaint_volume(answered, by="x").empty
