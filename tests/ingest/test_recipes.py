"""Each recipe on the real published file, with counts pinned to the dataset READMEs.

The datasets and their provenance are described in ``../shared/datasets/<name>/README.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from retain.config import Settings
from retain.errors import NotFoundError
from retain.ingest import IngestReport, get_recipe, list_recipes, load_recipe

FIXTURES = Path(__file__).parent / "fixtures"


def _by_table(reports: list[IngestReport]) -> dict[str, IngestReport]:
    return {r.table: r for r in reports}


def _scalar(con: Any, sql: str) -> Any:
    return con.sql(sql).to_pyarrow().to_pylist()[0]


def test_the_shipped_recipes() -> None:
    assert list_recipes() == ["airline-tweets", "cdnow", "hillstrom", "online-retail-ii", "telco"]
    for name in list_recipes():
        recipe = get_recipe(name)
        assert recipe.description and recipe.source and recipe.steps


def test_unknown_recipe_lists_the_others() -> None:
    with pytest.raises(NotFoundError) as info:
        get_recipe("cdnoww")
    assert info.value.hint and "cdnow" in info.value.hint


def test_cdnow(warehouse: Any, datasets: Path) -> None:
    """cdnow/README.md, "Checks done": 69,659 transactions, 23,570 distinct customers, dates
    1997-01-01 to 1998-06-30, 167,881 CDs, $2,500,315.63."""
    reports = _by_table(
        load_recipe(
            "cdnow", datasets / "cdnow" / "CDNOW_master.txt", con=warehouse, settings=Settings()
        )
    )
    assert reports["customers"].rows_inserted == 23_570
    assert reports["orders"].rows_inserted == 69_659
    assert reports["order_lines"].rows_inserted == 69_659
    assert sum(r.rows_rejected for r in reports.values()) == 0
    got = _scalar(
        warehouse,
        "SELECT sum(amount) AS a, min(ordered_at) AS lo, "
        "max(ordered_at) AS hi, count(DISTINCT customer_id) AS n FROM orders",
    )
    assert float(got["a"]) == pytest.approx(2_500_315.63, abs=0.005)
    assert (str(got["lo"]), str(got["hi"]), got["n"]) == (
        "1997-01-01 00:00:00",
        "1998-06-30 00:00:00",
        23_570,
    )
    assert _scalar(warehouse, "SELECT sum(quantity) AS q FROM order_lines")["q"] == 167_881
    first = _scalar(warehouse, "SELECT acquired_at FROM customers WHERE customer_id = '00001'")
    assert str(first["acquired_at"]) == "1997-01-01 00:00:00"
    again = _by_table(
        load_recipe(
            "cdnow", datasets / "cdnow" / "CDNOW_master.txt", con=warehouse, settings=Settings()
        )
    )
    assert again["orders"].rows_unchanged == 69_659 and again["orders"].rows_inserted == 0


def test_telco(warehouse: Any, datasets: Path) -> None:
    """telco-churn/README.md: 7,043 customers; Churn 1,869 Yes; Contract 3,875 month-to-month /
    1,473 one year / 1,695 two year; 11 blank TotalCharges, all with tenure 0."""
    reports = _by_table(
        load_recipe(
            "telco",
            datasets / "telco-churn" / "Telco-Customer-Churn.csv.gz",
            con=warehouse,
            settings=Settings(),
        )
    )
    assert reports["customers"].rows_inserted == 7_043
    assert reports["subscriptions"].rows_inserted == 7_043
    plans = dict(
        warehouse.sql("SELECT plan, count(*) AS n FROM subscriptions GROUP BY plan")
        .to_pandas()
        .values.tolist()
    )
    assert plans == {"Month-to-month": 3_875, "One year": 1_473, "Two year": 1_695}
    assert _scalar(warehouse, "SELECT count(ended_at) AS n FROM subscriptions")["n"] == 1_869
    row = _scalar(warehouse, "SELECT * FROM subscriptions WHERE subscription_id = '7590-VHVEG'")
    assert (str(row["started_at"]), row["ended_at"], float(row["amount"])) == (
        "2019-08-01 00:00:00",
        None,
        29.85,
    )
    # Tenure measured honestly: at the scoring date, 2019-09-01, a customer of `tenure` months
    # has been one for about that many months (7590-VHVEG: 1 month, 31 days; not 2 days).
    days = warehouse.sql(
        "SELECT min(date_diff('day', started_at, TIMESTAMP '2019-09-01') - 30.44 * "
        "CAST(json_extract_string(c.attributes, '$.tenure') AS INTEGER)) AS lo, "
        "max(date_diff('day', started_at, TIMESTAMP '2019-09-01') - 30.44 * "
        "CAST(json_extract_string(c.attributes, '$.tenure') AS INTEGER)) AS hi "
        "FROM subscriptions s JOIN customers c USING (customer_id)"
    ).to_pandas()
    assert float(days["lo"][0]) >= -3 and float(days["hi"][0]) <= 3
    attrs = warehouse.table("customers").attributes.to_pandas().map(json.loads)
    blank = [a for a in attrs if not (a["TotalCharges"] or "").strip()]
    assert len(blank) == 11 and {a["tenure"] for a in blank} == {"0"}
    # The label is the subscription's end, not an attribute a model could read.
    assert not any("Churn" in a for a in attrs) and all("Contract" in a for a in attrs)


def test_hillstrom(warehouse: Any, datasets: Path) -> None:
    """hillstrom/README.md: 64,000 customers; Mens E-Mail 21,307 / Womens E-Mail 21,387 /
    No E-Mail 21,306; visit rate 18.28 % / 15.14 % / 10.62 %,
    conversion 1.25 % / 0.88 % / 0.57 %."""
    path = next((datasets / "hillstrom").glob("*.csv.gz"))
    reports = _by_table(load_recipe("hillstrom", path, con=warehouse, settings=Settings()))
    assert reports["customers"].rows_inserted == 64_000
    arms = (
        warehouse.sql(
            "SELECT json_extract_string(properties, '$.arm') AS arm, "
            "count(*) FILTER (WHERE kind IN ('message_sent', 'holdout')) AS n, "
            "count(*) FILTER (WHERE kind = 'visit') AS visits, "
            "count(*) FILTER (WHERE kind = 'conversion') AS conversions "
            "FROM interactions GROUP BY arm"
        )
        .to_pandas()
        .set_index("arm")
    )
    assert arms.n.to_dict() == {"Mens E-Mail": 21_307, "Womens E-Mail": 21_387, "No E-Mail": 21_306}
    visit = (100 * arms.visits / arms.n).round(2).to_dict()
    assert visit == {"Mens E-Mail": 18.28, "Womens E-Mail": 15.14, "No E-Mail": 10.62}
    conversion = (100 * arms.conversions / arms.n).round(2).to_dict()
    assert conversion == {"Mens E-Mail": 1.25, "Womens E-Mail": 0.88, "No E-Mail": 0.57}
    kinds = dict(
        warehouse.sql("SELECT kind, count(*) FROM interactions GROUP BY kind")
        .to_pandas()
        .values.tolist()
    )
    assert (kinds["message_sent"], kinds["holdout"]) == (42_694, 21_306)
    assert reports["interactions"].rows_inserted == sum(kinds.values())


def test_airline_tweets(warehouse: Any, datasets: Path) -> None:
    """airline-tweets/README.md: 9,178 negative tweets, all with a negativereason; 155 tweet ids
    occur twice. Among the negative tweets, 21 are exact copies (loaded once) and 68 ids carry
    two different versions: those 136 rows are rejected as duplicate keys (counted by
    reading the file with DuckDB: 9,178 rows, 9,157 distinct, 9,089 distinct ids)."""
    path = datasets / "airline-tweets" / "Tweets.csv.gz"
    reports = _by_table(load_recipe("airline-tweets", path, con=warehouse, settings=Settings()))
    complaints = reports["interactions"]
    assert complaints.rows_read == 9_157
    assert (complaints.rows_inserted, complaints.rows_rejected) == (9_021, 136)
    assert complaints.rejected_by_rule == {"duplicate_key": 136}
    assert reports["customers"].rows_inserted == 4_973
    assert (
        _scalar(warehouse, "SELECT count(*) AS n FROM interactions WHERE kind <> 'complaint'")["n"]
        == 0
    )
    reasons = (
        warehouse.sql(
            "SELECT DISTINCT json_extract_string(properties, '$.reason') AS r FROM interactions"
        )
        .to_pandas()
        .r
    )
    assert len(reasons) == 10 and "Lost Luggage" in set(reasons)
    rejected = warehouse.table("rejects").to_pandas()
    assert len(rejected) == 136 and set(rejected.rule) == {"duplicate_key"}


def test_online_retail_ii_on_a_hand_written_sample(warehouse: Any) -> None:
    """Expected counts worked out by hand from fixtures/online-retail-ii (two sheets as CSV):

    - customers 13085, 13078, 16321, 17850, 14527 -> 5;
    - 10 invoices; 489464, 489465 and A506401 have no Customer ID -> rejected (missing_value),
      A506401 also negative_amount (-53,594.36 with status completed); 7 orders loaded, of which
      C489449 (-45.30) and C536379 (-27.50) are cancellations;
    - 15 lines; the 4 lines without a customer are rejected (3 unknown_reference: their invoice
      was not loaded; the bad-debt line has a negative unit price) -> 11 lines loaded.
    """
    folder = FIXTURES / "online-retail-ii"
    reports = _by_table(load_recipe("online-retail-ii", folder, con=warehouse, settings=Settings()))
    assert reports["customers"].rows_inserted == 5
    orders = reports["orders"]
    assert (orders.rows_read, orders.rows_inserted, orders.rows_rejected) == (10, 7, 3)
    assert orders.rejected_by_rule == {"missing_value": 3, "negative_amount": 1}
    lines = reports["order_lines"]
    assert (lines.rows_read, lines.rows_inserted, lines.rows_rejected) == (15, 11, 4)
    assert lines.rejected_by_rule == {"unknown_reference": 3, "negative_amount": 1}
    got = warehouse.table("orders").order_by("order_id").to_pandas()
    amounts = {o: float(a) for o, a in zip(got.order_id, got.amount, strict=True)}
    assert amounts == {
        "489434": 245.4,
        "489435": 30.6,
        "489436": 59.5,
        "536365": 35.64,
        "536366": 11.1,
        "C489449": -45.3,
        "C536379": -27.5,
    }
    assert got.set_index("order_id").status.to_dict()["C489449"] == "cancelled"
    assert set(got.customer_id) == {"13085", "13078", "16321", "17850", "14527"}
    customer = _scalar(warehouse, "SELECT * FROM customers WHERE customer_id = '13085'")
    assert str(customer["acquired_at"]) == "2009-12-01 07:45:00"
    assert json.loads(customer["attributes"]) == {"country_name": "United Kingdom"}
    no_customer = warehouse.sql(
        "SELECT DISTINCT file, \"row\" FROM rejects WHERE table_name = 'order_lines'"
    ).to_pandas()
    assert sorted(no_customer["row"]) == [9, 10, 11, 12]
    assert set(no_customer.file) == {"online_retail_II_2009-2010.csv"}
