"""Events are immutable facts; repeated keys in one batch collapse or conflict (issue #16, 14).

An event id stored once never changes: a later batch that brings it with another payload is a
conflict (``event_conflict``) kept in ``rejects`` with the columns that differ, and the stored
event stays as it was. Orders stay correctable (a return changes an order's status). Inside one
batch, exact repeats load once and differing versions of a key are all rejected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from retain.config import Settings
from retain.errors import DataValidationError
from retain.ingest import ingest

EVENTS = "event_id,customer_id,occurred_at,name,channel\n"


@pytest.fixture
def shop(target: Any, tmp_path: Path, write: Any) -> Any:
    """A warehouse (DuckDB, and PostgreSQL when available) with customers c1..c3 and 2 events."""
    ingest("customers", write(tmp_path / "c.csv", "customer_id\nc1\nc2\nc3\n"), con=target)
    ingest(
        "events",
        write(
            tmp_path / "e0.csv",
            EVENTS + "e1,c1,2024-01-02 10:00:00,login,web\ne2,c2,2024-01-03 11:00:00,login,app\n",
        ),
        con=target,
        settings=Settings(),
    )
    return target


def _events(con: Any) -> list[tuple[Any, ...]]:
    frame = con.table("events").order_by("event_id").to_pandas()
    return list(frame[["event_id", "customer_id", "name", "channel"]].itertuples(index=False))


def test_reloading_the_same_events_is_a_no_op(shop: Any, tmp_path: Path, write: Any) -> None:
    path = write(
        tmp_path / "again.csv",
        EVENTS + "e1,c1,2024-01-02 10:00:00,login,web\ne2,c2,2024-01-03 11:00:00,login,app\n",
    )
    report = ingest("events", path, con=shop, settings=Settings())
    assert (report.rows_inserted, report.rows_updated, report.rows_unchanged) == (0, 0, 2)
    assert report.rows_rejected == 0


def test_a_changed_event_is_a_conflict_not_an_overwrite(
    shop: Any, tmp_path: Path, write: Any
) -> None:
    path = write(
        tmp_path / "changed.csv",
        EVENTS + "e1,c1,2024-01-02 10:00:00,logout,web\n"  # name differs
        "e2,c3,2024-01-03 11:00:00,login,store\n"  # customer and channel differ
        "e3,c3,2024-01-04 09:00:00,login,web\n",  # new: loads
    )
    report = ingest("events", path, con=shop, settings=Settings(), on_error="quarantine")
    assert (report.rows_inserted, report.rows_updated, report.rows_rejected) == (1, 0, 2)
    assert report.rejected_by_rule == {"event_conflict": 2}
    assert _events(shop) == [
        ("e1", "c1", "login", "web"),
        ("e2", "c2", "login", "app"),
        ("e3", "c3", "login", "web"),
    ]
    rejects = shop.table("rejects").order_by("row").to_pandas()
    assert rejects[["row", "column", "rule", "value"]].values.tolist() == [
        [2, "name", "event_conflict", "e1"],
        [3, "customer_id, channel", "event_conflict", "e2"],
    ]
    assert "e2" in rejects.message[1] and "customer_id, channel" in rejects.message[1]
    assert json.loads(rejects.record[0])["name"] == "logout"


def test_in_reject_mode_a_conflict_rejects_the_batch(shop: Any, tmp_path: Path, write: Any) -> None:
    path = write(
        tmp_path / "changed.csv",
        EVENTS + "e3,c3,2024-01-04 09:00:00,login,web\ne1,c1,2024-01-02 10:00:01,login,web\n",
    )
    with pytest.raises(DataValidationError) as info:
        ingest("events", path, con=shop, settings=Settings(), on_error="reject")
    assert [(v.row, v.rule, v.column, v.value) for v in info.value.violations] == [
        (3, "event_conflict", "occurred_at", "e1")
    ]
    assert [e[0] for e in _events(shop)] == ["e1", "e2"]


def test_a_frame_conflict_compares_properties(shop: Any) -> None:
    first = pd.DataFrame(
        {
            "event_id": ["p1"],
            "customer_id": ["c1"],
            "occurred_at": ["2024-02-01 08:00:00"],
            "name": ["play"],
            "title": ["Song A"],  # unmapped: lands in properties
        }
    )
    ingest("events", first, con=shop, settings=Settings())
    same = ingest("events", first, con=shop, settings=Settings())
    assert (same.rows_unchanged, same.rows_rejected) == (1, 0)
    other = first.assign(title=["Song B"])
    report = ingest("events", other, con=shop, settings=Settings(), on_error="quarantine")
    assert report.rejected_by_rule == {"event_conflict": 1}
    assert report.violations[0].column == "properties"
    stored = shop.table("events").filter(lambda t: t.event_id == "p1").to_pandas()
    assert json.loads(stored.properties[0]) == {"title": "Song A"}


def test_identical_repeats_in_a_batch_collapse(shop: Any, tmp_path: Path, write: Any) -> None:
    path = write(
        tmp_path / "repeats.csv",
        EVENTS + "e5,c1,2024-01-05 10:00:00,login,web\n"
        "e5,c1,2024-01-05 10:00:00,login,web\n"
        "e6,c2,2024-01-05 11:00:00,login,web\n"
        "e5,c1,2024-01-05 10:00:00,login,web\n",
    )
    report = ingest("events", path, con=shop, settings=Settings())
    assert (report.rows_read, report.rows_inserted, report.rows_collapsed) == (4, 2, 2)
    assert report.rows_rejected == 0
    assert "loaded once" in report.summary()
    assert shop.table("events").count().execute() == 4


def test_conflicting_repeats_in_a_batch_are_all_rejected(
    shop: Any, tmp_path: Path, write: Any
) -> None:
    path = write(
        tmp_path / "conflict.csv",
        EVENTS + "e7,c1,2024-01-05 10:00:00,login,web\n"
        "e7,c1,2024-01-05 10:00:00,logout,web\n"
        "e7,c1,2024-01-05 10:00:00,login,web\n"
        "e8,c2,2024-01-05 11:00:00,login,web\n",
    )
    report = ingest("events", path, con=shop, settings=Settings(), on_error="quarantine")
    assert (report.rows_inserted, report.rows_rejected, report.rows_collapsed) == (1, 3, 0)
    assert report.rejected_by_rule == {"duplicate_key": 3}
    assert [e[0] for e in _events(shop)] == ["e1", "e2", "e8"]


def test_a_bad_copy_never_displaces_a_good_one(shop: Any, tmp_path: Path, write: Any) -> None:
    # Both rows read as the same typed values (invalid JSON types as empty): the first is
    # rejected for its JSON, and the good second copy loads instead of collapsing into it.
    path = write(
        tmp_path / "bad-copy.csv",
        "event_id,customer_id,occurred_at,name,properties\n"
        'e9,c1,2024-01-05 10:00:00,login,"{bad"\n'
        "e9,c1,2024-01-05 10:00:00,login,\n",
    )
    report = ingest("events", path, con=shop, settings=Settings(), on_error="quarantine")
    assert (report.rows_inserted, report.rows_collapsed) == (1, 0)
    assert report.rejected_by_rule == {"invalid_json": 1}
    assert report.violations[0].row == 2


def test_orders_stay_correctable(shop: Any, tmp_path: Path, write: Any) -> None:
    head = "order_id,customer_id,ordered_at,amount,status\n"
    ingest("orders", write(tmp_path / "o1.csv", head + "o1,c1,2024-01-02,10,completed\n"), con=shop)
    report = ingest(
        "orders", write(tmp_path / "o2.csv", head + "o1,c1,2024-01-02,-10,returned\n"), con=shop
    )
    assert (report.rows_updated, report.rows_rejected) == (1, 0)
    assert shop.table("orders").status.execute().tolist() == ["returned"]


def test_identical_order_repeats_collapse_too(shop: Any, tmp_path: Path, write: Any) -> None:
    head = "order_id,customer_id,ordered_at,amount\n"
    text = head + "o5,c1,2024-01-02,10\no5,c1,2024-01-02,10.00\n"
    report = ingest("orders", write(tmp_path / "o.csv", text), con=shop)
    assert (report.rows_inserted, report.rows_collapsed) == (1, 1)


def test_a_broken_copy_is_no_second_version(shop: Any, tmp_path: Path, write: Any) -> None:
    # Row 3 repeats e10 with a time that does not parse: it is rejected for that alone, and
    # the good row 2 is the only version of e10, so it loads.
    path = write(
        tmp_path / "broken-copy.csv",
        EVENTS + "e10,c1,2024-01-05 10:00:00,login,web\ne10,c2,soon,login,app\n",
    )
    report = ingest("events", path, con=shop, settings=Settings(), on_error="quarantine")
    assert (report.rows_inserted, report.rows_rejected) == (1, 1)
    assert report.rejected_by_rule == {"invalid_date": 1}
    assert ("e10", "c1", "login", "web") in _events(shop)


PROPS = "event_id,customer_id,occurred_at,name,properties\n"


def _props(con: Any, event_id: str) -> str:
    stored = con.table("events").filter(lambda t: t.event_id == event_id).to_pandas()
    return str(stored.properties[0])


def test_a_respaced_event_is_unchanged_and_never_rewritten(
    shop: Any, tmp_path: Path, write: Any
) -> None:
    first = write(
        tmp_path / "p1.csv", PROPS + 'j1,c1,2024-01-05 10:00:00,play,"{""a"":1,""b"":2}"\n'
    )
    ingest("events", first, con=shop, settings=Settings())
    before = _props(shop, "j1")
    again = write(
        tmp_path / "p2.csv", PROPS + 'j1,c1,2024-01-05 10:00:00,play,"{""a"": 1, ""b"": 2}"\n'
    )
    report = ingest("events", again, con=shop, settings=Settings(), on_error="quarantine")
    assert (report.rows_inserted, report.rows_updated, report.rows_unchanged) == (0, 0, 1)
    assert report.rows_rejected == 0
    assert _props(shop, "j1") == before


def test_reordered_json_keys_are_the_same_event(shop: Any, tmp_path: Path, write: Any) -> None:
    first = write(
        tmp_path / "p1.csv",
        PROPS + 'j2,c1,2024-01-05 10:00:00,play,"{""a"":1,""b"":{""y"":2,""x"":1}}"\n',
    )
    ingest("events", first, con=shop, settings=Settings())
    before = _props(shop, "j2")
    again = write(
        tmp_path / "p2.csv",
        PROPS + 'j2,c1,2024-01-05 10:00:00,play,"{""b"":{""x"":1,""y"":2},""a"":1}"\n',
    )
    report = ingest("events", again, con=shop, settings=Settings(), on_error="quarantine")
    assert (report.rows_unchanged, report.rows_rejected, report.rows_updated) == (1, 0, 0)
    assert _props(shop, "j2") == before
    changed = write(
        tmp_path / "p3.csv",
        PROPS + 'j2,c1,2024-01-05 10:00:00,play,"{""b"":{""x"":1,""y"":3},""a"":1}"\n',
    )
    report = ingest("events", changed, con=shop, settings=Settings(), on_error="quarantine")
    assert report.rejected_by_rule == {"event_conflict": 1}


def test_respaced_json_repeats_in_a_batch_collapse(shop: Any, tmp_path: Path, write: Any) -> None:
    path = write(
        tmp_path / "p.csv",
        PROPS + 'j3,c1,2024-01-05 10:00:00,play,"{""a"":1,""b"":2}"\n'
        'j3,c1,2024-01-05 10:00:00,play,"{""b"": 2, ""a"": 1}"\n'
        'j4,c1,2024-01-05 10:00:00,play,"{""a"":1}"\n'
        'j4,c1,2024-01-05 10:00:00,play,"{""a"":2}"\n',
    )
    report = ingest("events", path, con=shop, settings=Settings(), on_error="quarantine")
    assert (report.rows_inserted, report.rows_collapsed) == (1, 1)
    assert report.rejected_by_rule == {"duplicate_key": 2}


def test_an_empty_cell_against_a_stored_value_is_a_conflict(
    shop: Any, tmp_path: Path, write: Any
) -> None:
    # Events are never enriched or blanked later: a missing channel differs from "web".
    path = write(tmp_path / "blank.csv", EVENTS + "e1,c1,2024-01-02 10:00:00,login,\n")
    report = ingest("events", path, con=shop, settings=Settings(), on_error="quarantine")
    assert report.rejected_by_rule == {"event_conflict": 1}
    assert report.violations[0].column == "channel"
    assert _events(shop)[0] == ("e1", "c1", "login", "web")


def test_only_the_stored_events_the_batch_repeats_are_read(shop: Any) -> None:
    # Off DuckDB the stored events are copied into the staging engine: only those whose ids
    # the batch carries (a semi-join), never the whole table.
    import duckdb

    from retain import warehouse as wh
    from retain.ingest.merge import stored_relation
    from retain.schema import get_table

    duck = duckdb.connect() if wh.backend_name(shop) != "duckdb" else shop.con
    temps: list[str] = []
    relation = stored_relation(shop, duck, get_table("events"), temps)(
        "SELECT * FROM (VALUES ('e2'), ('zz')) AS k(event_id)"
    )
    read = duck.execute(f"SELECT event_id FROM {relation} ORDER BY event_id").fetchall()
    assert read == ([("e1",), ("e2",)] if wh.backend_name(shop) == "duckdb" else [("e2",)])
