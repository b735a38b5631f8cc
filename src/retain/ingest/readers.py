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

import codecs
import gzip
import re
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeAlias, cast

import duckdb
import pandas as pd
import pyarrow as pa

from retain.errors import DataValidationError, InvalidParameterError, Violation
from retain.i18n import t

__all__ = [
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
}
_UTF8 = {"utf-8", "utf8", "utf_8", "utf-8-sig", "utf_8_sig"}
_CHUNK = 1 << 20
WHITESPACE = "whitespace"
"""The ``delimiter`` value for runs of spaces and tabs (CDNOW-style fixed-width text)."""


def quote(name: str) -> str:
    """``name`` as a double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


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


def list_files(source: str | Path | Sequence[str | Path]) -> list[Path]:
    """The files named by ``source``; a folder expands to its data files in name order."""
    items = [source] if isinstance(source, (str, Path)) else list(source)
    if not items:
        raise InvalidParameterError(t("ingest.no_source"), hint=t("ingest.no_source_hint"))
    files: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.is_file()
                and not p.name.startswith(".")
                and _kind(p) in {"csv", "parquet", "json"}
                and any(s.lower() in _SUFFIXES for s in p.suffixes)
            )
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


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix.lower() == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def _transcode(path: Path, encoding: str, tmp_dir: Path) -> Path:
    """Copy ``path`` to a UTF-8 file, chunk by chunk; a byte that does not decode is an error."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError:
        raise InvalidParameterError(
            t("ingest.unknown_encoding", encoding=encoding), hint=t("ingest.unknown_encoding_hint")
        ) from None
    out = tmp_dir / f"{uuid.uuid4().hex}.csv"
    line = 1
    with _open_binary(path) as src, out.open("w", encoding="utf-8", newline="") as dst:
        while True:
            chunk = src.read(_CHUNK)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                bad = exc.object[exc.start : exc.start + 4]
                line += exc.object[: exc.start].count(b"\n")
                raise DataValidationError(
                    [
                        Violation(
                            "invalid_encoding",
                            t("ingest.rule.invalid_encoding", encoding=encoding),
                            file=path.name,
                            row=line,
                            value=bad.hex(" "),
                            hint=t("ingest.hint.invalid_encoding"),
                        )
                    ]
                ) from None
            line += text.count("\n")
            dst.write(text)
            if not chunk:
                break
    return out


def _first_line(path: Path) -> str:
    with _open_binary(path) as fh:
        raw = fh.readline()
    return raw.decode("utf-8-sig", errors="replace").strip()


def _csv_relation(
    path: Path, *, delimiter: str | None, header: bool, columns: Sequence[str] | None
) -> tuple[str, list[str] | None, int]:
    """SQL reading ``path`` as text columns, the column names if known, and the first data line."""
    file = _literal(str(path))
    if delimiter == WHITESPACE:
        names = list(columns) if columns else None
        skip = 1 if header else 0
        if header and names is None:
            names = [n for n in re.split(r"\s+", _first_line(path)) if n]
        assert names is not None  # header=False needs explicit names (checked by the caller)
        parts = ", ".join(f"nullif(_f[{i + 1}], '') AS {quote(n)}" for i, n in enumerate(names))
        sql = (
            f"SELECT {parts} FROM (SELECT regexp_split_to_array(trim(_line, E' \\t\\r'), "
            f"'\\s+') AS _f FROM read_csv({file}, columns={{'_line': 'VARCHAR'}}, "
            f"delim=E'\\x1f', quote='', escape='', header=false, auto_detect=false, "
            f"skip={skip}, null_padding=true) WHERE trim(_line, E' \\t\\r') <> '')"
        )
        return sql, names, skip + 1
    options = ["all_varchar=true", f"header={'true' if header else 'false'}"]
    if delimiter:
        delim = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
        options.append(f"delim={_literal(delim)}")
    if columns:
        options.append("names=[" + ", ".join(_literal(c) for c in columns) + "]")
    return f"SELECT * FROM read_csv({file}, {', '.join(options)})", None, 2 if header else 1


def _text_select(duck: duckdb.DuckDBPyConnection, sql: str) -> str:
    """``sql`` with every column cast to text (nested values as JSON, instants in UTC)."""
    rel = duck.sql(sql)
    parts = []
    for name, dtype in zip(rel.columns, rel.dtypes, strict=True):
        kind = str(dtype).upper()
        if kind.startswith(("STRUCT", "MAP", "JSON")) or kind.endswith("[]"):
            parts.append(f"CAST(to_json({quote(name)}) AS VARCHAR) AS {quote(name)}")
        else:
            parts.append(f"CAST({quote(name)} AS VARCHAR) AS {quote(name)}")
    return f"SELECT {', '.join(parts)} FROM ({sql})"


def _duck_error(exc: Exception, file: str) -> DataValidationError:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    line = re.search(r"[Ll]ine:? (\d+)", str(exc))
    if "unicode" in str(exc).lower():
        return DataValidationError(
            [
                Violation(
                    "invalid_encoding",
                    t("ingest.rule.invalid_encoding", encoding="utf-8"),
                    file=file,
                    row=int(line.group(1)) if line else None,
                    hint=t("ingest.hint.invalid_encoding"),
                )
            ]
        )
    return DataValidationError(
        [
            Violation(
                "unreadable_file",
                t("ingest.rule.unreadable_file", reason=text[:300]),
                file=file,
                row=int(line.group(1)) if line else None,
                hint=t("ingest.hint.unreadable_file"),
            )
        ]
    )


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
    duck.register(view, arrow)
    try:
        text = _text_select(duck, f"SELECT * FROM {quote(view)}")
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
) -> None:
    if delimiter == WHITESPACE and not header and not columns:
        raise InvalidParameterError(
            t("ingest.whitespace_names"), hint=t("ingest.whitespace_names_hint")
        )
    tmp_dir = Path(tempfile.gettempdir())
    ranges: list[tuple[int, str, int]] = []  # (first rowid, file label, line of first record)
    for path in files:
        label = path.name
        kind = _kind(path)
        read_path = path
        if path.stat().st_size == 0:
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
        if kind == "csv" and encoding.lower().replace("_", "-") not in _UTF8:
            read_path = _transcode(path, encoding, tmp_dir)
            staged.temp_paths.append(read_path)
        if kind == "csv":
            sql, _, first_line = _csv_relation(
                read_path, delimiter=delimiter, header=header, columns=columns
            )
            if lazy and len(files) == 1 and delimiter != WHITESPACE:
                _stage_lazy(duck, sql, staged, label=label, first_line=first_line)
                return
        elif kind == "parquet":
            sql, first_line = f"SELECT * FROM read_parquet({_literal(str(path))})", 1
        else:
            sql = (
                f"SELECT * FROM read_json({_literal(str(path))}, "
                "format='newline_delimited', records=true)"
            )
            first_line = 1
        try:
            if kind != "csv":
                sql = _text_select(duck, sql)
            start = staged.rows
            if not ranges:
                duck.execute(f"CREATE TEMP TABLE {quote(staged.name)} AS {sql}")
                staged.columns = list(duck.table(staged.name).columns)
            else:
                rel = duck.sql(sql)
                missing = [c for c in staged.columns if c not in rel.columns]
                extra = [c for c in rel.columns if c not in staged.columns]
                if missing or extra:
                    raise DataValidationError(
                        [
                            Violation(
                                "mismatched_files",
                                t(
                                    "ingest.rule.mismatched_files",
                                    first=files[0].name,
                                    missing=", ".join(missing) or "-",
                                    extra=", ".join(extra) or "-",
                                ),
                                file=label,
                                hint=t("ingest.hint.mismatched_files"),
                            )
                        ]
                    )
                cols = ", ".join(quote(c) for c in staged.columns)
                duck.execute(f"INSERT INTO {quote(staged.name)} SELECT {cols} FROM ({sql})")
        except duckdb.Error as exc:
            raise _duck_error(exc, label) from None
        count = duck.execute(f"SELECT count(*) FROM {quote(staged.name)}").fetchone()
        staged.rows = int(count[0]) if count else 0
        if staged.rows == start:
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
        ranges.append((start, label, first_line))
    staged.files = [label for _, label, _ in ranges]
    # ``_file`` and ``_row`` come from rowid: DuckDB keeps insertion order, so rowid is the record
    # number across files; a CASE maps it back to (file, line) without rewriting the table.
    file_expr = (
        "CASE "
        + " ".join(f"WHEN rowid >= {s} THEN {_literal(lbl)}" for s, lbl, _ in reversed(ranges))
        + " END"
    )
    row_expr = (
        "CASE "
        + " ".join(
            f"WHEN rowid >= {s} THEN rowid - {s} + {first}" for s, _, first in reversed(ranges)
        )
        + " END"
    )
    if len(ranges) == 1:
        file_expr = _literal(ranges[0][1])
        row_expr = f"rowid + {ranges[0][2]}"
    staged.file_sql = file_expr
    staged.row_sql = row_expr


def _stage_lazy(
    duck: duckdb.DuckDBPyConnection, sql: str, staged: StagedSource, *, label: str, first_line: int
) -> None:
    """Describe one CSV file without copying it: its columns, and that it has a record."""
    try:
        staged.columns = list(duck.sql(sql).columns)
        found = duck.execute(f"SELECT count(*) FROM (SELECT 1 FROM ({sql}) LIMIT 1)").fetchone()
    except duckdb.Error as exc:
        raise _duck_error(exc, label) from None
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
    staged.file_sql = _literal(label)
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
        raise _duck_error(exc, staged.files[0]) from None
    count = duck.execute(f"SELECT count(*) FROM {quote(staged.name)}").fetchone()
    staged.rows = int(count[0]) if count else 0
    staged.sql = None
