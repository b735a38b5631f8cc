"""Acquisition-source quality on a hand-checked business, on DuckDB and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from _source_data import AS_OF, CHANNEL, DISCOUNT, load

import retain.warehouse as wh
from retain.errors import InvalidParameterError
from retain.targeting.segments import source_quality
from retain.targeting.segments.sources import COLUMNS


def _expected(dimension: str, rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    return pd.DataFrame([(dimension, *row) for row in rows], columns=list(COLUMNS))


def _check(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True).astype({"mean_clv": "float64"}),
        want.reset_index(drop=True).astype(
            {c: "float64" for c in COLUMNS if c.startswith(("ret", "mean", "disc"))}
        ),
        check_dtype=False,
        rtol=1e-12,
    )


@pytest.fixture
def loaded(warehouse: Any) -> Any:
    load(warehouse)
    return warehouse


def test_both_groupings_match_the_hand_worked_rows(loaded: Any) -> None:
    got = source_quality(loaded, AS_OF).to_pandas()
    assert list(got.columns) == list(COLUMNS)
    _check(got, pd.concat([_expected("channel", CHANNEL), _expected("first_discount", DISCOUNT)]))


def test_one_grouping_and_the_default_date(loaded: Any) -> None:
    only = source_quality(loaded, AS_OF, by="first_discount").to_pandas()
    _check(only, _expected("first_discount", DISCOUNT))
    # Without a date every order counts: a5's order of 2024-07-10 becomes a later order.
    default = source_quality(loaded, by="channel").to_pandas().set_index("source")
    assert default.loc["unknown", "later_orders"] == 4
    assert default.loc["unknown", "discount_dependence"] == pytest.approx(2 / 4)


def test_large_threshold_moves_a_first_order_between_tiers(loaded: Any) -> None:
    # At 45 %, a2's 40 % first discount is "some", no longer "large".
    got = source_quality(loaded, AS_OF, by="first_discount", large_pct=45).to_pandas()
    assert dict(zip(got.source, got.customers, strict=True)) == {"none": 2, "some": 2, "large": 1}


def test_without_clv_or_customers_the_rest_still_counts(warehouse: Any) -> None:
    load(warehouse)
    wh.drop_table(warehouse, "clv_scores")
    wh.drop_table(warehouse, "customers")
    got = source_quality(warehouse, AS_OF, by="channel").to_pandas()
    assert got.source.tolist() == ["unknown"]
    assert got.customers.tolist() == [5]
    assert got.mean_clv.isna().all()


def test_bad_parameters_are_clear_errors(loaded: Any) -> None:
    with pytest.raises(InvalidParameterError, match="channel, first_discount"):
        source_quality(loaded, AS_OF, by="country")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="150"):
        source_quality(loaded, AS_OF, large_pct=150)


@pytest.mark.postgres
def test_identical_on_postgres(loaded: Any, postgres_warehouse: Any) -> None:
    load(postgres_warehouse)
    for by in (None, "channel", "first_discount"):
        want = source_quality(loaded, AS_OF, by=by).to_pandas()  # type: ignore[arg-type]
        got = source_quality(postgres_warehouse, AS_OF, by=by).to_pandas()  # type: ignore[arg-type]
        pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-12)


@pytest.mark.spark
def test_identical_on_spark(loaded: Any, spark_warehouse: Any) -> None:
    load(spark_warehouse)
    want = source_quality(loaded, AS_OF).to_pandas()
    got = source_quality(spark_warehouse, AS_OF).to_pandas()
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-12)
