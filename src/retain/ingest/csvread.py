"""Files as SQL relations of text: CSV (any delimiter, encoding, or malformed lines), read errors.

:mod:`retain.ingest.readers` stages sources; this module holds what reading one file as text
takes: the ``read_csv`` SQL (or the whitespace splitter), transcoding to UTF-8 in chunks, the
check that sends a suspect CSV to the record-by-record rescan (:mod:`~retain.ingest.csvcheck`),
and turning DuckDB's read errors into violations that name the file and line.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import re
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

import duckdb

from retain.errors import DataValidationError, InvalidParameterError, Violation
from retain.i18n import t
from retain.ingest.csvcheck import (
    LINE_COLUMN,
    longest_plain_line,
    looks_malformed,
    rescan,
    sniffed_dialect,
)

if TYPE_CHECKING:
    from retain.ingest.readers import StagedSource

__all__ = [
    "UTF8",
    "WHITESPACE",
    "checked_csv",
    "csv_relation",
    "duck_error",
    "open_binary",
    "quote",
    "release_result",
    "rescue_csv",
    "sql_literal",
    "text_select",
    "transcode",
]


UTF8 = {"utf-8", "utf8", "utf_8", "utf-8-sig", "utf_8_sig"}


_CHUNK = 1 << 20


WHITESPACE = "whitespace"
"""The ``delimiter`` value for runs of spaces and tabs (CDNOW-style fixed-width text)."""


def quote(name: str) -> str:
    """``name`` as a double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def release_result(duck: duckdb.DuckDBPyConnection) -> None:
    """Finish any result of ``duck`` left half-read, before registering a frame or function.

    DuckDB 2.0 refuses ``register`` and ``create_function`` while an ``execute`` result is not
    read to its end (``fetchone`` on a count leaves it open); 1.5 allowed it. Running a trivial
    statement to completion replaces the pending result on both versions.
    """
    duck.execute("SELECT 1").fetchall()


def sql_literal(value: str) -> str:
    """``value`` as a single-quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def open_binary(path: Path) -> IO[bytes]:
    """``path`` opened for reading bytes, decompressed when it ends in ``.gz``."""
    if path.suffix.lower() == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def transcode(path: Path, encoding: str, tmp_dir: Path) -> Path:
    """Copy ``path`` to a UTF-8 file, chunk by chunk; a byte that does not decode is an error."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError:
        raise InvalidParameterError(
            t("ingest.unknown_encoding", encoding=encoding), hint=t("ingest.unknown_encoding_hint")
        ) from None
    out = tmp_dir / f"{uuid.uuid4().hex}.csv"
    line = 1
    with open_binary(path) as src, out.open("w", encoding="utf-8", newline="") as dst:
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


def first_line(path: Path) -> str:
    with open_binary(path) as fh:
        raw = fh.readline()
    return raw.decode("utf-8-sig", errors="replace").strip()


def csv_relation(
    path: Path,
    *,
    delimiter: str | None,
    header: bool,
    columns: Sequence[str] | None,
    skip: int = 0,
) -> tuple[str, list[str] | None, int]:
    """SQL reading ``path`` as text columns, the column names if known, and the first data line.

    ``skip`` lines before the header (a title line, as the sniffer found) are passed over and
    counted, so the first data line is the file's physical line.
    """
    file = sql_literal(str(path))
    if delimiter == WHITESPACE:
        names = list(columns) if columns else None
        skip = 1 if header else 0
        if header and names is None:
            names = [n for n in re.split(r"\s+", first_line(path)) if n]
        assert names is not None  # header=False needs explicit names (checked by the caller)
        parts = ", ".join(f"nullif(_f[{i + 1}], '') AS {quote(n)}" for i, n in enumerate(names))
        sql = (
            f"SELECT {parts} FROM (SELECT regexp_split_to_array(trim(_line, E' \\t\\r'), "
            f"'\\s+') AS _f FROM read_csv({file}, columns={{'_line': 'VARCHAR'}}, "
            f"delim=E'\\x1f', quote='', escape='', header=false, auto_detect=false, "
            f"skip={skip}, null_padding=true) WHERE trim(_line, E' \\t\\r') <> '')"
        )
        return sql, names, skip + 1
    # Strict: a line with too few or too many fields is an error (sending the file to the
    # rescan), never padded with NULLs or dropped, whatever the sniffer guessed.
    options = [
        "all_varchar=true",
        f"header={'true' if header else 'false'}",
        "strict_mode=true",
        "null_padding=false",
    ]
    if delimiter:
        delim = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
        options.append(f"delim={sql_literal(delim)}")
    if columns:
        options.append("names=[" + ", ".join(sql_literal(c) for c in columns) + "]")
    if skip:
        options.append(f"skip={skip}")
    first = skip + (2 if header else 1)
    return f"SELECT * FROM read_csv({file}, {', '.join(options)})", None, first


def text_select(duck: duckdb.DuckDBPyConnection, sql: str) -> str:
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


def duck_error(exc: Exception, file: str) -> DataValidationError:
    """DuckDB failing to read ``file`` as a violation naming it (and the line, when known)."""
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


def checked_csv(
    duck: duckdb.DuckDBPyConnection,
    path: Path,
    staged: StagedSource,
    *,
    label: str,
    encoding: str,
    delimiter: str | None,
    header: bool,
    columns: Sequence[str] | None,
    max_field_bytes: int,
    tmp_dir: Path,
) -> tuple[str, int, bool]:
    """SQL reading a CSV file, its first line, and whether it had to be rescanned.

    The fast path reads the file (transcoded to UTF-8 when needed) with DuckDB after a cheap
    check of its lines (:func:`~retain.ingest.csvcheck.looks_malformed`); a byte that does not
    decode, a line that may be malformed, or DuckDB failing on the file sends it to the rescan.
    """

    def rescued(skip: int = 0) -> tuple[str, int, bool]:
        sql = rescue_csv(
            path, staged, label, encoding, delimiter, header, columns,
            max_field_bytes, tmp_dir, skip,
        )  # fmt: skip
        return sql, 2, True

    read_path = path
    if encoding.lower().replace("_", "-") not in UTF8:
        try:
            read_path = transcode(path, encoding, tmp_dir)
        except DataValidationError:
            return rescued()
        staged.temp_paths.append(read_path)
    try:
        delim, quotechar, skip = sniffed_dialect(duck, read_path, delimiter, header=header)
        if skip and not _preamble(read_path, skip, delim, header=header and not columns):
            # The sniffer also "skips" lines when a ragged row outvotes the real header: those
            # are records, left to the line check and the rescan exactly as before.
            skip = 0
        sql, _, first_line = csv_relation(
            read_path, delimiter=delimiter, header=header, columns=columns, skip=skip
        )
        found = [str(c) for c in duck.sql(sql).columns]
        count = len(found)
    except duckdb.Error:
        return rescued()
    if delimiter is None and header and count == 1 and header_splits(path, encoding, skip):
        # DuckDB guessed one column where the header names several: a ragged line in its
        # sample (a short row in a small file) outvoted the rest. Read whole, the file would
        # be refused for missing columns with no line named; the rescan finds the row.
        return rescued()
    longest = None
    if not skip:
        longest = longest_plain_line(read_path, quotechar, delimiter=delim, columns=count)
    if longest is not None:
        staged.longest_lines[str(path)] = longest
        staged.columns = found  # the lazy path need not bind the file again
        return sql, first_line, False
    if looks_malformed(
        duck,
        read_path,
        columns=count,
        delimiter=delim,
        quotechar=quotechar,
        skip=skip + (1 if header else 0),
    ):
        return rescued(skip)
    staged.columns = found
    return sql, first_line, False


def rescue_csv(
    path: Path,
    staged: StagedSource,
    label: str,
    encoding: str,
    delimiter: str | None,
    header: bool,
    columns: Sequence[str] | None,
    max_field_bytes: int,
    tmp_dir: Path,
    skip: int = 0,
) -> str:
    """Rescan ``path`` in Python; record its bad records; SQL reading the clean file.

    The first ``skip`` lines (a title before the header, found by the sniffer) are passed over.
    """
    # The header line is the surest guide to the delimiter of a file DuckDB stumbled on.
    delim = delimiter if delimiter is not None else guess_delimiter(path, encoding, skip)
    delim = {"\\t": "\t", "tab": "\t"}.get(delim, delim)
    result = rescan(
        path,
        label=label,
        encoding=encoding,
        delimiter=delim,
        quotechar='"',
        header=header,
        columns=list(columns) if columns else None,
        max_field_bytes=max_field_bytes,
        tmp_dir=tmp_dir,
        skip=skip,
    )
    staged.temp_paths.append(result.path)
    staged.violations.extend(result.violations)
    staged.raw.extend(result.raw)
    spec = ", ".join(f"{sql_literal(c)}: 'VARCHAR'" for c in [*result.columns, LINE_COLUMN])
    return (
        f"SELECT * FROM read_csv({sql_literal(str(result.path))}, header=true, delim=',', "
        f"quote='\"', escape='\"', auto_detect=false, columns={{{spec}}}, "
        f"max_line_size={max(2 * max_field_bytes + 16, 1 << 21) * (len(result.columns) + 1)}, "
        "strict_mode=true)"
    )


def header_splits(path: Path, encoding: str, skip: int = 0) -> bool:
    """Whether the header line splits into several fields on :func:`guess_delimiter`'s guess."""
    first = _line_after(path, encoding, skip).lstrip("\ufeff")
    delimiter = guess_delimiter(path, encoding, skip)
    fields = next(csv.reader([first.rstrip("\r\n")], delimiter=delimiter))
    return len(fields) > 1


def guess_delimiter(path: Path, encoding: str, skip: int = 0) -> str:
    """The most common of , ; tab | in the header line (when DuckDB cannot sniff the file)."""
    first = _line_after(path, encoding, skip)
    return max([",", ";", "\t", "|"], key=first.count)


def _preamble(path: Path, skip: int, delimiter: str, *, header: bool = True) -> bool:
    """Whether the first ``skip`` lines of the UTF-8 ``path`` are a title.

    A title line (``Orders export 2024``) or a blank line before the header is what the sniffer
    rightly passes over. With a ``header`` (named by the file), so are one or two lines holding
    fewer delimiters than the line after them (``Sales report, Q1 2024``) when the next
    :data:`_TITLE_RECORDS` lines hold as many as that header: DuckDB reads past them either
    way, and only counting them keeps line numbers right. Any other skipped line holding the
    delimiter is a record or the real header, passed over because a ragged row outvoted it
    (a long last row): left to the line check and the rescan.
    """
    mark = delimiter.encode("utf-8")
    with open_binary(path) as fh:
        lines = [fh.readline() for _ in range(skip + 1 + _TITLE_RECORDS)]
    if all(mark not in line for line in lines[:skip]):
        return True
    fields = lines[skip].count(mark)
    after = [line for line in lines[skip + 1 :] if line.strip()]
    return (
        header
        and skip <= 2
        and len(after) == _TITLE_RECORDS
        and all(line.count(mark) < fields for line in lines[:skip])
        and all(line.count(mark) == fields for line in after)
    )


_TITLE_RECORDS = 3
"""Records after the header that must match it before a title with delimiters is passed over."""


def _line_after(path: Path, encoding: str, skip: int) -> str:
    """The line of ``path`` after its first ``skip`` lines, decoded leniently."""
    with open_binary(path) as fh:
        for _ in range(skip):
            fh.readline()
        return fh.readline().decode(encoding, errors="replace")
