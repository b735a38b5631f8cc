"""The feature snapshot's SQL is compiled once per process and reused for every ``as_of``.

What a reused query must give is what building and compiling the expression afresh gives: the
same SQL text for the date (checked date by date, leap days and microseconds included), the same
rows bit for bit on DuckDB (one thread, so sums add in one order), and a new query whenever the
schema, the definition or the attributes change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

import retain.warehouse as wh
from retain.config import ChurnDefinition
from retain.features import _compiled, feature_snapshot
from retain.features import snapshot as snapshot_module
from retain.features._clock import Clock
from retain.features.attributes import AttributeFeature
from retain.features.sources import Sources

SHOP = ChurnDefinition(activity="any")
SUBS = ChurnDefinition(kind="contractual")
# Month ends, a leap day, the last second of a year, a fraction of a second, another shape.
DATES = (
    "2024-04-01",
    "2024-02-29 13:45:10",
    "2023-12-31 23:59:59",
    "2024-01-31 00:00:00.25",
    "2024-03-31",
    "2025-03-01",
)


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    _compiled.clear()
    yield
    _compiled.clear()


@pytest.fixture
def con(business: dict[str, pd.DataFrame], tmp_path: Path) -> Iterator[Any]:
    backend = wh.connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    backend.raw_sql("SET threads TO 1")  # float sums in one order: frames compare exactly
    for name, frame in business.items():
        wh.write_table(backend, name, frame)
    yield backend
    backend.disconnect()


def _direct(con: Any, as_of: str, definition: ChurnDefinition) -> pd.DataFrame:
    """The snapshot built and compiled afresh, as before the cache."""
    clock = Clock(pd.Timestamp(as_of))
    expr = snapshot_module._expression(Sources.of(con), clock, definition, ())
    frame: pd.DataFrame = expr.order_by("customer_id").to_pandas()
    return frame


def _substituted(con: Any, as_of: pd.Timestamp, definition: ChurnDefinition) -> str:
    """The kept query's text with the date's literals put in (PostgreSQL runs this text)."""
    feature_snapshot(con, as_of=as_of, definition=definition)
    (entry,) = [e for e in _compiled._cache.values() if isinstance(e, _compiled._Compiled)]
    texts = {
        text: _compiled._render(con, slot.dtype, slot.value(as_of)) for text, slot in entry.slots
    }
    return entry.pattern.sub(lambda m: texts[m.group(0)], entry.sql)


@pytest.mark.parametrize("definition", [SHOP, SUBS], ids=["shop", "subscriptions"])
def test_reused_query_gives_the_rows_of_a_fresh_one(con: Any, definition: ChurnDefinition) -> None:
    for as_of in DATES:
        got = feature_snapshot(con, as_of=as_of, definition=definition).to_pandas()
        pd.testing.assert_frame_equal(got, _direct(con, as_of, definition), check_exact=True)
    # One query per shape (leap years of as_of's year and the next), not one per date.
    assert _compiled.cache_size() == len({Clock.shape(pd.Timestamp(d)) for d in DATES})


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    when=st.datetimes(min_value=dt.datetime(1999, 1, 1), max_value=dt.datetime(2040, 12, 31)),
    contractual=st.booleans(),
)
def test_reused_query_is_the_fresh_query_text(
    con: Any, when: dt.datetime, contractual: bool
) -> None:
    """The kept query (compiled with stand-in values) with the date's literals put in is, to the
    byte, what compiling the expression built for that date gives."""
    definition = SUBS if contractual else SHOP
    as_of = pd.Timestamp(when)
    fresh = con.compile(snapshot_module._expression(Sources.of(con), Clock(as_of), definition, ()))
    _compiled.clear()
    assert _substituted(con, as_of, definition) == fresh


def test_second_date_builds_nothing(con: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same shape, another date: no expression is built, no SQL compiled by Ibis."""
    built: list[Clock] = []
    real = snapshot_module._expression

    def counting(*args: Any) -> Any:
        built.append(args[1])
        return real(*args)

    monkeypatch.setattr(snapshot_module, "_expression", counting)
    feature_snapshot(con, as_of="2024-04-01", definition=SHOP).to_pandas()
    feature_snapshot(con, as_of="2024-06-15 08:00", definition=SHOP).to_pandas()
    assert len(built) == 1 and built[0].stand_ins
    feature_snapshot(con, as_of="2023-04-01", definition=SHOP)  # 2023 is not a leap year
    assert len(built) == 2


def test_changed_schema_is_a_new_query(con: Any) -> None:
    """Once ``discount_amount`` is dropped from orders, the snapshot treats discounts as absent
    (a query kept for the old schema would read a column that is gone)."""
    before = feature_snapshot(con, as_of="2024-04-01", definition=SHOP).to_pandas()
    assert before.set_index("customer_id").loc["a", "discount_share"] > 0
    con.raw_sql("ALTER TABLE orders DROP COLUMN discount_amount")
    after = feature_snapshot(con, as_of="2024-05-01", definition=SHOP).to_pandas()
    assert (after["discount_share"] == 0).all()
    pd.testing.assert_frame_equal(after, _direct(con, "2024-05-01", SHOP), check_exact=True)
    assert _compiled.cache_size() == 2


def test_definition_and_attributes_are_part_of_the_key(con: Any) -> None:
    a = feature_snapshot(con, as_of="2024-04-01", definition=SHOP).to_pandas()
    b = feature_snapshot(con, as_of="2024-04-01", definition=SUBS).to_pandas()
    pd.testing.assert_frame_equal(b, _direct(con, "2024-04-01", SUBS), check_exact=True)
    assert len(a) != len(b)  # the subscribers only
    plan = AttributeFeature(key="plan_tier", name="attr_plan_tier", kind="categorical")
    c = feature_snapshot(con, as_of="2024-04-01", definition=SHOP, attributes=[plan])
    assert list(c.columns) == [*a.columns, "attr_plan_tier"]
    assert _compiled.cache_size() == 3


def test_frames_and_currency_columns_are_built_each_time(
    con: Any, business: dict[str, pd.DataFrame]
) -> None:
    feature_snapshot(business, as_of="2024-04-01", definition=SHOP)
    assert _compiled.cache_size() == 0
    wh.write_table(con, "orders", business["orders"].assign(currency="USD"), mode="replace")
    feature_snapshot(con, as_of="2024-04-01", definition=SHOP)
    assert _compiled.cache_size() == 0


def test_lost_macro_is_made_again(con: Any) -> None:
    """A connection that lost the temporary macro (a rolled-back transaction, a reconnect)
    gets it again on the next call."""
    feature_snapshot(con, as_of="2024-04-01", definition=SHOP).to_pandas()
    (entry,) = _compiled._cache.values()
    assert isinstance(entry, _compiled._Compiled) and entry.macro is not None
    con.raw_sql(f"DROP MACRO TABLE {entry.macro[0]}")
    got = feature_snapshot(con, as_of="2024-03-01", definition=SHOP).to_pandas()
    pd.testing.assert_frame_equal(got, _direct(con, "2024-03-01", SHOP), check_exact=True)
