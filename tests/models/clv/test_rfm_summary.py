"""rfm_summary: the per-customer summaries the models need, computed by the engine."""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest

from retain.errors import InvalidParameterError, MissingColumnError
from retain.models.clv import compress_summary, rfm_summary


def _orders() -> pd.DataFrame:
    rows = [
        # customer a: two orders on day 1 (one purchase of 30), then days 8 and 22
        ("a", "2024-01-01 09:00", 10.0, "completed"),
        ("a", "2024-01-01 18:00", 20.0, "completed"),
        ("a", "2024-01-08 10:00", 40.0, "completed"),
        ("a", "2024-01-22 10:00", 60.0, None),
        ("a", "2024-02-05 10:00", 99.0, "cancelled"),  # ignored: not completed
        ("a", "2024-02-10 10:00", 50.0, "completed"),  # holdout
        # customer b: one purchase only
        ("b", "2024-01-15 23:59", 5.0, "completed"),
        # customer c: first purchase after the calibration end -> not in the summary
        ("c", "2024-02-02 00:00", 7.0, "completed"),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "amount", "status"])
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"])
    frame["order_id"] = [f"o{i}" for i in range(len(frame))]
    return frame


@pytest.fixture
def orders() -> Any:
    return ibis.duckdb.connect().create_table("orders", _orders())


def test_hand_computed_summary(orders: Any) -> None:
    out = (
        rfm_summary(orders, calibration_end="2024-01-29", holdout_end="2024-02-26", time_unit="day")
        .to_pandas()
        .set_index("customer_id")
        .sort_index()
    )
    assert list(out.index) == ["a", "b"]
    a, b = out.loc["a"], out.loc["b"]
    assert (a.frequency, a.recency, a["T"]) == (2.0, 21.0, 28.0)
    assert a.monetary_value == pytest.approx(50.0)  # (40 + 60) / 2; the first day is excluded
    assert (a.frequency_holdout, a.monetary_value_holdout, a.duration_holdout) == (1.0, 50.0, 28.0)
    assert (b.frequency, b.recency, b["T"], b.monetary_value) == (0.0, 0.0, 14.0, 0.0)
    assert (b.frequency_holdout, b.monetary_value_holdout) == (0.0, 0.0)


def test_weeks_and_default_as_of(orders: Any) -> None:
    out = rfm_summary(orders).to_pandas().set_index("customer_id").sort_index()
    # The last completed order day is 2024-02-10: a is 40 days old, i.e. 40/7 weeks.
    assert out.loc["a", "T"] == pytest.approx(40 / 7)
    assert out.loc["a", "frequency"] == 3.0
    assert out.loc["c", "T"] == pytest.approx(8 / 7)


def test_reproduces_the_published_cdnow_summary(
    cdnow_sample_orders: pd.DataFrame, cdnow_spend: pd.DataFrame
) -> None:
    """From the raw CDNOW sample log to the FHL (2005) summary (rounded there to 2 decimals)."""
    table = ibis.duckdb.connect().create_table("orders", cdnow_sample_orders)
    ours = (
        rfm_summary(table, calibration_end="1997-09-30")
        .to_pandas()
        .assign(customer_id=lambda f: f["customer_id"].astype(int))
        .set_index("customer_id")
        .sort_index()
    )
    ref = cdnow_spend.set_index("customer_id").sort_index()
    assert len(ours) == len(ref) == 2357
    assert (ours["frequency"].to_numpy() == ref["frequency"].to_numpy()).all()
    for column in ("recency", "T", "monetary_value"):
        assert np.abs(ours[column].to_numpy() - ref[column].to_numpy()).max() <= 0.005 + 1e-9


def test_compressed_form(orders: Any) -> None:
    summary = rfm_summary(orders, as_of="2024-01-29")
    packed = compress_summary(summary).to_pandas()
    assert set(packed.columns) == {"frequency", "recency", "T", "weight"}
    assert packed["weight"].sum() == 2
    again = compress_summary(packed.assign(weight=packed["weight"] * 2).pipe(ibis.memtable))
    assert again.to_pandas()["weight"].sum() == 4


def test_bad_arguments(orders: Any) -> None:
    with pytest.raises(MissingColumnError) as info:
        rfm_summary(orders.drop("amount"))
    assert info.value.violations[0].column == "amount"
    assert "orders has no column 'amount'" in str(info.value)
    with pytest.raises(InvalidParameterError, match="time_unit must be one of"):
        rfm_summary(orders, time_unit="fortnight")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="holdout_end needs calibration_end"):
        rfm_summary(orders, holdout_end="2024-03-01")
    with pytest.raises(InvalidParameterError, match="must be a date"):
        rfm_summary(orders, as_of="not a date")


@pytest.mark.spark
def test_same_summary_on_spark(spark: Any) -> None:
    con = ibis.pyspark.connect(spark)
    frame = _orders()
    table = con.create_table("clv_rfm_orders", frame, overwrite=True)
    try:
        got = (
            rfm_summary(
                table, calibration_end="2024-01-29", holdout_end="2024-02-26", time_unit="day"
            )
            .to_pandas()
            .set_index("customer_id")
            .sort_index()
        )
    finally:
        con.drop_table("clv_rfm_orders", force=True)
    want = (
        rfm_summary(
            ibis.duckdb.connect().create_table("o", frame),
            calibration_end="2024-01-29",
            holdout_end="2024-02-26",
            time_unit="day",
        )
        .to_pandas()
        .set_index("customer_id")
        .sort_index()
    )
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)
