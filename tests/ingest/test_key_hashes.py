"""Key uniqueness from 64-bit hashes never reports a duplicate the keys do not have (#21).

The batch's key hashes are sorted and neighbours compared; equal hashes only send the batch
to the exact grouping by the keys themselves. Here every key is made to hash alike (as if all
collided), so only that exact grouping decides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from retain.errors import DataValidationError
from retain.ingest import batchchecks, ingest, validate


@pytest.fixture
def colliding(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every key hashes to the same value; the list collects the repeats reported."""
    seen: list[int] = []

    def all_alike(duck: Any, typed: str, key_cols: str, not_null: str) -> int:
        found = batchchecks.repeated_hashes(duck, typed, "1", not_null)
        seen.append(found)
        return found

    monkeypatch.setattr(validate, "repeated_hashes", all_alike)
    return seen


def test_colliding_hashes_of_distinct_keys_load_every_row(
    warehouse: Any, tmp_path: Path, write: Any, colliding: list[int]
) -> None:
    # Keys differing by case, by a space inside, by Unicode normalisation (NFC e-acute vs e +
    # combining accent) and digits that read alike as numbers are all distinct strings.
    keys = ["c1", "C1", "c 1", "caf\u00e9", "cafe\u0301", "01", "1", "1.0"]
    report = ingest(
        "customers", write(tmp_path / "c.csv", "customer_id\n" + "\n".join(keys) + "\n"),
        con=warehouse,
    )  # fmt: skip
    assert colliding == [len(keys) - 1]  # every hash repeated: the exact check ran
    assert report.rows_inserted == len(keys)
    stored = warehouse.table("customers").to_pandas().customer_id
    assert sorted(stored) == sorted(keys)


def test_colliding_hashes_still_find_the_real_repeat(
    warehouse: Any, tmp_path: Path, write: Any, colliding: list[int]
) -> None:
    text = "customer_id,country\nc1,JP\nc2,KR\nc1,US\nc3,JP\n"
    with pytest.raises(DataValidationError) as info:
        ingest("customers", write(tmp_path / "c.csv", text), con=warehouse)
    assert sorted((v.row, v.rule) for v in info.value.violations) == [
        (2, "duplicate_key"),
        (4, "duplicate_key"),
    ]


def test_colliding_composite_keys_load_and_identical_repeats_collapse(
    warehouse: Any, tmp_path: Path, write: Any, colliding: list[int]
) -> None:
    # (JPY, USD) and (USD, JPY) share their parts; the last row repeats the first exactly.
    text = (
        "currency,reporting_currency,valid_from,rate\n"
        "JPY,USD,2024-01-01,0.0068\nUSD,JPY,2024-01-01,147\n"
        "JPY,USD,2024-02-01,0.0069\nJPY,USD,2024-01-01,0.0068\n"
    )
    report = ingest("exchange_rates", write(tmp_path / "x.csv", text), con=warehouse)
    assert colliding == [3]
    assert report.rows_inserted == 3
    assert warehouse.table("exchange_rates").count().execute() == 3
