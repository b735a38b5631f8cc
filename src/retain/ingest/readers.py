"""Sources -> one staged DuckDB table of text columns, each row tagged with its file and line.

Every source (CSV in any delimiter or encoding, Parquet, JSON Lines, a folder of them, or a
pandas / polars / pyarrow frame) is copied into a temporary DuckDB table whose columns are all
``VARCHAR`` plus two bookkeeping columns: ``_file`` (the file name shown in errors) and ``_row``
(the line in that file: the header is line 1 of a CSV with a header, a JSON Lines record is its
line; a frame row is its 0-based position). Keeping values as text until validation lets the
validator show the value exactly as the user wrote it. A single CSV file can instead be left
unstaged (``lazy=True``): the loader then casts straight from the file in one parse and copies
the text (:func:`materialize`) only when a broken row's raw value must be shown.

DuckDB reads the files itself, in parallel and out of core, so a file larger than memory loads
with bounded memory (the connection's ``memory_limit`` and ``temp_directory`` apply). Files in an
encoding other than UTF-8 (Shift_JIS, CP932, EUC-KR...) are first transcoded to a temporary
UTF-8 file in fixed-size chunks.
"""

from __future__ import annotations

import functools
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias, cast

import duckdb
import pandas as pd
import pyarrow as pa

from retain.errors import DataValidationError, InvalidParameterError, Violation
from retain.i18n import t
from retain.ingest.csvcheck import LINE_COLUMN
from retain.ingest.csvread import (
    UTF8,
    WHITESPACE,
    checked_csv,
    csv_relation,
    duck_error,
    quote,
    release_result,
    rescue_csv,
    sql_literal,
    text_select,
    transcode,
)

__all__ = [
    "WHITESPACE",
    "Source",
    "StagedSource",
    "is_frame",
    "list_files",
    "materialize",
    "quote",
    "stage_source",
]

Source: TypeAlias = str | Path | Sequence[str | Path] | pd.DataFrame | pa.Table | Any
"""A path, a list of paths, a folder, or a pandas / polars / pyarrow frame."""

_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".dat": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
}


@dataclass
class StagedSource:
    """A source copied into the DuckDB table ``name`` (text columns plus ``_file`` and ``_row``)."""

    name: str
    columns: list[str]
    files: list[str]
    rows: int
    frame: bool = False
    temp_paths: list[Path] = field(default_factory=list)
    file_sql: str = "'<frame>'"
    """SQL giving each row's file label (rows keep DuckDB's insertion order, so rowid works)."""
    row_sql: str = "rowid"
    """SQL giving each row's line in its file (or position in a frame)."""
    sql: str | None = None
    """For a lazy source: the SQL reading the file as text (nothing is staged until asked)."""
    violations: list[Violation] = field(default_factory=list)
    """Malformed records found by the rescan (:mod:`retain.ingest.csvcheck`), never staged."""
    raw: list[str] = field(default_factory=list)
    """The text of each record in ``violations``, for ``rejects``."""
    file_columns: dict[str, list[str]] = field(default_factory=dict)
    """Each file's own columns (files of a folder may differ in optional columns)."""
    rescue: Any = None
    """For a lazy source: rescans the file when DuckDB fails on it (returns the clean SQL)."""
    has_line: bool = False
    """Whether the staged table holds the rescan's line column (then :attr:`star` hides it)."""
    longest_lines: dict[str, int] = field(default_factory=dict)
    """Each plain CSV file's longest line in bytes, by path (no field of it is longer)."""
    longest_line: int | None = None
    """When every file is a plain CSV file: the longest line of them all, in bytes."""
    nul_free: bool = False
    """Whether every value is text proven free of NUL characters: each file was a CSV that
    passed the line check (which sends a line holding a NUL to the rescan) or was rescanned
    (which rejects such records)."""

    @property
    def star(self) -> str:
        """``*`` over the staged table's source columns (without the rescan's line column)."""
        return f"* EXCLUDE ({quote(LINE_COLUMN)})" if self.has_line else "*"

    @property
    def lazy(self) -> bool:
        """Whether the source is still only a query over the file (see :func:`materialize`)."""
        return self.sql is not None

    @property
    def label(self) -> str:
        """What was loaded, for the batch record: file names or ``<frame>``."""
        return "<frame>" if self.frame else ", ".join(self.files)


def is_frame(source: object) -> bool:
    """Whether ``source`` is an in-memory frame rather than paths."""
    if isinstance(source, (pd.DataFrame, pa.Table, pa.RecordBatch)):
        return True
    module = type(source).__module__
    return module.startswith("polars") and hasattr(source, "to_arrow")


def _kind(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in {".gz", ".zst", ".bz2"}:
        suffixes = suffixes[:-1]
    return _SUFFIXES.get(suffixes[-1] if suffixes else "", "csv")


_FOLDER_SUFFIXES = (
    ".csv",
    ".tsv",
    ".dat",
    ".parquet",
    ".pq",
    ".jsonl",
    ".ndjson",
    ".json",
    ".xlsx",
)
_FOLDER_SUFFIXES_TEXT = ", ".join(_FOLDER_SUFFIXES)


def _folder_data(path: Path) -> bool:
    """Whether a file found in a folder is data; ``.txt`` is not (notes), name such files."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in {".gz", ".zst", ".bz2"}:
        suffixes = suffixes[:-1]
    return bool(suffixes) and suffixes[-1] in _FOLDER_SUFFIXES


def list_files(source: str | Path | Sequence[str | Path]) -> list[Path]:
    """The files named by ``source``; a folder expands to its data files in name order."""
    items = [source] if isinstance(source, (str, Path)) else list(source)
    if not items:
        raise InvalidParameterError(t("ingest.no_source"), hint=t("ingest.no_source_hint"))
    files: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            # Hidden files and Excel's lock files (``~$book.xlsx``, there while a workbook is
            # open) are not the user's data.
            visible = sorted(
                p for p in path.iterdir() if p.is_file() and not p.name.startswith((".", "~$"))
            )
            other = [p.name for p in visible if not _folder_data(p)]
            if other:
                raise DataValidationError(
                    [
                        Violation(
                            "not_data_file",
                            t("ingest.rule.not_data_file", folder=path.name),
                            file=name,
                            hint=t("ingest.hint.not_data_file", suffixes=_FOLDER_SUFFIXES_TEXT),
                        )
                        for name in other
                    ]
                )
            found = visible
            if not found:
                raise DataValidationError(
                    [
                        Violation(
                            "empty_file",
                            t("ingest.rule.empty_folder"),
                            file=str(path),
                            hint=t("ingest.hint.empty_folder"),
                        )
                    ]
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise DataValidationError(
                [
                    Violation(
                        "missing_file",
                        t("ingest.rule.missing_file"),
                        file=str(path),
                        hint=t("ingest.hint.missing_file"),
                    )
                ]
            )
    return files


@contextmanager
def stage_source(
    duck: duckdb.DuckDBPyConnection,
    source: Source,
    *,
    encoding: str = "utf-8",
    delimiter: str | None = None,
    header: bool = True,
    columns: Sequence[str] | None = None,
    lazy: bool = False,
    max_field_bytes: int = 32_768,
    sheet: str | None = None,
) -> Iterator[StagedSource]:
    """Copy ``source`` into a temporary DuckDB table of text columns; drop it on exit.

    With ``lazy=True`` a single CSV file is not copied: the staged source only holds the SQL
    that reads it as text (``StagedSource.sql``), so the caller can cast straight from the file
    in one pass; :func:`materialize` copies it later if the raw text is needed after all (to
    show the values of rejected rows). Rows then keep the file's order, so the ``rowid`` of a
    table created from that SQL is the record number, exactly as in the staged table.

    Parameters
    ----------
    duck
        The DuckDB connection that stages and validates (the warehouse's own when it is DuckDB).
    source
        A path, a list of paths, a folder, or a pandas / polars / pyarrow frame.
    encoding
        Text encoding of CSV files (``shift_jis``, ``cp932``, ``euc-kr``...).
    delimiter
        CSV field separator; ``None`` lets DuckDB detect it; ``"whitespace"`` splits on runs of
        spaces and tabs.
    header
        Whether CSV files start with a header line.
    columns
        Column names for CSV files without a header (or to replace the header's).
    lazy
        Leave a single CSV file unstaged (see above); other sources are staged as usual.
    sheet
        The sheet of Excel workbooks to read, by name or number from 1 (default: the first).
    """
    name = f"_retain_src_{uuid.uuid4().hex[:12]}"
    temp_paths: list[Path] = []
    staged = StagedSource(name, [], [], 0, temp_paths=temp_paths)
    try:
        if is_frame(source):
            _stage_frame(duck, source, staged)
        else:
            _stage_files(
                duck,
                list_files(cast(Any, source)),
                staged,
                encoding=encoding,
                delimiter=delimiter,
                header=header,
                columns=columns,
                lazy=lazy,
                max_field_bytes=max_field_bytes,
                sheet=sheet,
            )
        yield staged
    finally:
        duck.execute(f"DROP TABLE IF EXISTS {quote(name)}")
        for path in temp_paths:
            path.unlink(missing_ok=True)


def _stage_frame(duck: duckdb.DuckDBPyConnection, source: Any, staged: StagedSource) -> None:
    if isinstance(source, pd.DataFrame):
        arrow = pa.Table.from_pandas(source, preserve_index=False)
    elif isinstance(source, pa.RecordBatch):
        arrow = pa.Table.from_batches([source])
    elif isinstance(source, pa.Table):
        arrow = source
    else:
        arrow = source.to_arrow()
    view = f"_retain_frame_{uuid.uuid4().hex[:12]}"
    release_result(duck)
    duck.register(view, arrow)
    try:
        text = text_select(duck, f"SELECT * FROM {quote(view)}")
        duck.execute(f"CREATE TEMP TABLE {quote(staged.name)} AS {text}")
    finally:
        duck.unregister(view)
    staged.frame = True
    staged.files = ["<frame>"]
    staged.columns = list(duck.table(staged.name).columns)
    staged.rows = arrow.num_rows


def _stage_files(
    duck: duckdb.DuckDBPyConnection,
    files: list[Path],
    staged: StagedSource,
    *,
    encoding: str,
    delimiter: str | None,
    header: bool,
    columns: Sequence[str] | None,
    lazy: bool = False,
    max_field_bytes: int = 32_768,
    sheet: str | None = None,
) -> None:
    if delimiter == WHITESPACE and not header and not columns:
        raise InvalidParameterError(
            t("ingest.whitespace_names"), hint=t("ingest.whitespace_names_hint")
        )
    tmp_dir = Path(tempfile.gettempdir())
    staged.nul_free = delimiter != WHITESPACE and all(_kind(p) == "csv" for p in files)
    # (first rowid, file label, line of first record, whether lines come from LINE_COLUMN)
    ranges: list[tuple[int, str, int, bool]] = []
    for path in files:
        label = path.name
        kind = _kind(path)
        if path.stat().st_size == 0:
            raise DataValidationError([_empty(label)])
        if kind in {"xlsx", "xls"}:
            ranges.append(_stage_excel(duck, path, staged, kind=kind, sheet=sheet))
            continue
        checked = kind == "csv" and delimiter != WHITESPACE
        rescued = False
        skip = 0
        if checked:
            sql, first_line, rescued = checked_csv(
                duck,
                path,
                staged,
                label=label,
                encoding=encoding,
                delimiter=delimiter,
                header=header,
                columns=columns,
                max_field_bytes=max_field_bytes,
                tmp_dir=tmp_dir,
            )
            # Lines before the header that the sniffer passed over (a title line).
            skip = 0 if rescued else first_line - (2 if header else 1)
            if lazy and len(files) == 1 and not rescued:
                _stage_lazy(duck, sql, staged, label=label, first_line=first_line)
                staged.longest_line = staged.longest_lines.get(str(path))
                staged.rescue = functools.partial(
                    rescue_csv, path, staged, label, encoding, delimiter, header, columns,
                    max_field_bytes, tmp_dir, skip,
                )  # fmt: skip
                return
        elif kind == "csv":
            read_path = path
            if encoding.lower().replace("_", "-") not in UTF8:
                read_path = transcode(path, encoding, tmp_dir)
                staged.temp_paths.append(read_path)
            sql, _, first_line = csv_relation(
                read_path, delimiter=delimiter, header=header, columns=columns
            )
        elif kind == "parquet":
            sql, first_line = f"SELECT * FROM read_parquet({sql_literal(str(path))})", 1
        else:
            sql = (
                f"SELECT * FROM read_json({sql_literal(str(path))}, "
                "format='newline_delimited', records=true)"
            )
            first_line = 1
        start = staged.rows
        try:
            if kind != "csv":
                sql = text_select(duck, sql)
            _append(duck, staged, sql, label)
        except duckdb.Error as exc:
            if not checked or rescued:
                raise duck_error(exc, label) from None
            sql = rescue_csv(
                path, staged, label, encoding, delimiter, header, columns,
                max_field_bytes, tmp_dir, skip,
            )  # fmt: skip
            rescued = True
            try:
                _append(duck, staged, sql, label)
            except duckdb.Error as again:
                raise duck_error(again, label) from None
        count = duck.execute(f"SELECT count(*) FROM {quote(staged.name)}").fetchone()
        staged.rows = int(count[0]) if count else 0
        if staged.rows == start and not staged.violations:
            raise DataValidationError([_empty(label)])
        ranges.append((start, label, first_line, rescued))
    staged.files = [label for _, label, _, _ in ranges]
    lines = [staged.longest_lines.get(str(p)) for p in files]
    staged.longest_line = max(n for n in lines if n is not None) if None not in lines else None
    staged.columns = [c for c in duck.table(staged.name).columns if c != LINE_COLUMN]
    staged.has_line = any(r for *_, r in ranges)
    # ``_file`` and ``_row`` come from rowid: DuckDB keeps insertion order, so rowid is the record
    # number across files; a CASE maps it back to (file, line) without rewriting the table. A
    # rescanned file carries its physical lines in LINE_COLUMN instead.
    line = f"CAST({quote(LINE_COLUMN)} AS BIGINT)"
    rows = [(s, lbl, line if r else f"rowid - {s} + {first}") for s, lbl, first, r in ranges]
    if len(ranges) == 1:
        staged.file_sql = sql_literal(ranges[0][1])
        staged.row_sql = line if ranges[0][3] else f"rowid + {ranges[0][2]}"
        return
    staged.file_sql = (
        "CASE " + " ".join(f"WHEN rowid >= {s} THEN {sql_literal(lbl)}" for s, lbl, _ in rows[::-1])
    ) + " END"
    staged.row_sql = (
        "CASE " + " ".join(f"WHEN rowid >= {s} THEN {expr}" for s, _, expr in rows[::-1]) + " END"
    )


def _stage_excel(
    duck: duckdb.DuckDBPyConnection,
    path: Path,
    staged: StagedSource,
    *,
    kind: str,
    sheet: str | None,
) -> tuple[int, str, int, bool]:
    """Append one sheet of a workbook (:mod:`retain.ingest.excel`); its range for ``_row``."""
    if kind == "xls":
        raise DataValidationError(
            [
                Violation(
                    "legacy_excel",
                    t("ingest.rule.legacy_excel"),
                    file=path.name,
                    hint=t("ingest.hint.legacy_excel"),
                )
            ]
        )
    from retain.ingest.excel import read_sheet

    data = read_sheet(path, sheet=sheet)
    staged.violations.extend(data.violations)
    staged.raw.extend(data.raw)
    start = staged.rows
    view = f"_retain_xlsx_{uuid.uuid4().hex[:12]}"
    release_result(duck)
    duck.register(view, data.table)
    try:
        _append(duck, staged, f"SELECT * FROM {quote(view)}", data.label)
    finally:
        duck.unregister(view)
    staged.rows = start + data.table.num_rows
    if staged.rows == start and not data.violations:
        raise DataValidationError([_empty(data.label)])
    return start, data.label, 2, True


def _empty(label: str) -> Violation:
    return Violation(
        "empty_file", t("ingest.rule.empty_file"), file=label, hint=t("ingest.hint.empty_file")
    )


def _append(duck: duckdb.DuckDBPyConnection, staged: StagedSource, sql: str, label: str) -> None:
    """Add a file's rows to the staged table; files may differ in (optional) columns."""
    rel = duck.sql(sql)
    staged.file_columns[label] = [c for c in rel.columns if c != LINE_COLUMN]
    if not _exists(duck, staged):
        duck.execute(f"CREATE TEMP TABLE {quote(staged.name)} AS {sql}")
        return
    have = set(duck.table(staged.name).columns)
    for c in rel.columns:
        if c not in have:
            duck.execute(f"ALTER TABLE {quote(staged.name)} ADD COLUMN {quote(c)} VARCHAR")
    duck.execute(f"INSERT INTO {quote(staged.name)} BY NAME {sql}")


def _exists(duck: duckdb.DuckDBPyConnection, staged: StagedSource) -> bool:
    row = duck.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [staged.name]
    ).fetchone()
    return bool(row and row[0])


def _stage_lazy(
    duck: duckdb.DuckDBPyConnection, sql: str, staged: StagedSource, *, label: str, first_line: int
) -> None:
    """Describe one CSV file without copying it: its columns, and that it has a record."""
    try:
        staged.columns = staged.columns or list(duck.sql(sql).columns)
        found = duck.execute(f"SELECT count(*) FROM (SELECT 1 FROM ({sql}) LIMIT 1)").fetchone()
    except duckdb.Error as exc:
        raise duck_error(exc, label) from None
    if not found or not found[0]:
        raise DataValidationError(
            [
                Violation(
                    "empty_file",
                    t("ingest.rule.empty_file"),
                    file=label,
                    hint=t("ingest.hint.empty_file"),
                )
            ]
        )
    staged.sql = sql
    staged.files = [label]
    staged.file_sql = sql_literal(label)
    staged.row_sql = f"rowid + {first_line}"


def materialize(duck: duckdb.DuckDBPyConnection, staged: StagedSource) -> None:
    """Copy a lazy source into its staged text table (a no-op when it is staged already).

    Raises the same :class:`~retain.errors.DataValidationError` as eager staging when the file
    cannot be read (a malformed line, bad UTF-8), naming the file and line.
    """
    if staged.sql is None:
        return
    try:
        duck.execute(f"CREATE TEMP TABLE {quote(staged.name)} AS {staged.sql}")
    except duckdb.Error as exc:
        if staged.rescue is None:
            raise duck_error(exc, staged.files[0]) from None
        sql = staged.rescue()
        staged.rescue = None
        try:
            duck.execute(f"CREATE TEMP TABLE {quote(staged.name)} AS {sql}")
        except duckdb.Error as again:
            raise duck_error(again, staged.files[0]) from None
        staged.has_line = True
        staged.row_sql = f"CAST({quote(LINE_COLUMN)} AS BIGINT)"
    count = duck.execute(f"SELECT count(*) FROM {quote(staged.name)}").fetchone()
    staged.rows = int(count[0]) if count else 0
    staged.sql = None
