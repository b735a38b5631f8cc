"""Cohorts and lifecycle split ``by`` a customer column or attribute, and the customers behind a
cohort cell (#16 items 3 and 11), on the hand-made orders of test_cohorts.py."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from metric_tables import load, orders_frame

from retain.errors import InvalidParameterError, MissingColumnError
from retain.metrics import cohort_customers, cohort_retention, lifecycle

ROWS: list[tuple[str, str, float] | tuple[str, str, float, str]] = [
    ("a", "2024-01-05", 10.0),
    ("a", "2024-03-20", 20.0),
    ("b", "2024-01-10", 5.0),
    ("b", "2024-02-02", 5.0),
    ("c", "2024-02-01", 7.0),
    ("c", "2024-02-15", 1.0, "returned"),
    ("d", "2024-02-09", 2.0),
    ("d", "2024-04-30", 4.0),
]


@pytest.fixture
def tables(duck: Any) -> tuple[Any, Any]:
    orders = load(duck, "orders", orders_frame(ROWS))
    customers = load(
        duck,
        "customers",
        pd.DataFrame(
            {
                "customer_id": ["a", "b", "c"],  # d has no customer row: the NULL group
                "country": ["JP", "KR", "JP"],
                "attributes": ['{"tier": "gold"}', '{"tier": "gold"}', None],
            }
        ),
    )
    return orders, customers


def _cells(frame: pd.DataFrame, country: str | None, cohort: str) -> list[int]:
    rows = frame[(frame.cohort == cohort)]
    rows = rows[rows.country.isna()] if country is None else rows[rows.country == country]
    return [int(v) for v in rows.active]


def test_cohorts_by_country_by_hand(tables: tuple[Any, Any]) -> None:
    orders, customers = tables
    got = cohort_retention(orders, customers=customers, by="country").to_pandas()
    assert list(got.columns[:3]) == ["country", "cohort", "period_index"]
    assert _cells(got, "JP", "2024-01-01") == [1, 0, 1, 0]  # a: Jan, Mar
    assert _cells(got, "KR", "2024-01-01") == [1, 1, 0, 0]  # b: Jan, Feb
    assert _cells(got, "JP", "2024-02-01") == [1, 0, 0]  # c
    assert _cells(got, None, "2024-02-01") == [1, 0, 1]  # d: Feb, Apr
    jp_feb = got[(got.country == "JP") & (got.cohort == "2024-02-01")]
    assert jp_feb.revenue.tolist() == [6.0, 0.0, 0.0]  # 7 - 1 returned
    # every group adds up to the unsplit matrix
    whole = cohort_retention(orders).to_pandas().set_index(["cohort", "period_index"])
    summed = got.fillna({"country": "-"}).groupby(["cohort", "period_index"]).active.sum()
    pd.testing.assert_series_equal(summed, whole.active, check_names=False)
    tiers = cohort_retention(orders, customers=customers, by="tier", mode="unbounded")
    assert set(tiers.to_pandas().tier.dropna()) == {"gold"}


def test_lifecycle_by_country_adds_up(tables: tuple[Any, Any]) -> None:
    orders, customers = tables
    got = lifecycle(orders, horizon_days=30, customers=customers, by="country").to_pandas()
    assert list(got.columns) == ["country", "period_start", "stage", "customers"]
    whole = lifecycle(orders, horizon_days=30).to_pandas()
    summed = got.groupby(["period_start", "stage"]).customers.sum()
    expected = whole.set_index(["period_start", "stage"]).customers
    pd.testing.assert_series_equal(summed.sort_index(), expected.sort_index(), check_names=False)
    kr = got[got.country == "KR"].set_index(["period_start", "stage"]).customers
    # b: new in January, returning in February; March ends past 02-02 + 30 days: churned
    assert kr[(pd.Timestamp("2024-02-01"), "returning")] == 1
    assert kr[(pd.Timestamp("2024-03-01"), "churned")] == 1
    assert kr[(pd.Timestamp("2024-03-01"), "dormant")] == 0


def test_unknown_by_is_an_error_listing_what_exists(tables: tuple[Any, Any]) -> None:
    orders, customers = tables
    for call in (
        lambda: cohort_retention(orders, customers=customers, by="nosuch").to_pandas(),
        lambda: lifecycle(orders, customers=customers, by="nosuch").to_pandas(),
        lambda: cohort_customers(
            orders, cohort="2024-01-01", period_index=0, customers=customers, where={"nosuch": "x"}
        ),
    ):
        with pytest.raises(MissingColumnError) as err:
            call()
        hint = str(err.value.violations[0].hint)
        assert "country" in hint and "tier" in hint
    with pytest.raises(InvalidParameterError):
        cohort_retention(orders, by="country")  # by needs customers


def _ids(table: Any) -> list[str]:
    return [str(v) for v in table.to_pandas().customer_id]


def test_cohort_customers_by_hand(tables: tuple[Any, Any]) -> None:
    orders, customers = tables
    assert _ids(cohort_customers(orders, cohort="2024-01-01", period_index=0)) == ["a", "b"]
    assert _ids(cohort_customers(orders, cohort="2024-01-01", period_index=1)) == ["b"]
    assert _ids(cohort_customers(orders, cohort="2024-01-01", period_index=2)) == ["a"]
    unbounded = cohort_customers(orders, cohort="2024-01-01", period_index=1, mode="unbounded")
    assert _ids(unbounded) == ["a", "b"]
    feb = {"cohort": "2024-02-01", "period_index": 0, "customers": customers}
    assert _ids(cohort_customers(orders, **feb, where={"country": "JP"})) == ["c"]
    assert _ids(cohort_customers(orders, **feb, where={"country": None})) == ["d"]
    for cohort, index in (("2024-01-15", 0), ("2024-01-01", -1), ("not a date", 0)):
        with pytest.raises(InvalidParameterError):
            cohort_customers(orders, cohort=cohort, period_index=index)


@pytest.mark.parametrize("mode", ["classic", "unbounded"])
@pytest.mark.parametrize("period", ["month", "week"])
def test_every_cell_lists_as_many_customers_as_it_counts(
    tables: tuple[Any, Any], mode: Any, period: str
) -> None:
    orders, customers = tables
    matrix = cohort_retention(orders, period=period, mode=mode).to_pandas()
    for cell in matrix.itertuples():
        listed = cohort_customers(
            orders,
            cohort=cell.cohort,
            period_index=int(cell.period_index),
            period=period,
            mode=mode,
        )
        assert len(_ids(listed)) == cell.active, cell
    split = cohort_retention(orders, customers=customers, by="country").to_pandas()
    for cell in split.itertuples():
        country = None if pd.isna(cell.country) else cell.country
        listed = cohort_customers(
            orders,
            cohort=cell.cohort,
            period_index=int(cell.period_index),
            customers=customers,
            where={"country": country},
        )
        assert len(_ids(listed)) == cell.active, cell
