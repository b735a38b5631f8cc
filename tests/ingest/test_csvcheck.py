"""The plain-file check reads in chunks: a line split by a chunk end is judged whole (#21)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from retain.config import Settings
from retain.ingest import csvcheck, ingest

CASES = [
    ("a,b,c\n1,2,3\n4,5,6\n", 3, True),
    ("a,b,c\r\n1,2,3\r\n4,5,6\r\n", 3, True),
    ("a,b,c\n1,2,3\n4,5,6", 3, True),  # no final newline
    ("a,b,c\n1,2,3,\n4,5,6\n", 3, False),  # one delimiter too many
    ("a,b,c\n1,2,3\n4,5,6,\n", 3, False),  # ... on the last line
    ("a,b,c\n1,2\n4,5,6,7\n", 3, False),  # a short and a long line: same total
    ("a,b,c\n\n1,2,3\n", 3, False),  # a blank line
    ('a,b,c\n1,"2",3\n', 3, False),  # a quote
    ("a,b,c\n1,2\x00,3\n", 3, False),  # a NUL
    ("a,b,c\n1,2\r,3\n", 3, False),  # a CR not before a LF
    ("a,b,c\n1,2,3\r", 3, False),  # a final CR
    ("a\nx\ny\n", 1, True),
    ("a\nx\n\ny\n", 1, False),
]


@pytest.mark.parametrize(("text", "columns", "plain"), CASES)
@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 8, 1 << 24])
def test_the_verdict_does_not_depend_on_where_chunks_end(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    columns: int,
    plain: bool,
    chunk: int,
) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(text.encode())
    monkeypatch.setattr(csvcheck, "_PLAIN_CHUNK", chunk)
    assert csvcheck.plain_text(path, '"', delimiter=",", columns=columns) is plain


@pytest.mark.parametrize("limit", [32_768, 20])
def test_a_long_field_of_a_plain_file_is_still_named(
    warehouse: Any, tmp_path: Path, limit: int
) -> None:
    """The field size check is skipped only when the file's longest line is within the limit."""
    long = "x" * (limit + 1)
    path = tmp_path / "customers.csv"
    path.write_bytes(f"customer_id,acquisition_channel\nc1,web\nc2,{long}\nc3,ad\n".encode())
    assert csvcheck.plain_text(path, '"', delimiter=",", columns=2)
    settings = Settings(ingest={"max_field_bytes": limit, "on_error": "quarantine"})
    report = ingest("customers", path, con=warehouse, settings=settings)
    assert report.rows_inserted == 2
    assert [(v.rule, v.row, v.column) for v in report.violations] == [
        ("field_too_large", 3, "acquisition_channel")
    ]


def test_a_plain_file_within_the_limit_loads_whole(warehouse: Any, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(b"customer_id,acquisition_channel\nc1,web\nc2,xxxxxxxxxx\n")
    settings = Settings(ingest={"max_field_bytes": 20})
    assert ingest("customers", path, con=warehouse, settings=settings).rows_inserted == 2
