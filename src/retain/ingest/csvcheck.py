"""Malformed CSV records: a cheap check on the fast path, and a Python rescan that isolates them.

DuckDB's CSV reader cannot be trusted to notice a malformed record: a short row loads padded
with NULLs, a long row can be dropped, ``"x"y`` and an unclosed quote are accepted, and what it
notices depends on the format it guessed. So the loader keeps DuckDB's fast read and, when
:func:`looks_malformed` finds a suspicious line (a cheap one-column pass of DuckDB over the
lines), when DuckDB fails on the file, or when a byte does not decode, it rescans just that file
here (:func:`rescan`): record by record, counting physical lines (a quoted field spanning lines
counts every line), decoding line by line so that CP932 or EUC-KR files are checked in their own
encoding. Good records go to a clean UTF-8 file tagged with their original line
(:data:`LINE_COLUMN`), which then takes the normal path; each bad record becomes a
:class:`~retain.errors.Violation` (``ragged_row``, ``bad_quoting``, ``bad_encoding``,
``field_too_large``, ``nul_byte``) with its file, line and raw text.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

import duckdb
import numpy as np

from retain.errors import Violation
from retain.i18n import t

__all__ = ["LINE_COLUMN", "Rescan", "longest_plain_line", "looks_malformed", "plain_text", "rescan"]

LINE_COLUMN = "_retain_line"
"""Column of a clean file holding each record's first physical line in the original file."""

_PLAIN_CHUNK = 1 << 24
"""Bytes read at a time by :func:`plain_text`."""

_RAW_LIMIT = 2000
"""Characters of a bad record kept in ``rejects`` (the whole record may be megabytes)."""


@dataclass
class Rescan:
    """What :func:`rescan` found: the clean file, its column names and the bad records."""

    path: Path
    columns: list[str]
    rows: int = 0
    violations: list[Violation] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    """The text of each bad record (same order as ``violations``), cut to a few kB."""


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix.lower() == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def sniffed_dialect(
    duck: duckdb.DuckDBPyConnection, path: Path, delimiter: str | None, *, header: bool = True
) -> tuple[str, str, int]:
    """The delimiter (given, or DuckDB's guess), quote character and skipped lines of a CSV.

    The skipped lines are those DuckDB's sniffer passes over before the header (or the first
    record): a title line such as ``Orders export 2024``, blank lines. The reader must be told
    them (``skip=``) and the line numbers shifted by them, or every later line is named too low.
    """
    options = [
        f"header={'true' if header else 'false'}",
        "all_varchar=true",
        "strict_mode=true",
        "null_padding=false",
    ]
    if delimiter is not None:
        delim = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
        options.append(f"delim={_literal(delim)}")
    row = duck.execute(
        f"SELECT Delimiter, Quote, SkipRows FROM sniff_csv({_literal(str(path))}, "
        f"{', '.join(options)})"
    ).fetchone()
    delim = delimiter if delimiter is not None else (str(row[0]) if row and row[0] else ",")
    quotechar = '"'
    if delimiter is None and row and row[1] and len(str(row[1])) == 1 and str(row[1]) != "\x00":
        quotechar = str(row[1])
    skip = int(row[2]) if row and row[2] else 0
    return {"\\t": "\t", "tab": "\t"}.get(delim, delim), quotechar, skip


def plain_text(path: Path, quotechar: str, *, delimiter: str, columns: int) -> bool:
    """Whether ``path`` is plain (see :func:`longest_plain_line`)."""
    return longest_plain_line(path, quotechar, delimiter=delimiter, columns=columns) is not None


def longest_plain_line(path: Path, quotechar: str, *, delimiter: str, columns: int) -> int | None:
    """Whether ``path`` is plain: no quote, NUL or stray CR, ``columns - 1`` delimiters a line.

    Plain: no ``quotechar``, no NUL, no CR except before a LF, and ``columns - 1``
    ``delimiter`` on every line (the header's included).

    Such a file breaks no rule of :func:`looks_malformed`, so the line check is skipped for it:
    a few vectorised passes over the bytes instead of a DuckDB pass over every line. The count
    of delimiters must be checked here, not left to DuckDB's strict read: that read accepts a
    last line with one delimiter too many (dropping its empty field), and lets a ragged line in
    its sample change the number of columns it reads. A blank line, a delimiter that is not one
    byte and a gzipped file are not plain (they take the line check).

    Returns the length in bytes of the longest line (no field of the file is longer), or
    ``None`` when the file is not plain.
    """
    marks = quotechar.encode("utf-8")
    delim = delimiter.encode("utf-8")
    if path.suffix.lower() == ".gz" or len(marks) != 1 or len(delim) != 1 or columns < 1:
        return None
    expected = columns - 1
    # One reused buffer, numpy views over it and only the short line split by a chunk's end
    # copied: fresh 16 MB objects per chunk cost more in page faults than the checks.
    buf = bytearray(_PLAIN_CHUNK)
    view = memoryview(buf)
    after_cr = False
    carry = b""
    longest = 0
    with path.open("rb") as fh:
        while n := fh.readinto(buf):
            if buf.find(marks, 0, n) >= 0 or buf.find(b"\0", 0, n) >= 0:
                return None
            if after_cr and buf[0] != 0x0A:
                return None
            if buf.find(b"\r", 0, n) >= 0:
                crs = buf.count(b"\r", 0, n)
                ends_cr = buf[n - 1] == 0x0D
                if crs - ends_cr != buf.count(b"\r\n", 0, n):
                    return None
            after_cr = buf[n - 1] == 0x0D
            first = buf.find(b"\n", 0, n) + 1
            if not first:
                carry += bytes(view[:n])
                continue
            # The first line: begun by the previous chunk (``carry``), completed by this one.
            head = carry + bytes(view[:first])
            longest = max(longest, len(head))
            if _delimiters_per_line(head, delim[0], expected) is None:
                return None
            cut = buf.rfind(b"\n", 0, n) + 1
            if cut > first:
                found = _delimiters_per_line(view[first:cut], delim[0], expected)
                if found is None:
                    return None
                longest = max(longest, found)
            carry = bytes(view[cut:n])
    if after_cr:
        return None
    if carry and _delimiters_per_line(carry + b"\n", delim[0], expected) is None:
        return None
    return max(longest, len(carry))


def _delimiters_per_line(text: bytes | memoryview, delimiter: int, expected: int) -> int | None:
    """The longest line of ``text`` if each holds exactly ``expected`` ``delimiter`` bytes.

    ``text`` is whole lines, each ending in LF; ``None`` when a line holds another number of
    delimiters. With none expected: ``None`` when a line is blank.
    """
    if not text:
        return 0
    data = np.frombuffer(text, dtype=np.uint8)
    ends = np.flatnonzero(data == 0x0A)
    found = np.flatnonzero(data == delimiter)
    if found.size != expected * ends.size:
        return None
    previous = np.concatenate(([-1], ends[:-1]))
    longest = int((ends - previous).max()) if ends.size else 0
    if expected == 0:  # one column: a blank line is for the line check to judge
        length = ends - previous - 1 - (data[np.maximum(ends - 1, 0)] == 0x0D)
        return longest if bool((length > 0).all()) else None
    # As many delimiters as lines times ``expected``: the k-th run of ``expected`` of them
    # lies within line k exactly when each line holds ``expected``.
    runs = found.reshape(ends.size, expected)
    return longest if (runs[:, 0] > previous).all() and (runs[:, -1] < ends).all() else None


def looks_malformed(
    duck: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    columns: int,
    delimiter: str,
    quotechar: str,
    skip: int,
) -> bool:
    """Whether a line of the UTF-8 CSV ``path`` may not be a well-formed record of ``columns``.

    The first ``skip`` lines (a title, the header) are not checked.

    One DuckDB pass reads each line as a single text column: a line without quotes must hold
    exactly ``columns - 1`` delimiters; a line with quotes must be a sequence of well-formed
    (quoted or bare) fields with that many delimiters outside the quotes; no line may hold a NUL.
    A quoted field spanning lines makes its lines fail too, which only costs a rescan. Any error
    reading the lines counts as malformed.
    """
    d, q = _literal(delimiter), _literal(quotechar)
    esc = {"\\": "\\\\", "^": "\\^", "$": "\\$", ".": "\\.", "|": "\\|", "?": "\\?"}
    rd = "".join(esc.get(c, c) for c in delimiter)
    rq = "".join(esc.get(c, c) for c in quotechar)
    field_re = f"({rq}([^{rq}]|{rq}{rq})*{rq}|[^{rq}{rd}]*)"
    record_re = _literal(f"{field_re}({rd}{field_re})*")
    quoted_re = _literal(f"{rq}([^{rq}]|{rq}{rq})*{rq}")
    lines = (
        f"SELECT l FROM read_csv({_literal(str(path))}, columns={{'l': 'VARCHAR'}}, "
        "delim=E'\\x1f', quote='', escape='', header=false, auto_detect=false, "
        f"skip={skip}, null_padding=false, strict_mode=true) WHERE l IS NOT NULL"
    )
    if len(delimiter) == 1 and len(quotechar) == 1 and columns <= 1000:
        # The usual line passes one regular expression: no quote, no NUL, no CR but a final
        # one, and exactly ``columns - 1`` delimiters. Only a line failing it (quoted fields,
        # a CR inside) takes the full check below, which would pass such a line anyway; this
        # spares trimming and counting every line (3.0 s -> 0.8 s CPU on 3M lines).
        plain = "[^" + "".join(f"\\x{{{ord(c):x}}}" for c in (delimiter, quotechar, "\0", "\r"))
        plain += "]*"
        repeat = f"(\\x{{{ord(delimiter):x}}}{plain}){{{columns - 1}}}" if columns > 1 else ""
        pattern = _literal(plain + repeat + "\\r?")
        lines += f" AND NOT regexp_full_match(l, {pattern})"
    sql = (
        f"SELECT 1 FROM (SELECT rtrim(l, E'\\r') AS l FROM ({lines})) "
        f"WHERE l <> '' AND (contains(l, chr(0)) OR CASE WHEN contains(l, {q}) "
        f"THEN NOT regexp_full_match(l, {record_re}) OR strlen(regexp_replace(l, {quoted_re}, "
        f"'', 'g')) - strlen(replace(regexp_replace(l, {quoted_re}, '', 'g'), {d}, '')) "
        f"<> {columns - 1} ELSE strlen(l) - strlen(replace(l, {d}, '')) <> {columns - 1} END) "
        "LIMIT 1"
    )
    try:
        return duck.execute(sql).fetchone() is not None
    except duckdb.Error:
        return True


def _physical_lines(path: Path, encoding: str) -> Iterator[tuple[str | None, bytes]]:
    """Each physical line of ``path``: its text (``None`` when it does not decode) and bytes."""
    with _open_binary(path) as fh:
        first = True
        for raw in fh:
            data = raw
            if first and encoding.lower().replace("_", "-") in {"utf-8", "utf8", "utf-8-sig"}:
                data = raw.removeprefix(codecs.BOM_UTF8)
            first = False
            try:
                yield data.decode(encoding), raw
            except UnicodeDecodeError:
                yield None, raw


def rescan(
    path: Path,
    *,
    label: str,
    encoding: str,
    delimiter: str,
    quotechar: str,
    header: bool,
    columns: list[str] | None,
    max_field_bytes: int,
    tmp_dir: Path,
    skip: int = 0,
) -> Rescan:
    """Split ``path`` into a clean UTF-8 CSV of its good records and the bad ones.

    The first ``skip`` physical lines (a title before the header) are passed over, still
    counted in the line numbers.

    The clean file has the header (``columns`` when given) plus :data:`LINE_COLUMN`, the first
    physical line of each record in the original file, so errors found later still point there.
    A bad record that spans several lines is reported at its first line and the scan resumes on
    the line after it, so an unclosed quote costs one record, not the rest of the file.
    """
    # A field above the limit is reported as field_too_large, so let csv read up to beyond it.
    csv.field_size_limit(max(csv.field_size_limit(), 4 * max_field_bytes + 1024))
    lines = list(_physical_lines(path, encoding))
    out = Rescan(tmp_dir / f"{uuid.uuid4().hex}.csv", list(columns or []))
    expected = len(columns) if columns else None
    cap = max_field_bytes * max(expected or 1, 1) + 2
    with out.path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        wrote_header = False
        i = min(skip, len(lines))
        while i < len(lines):
            start = i
            text, raw = lines[i]
            i += 1
            if text is None:
                out.violations.append(_bad_encoding(label, start + 1, raw, encoding))
                out.raw.append(raw.decode(encoding, errors="replace")[:_RAW_LIMIT])
                continue
            parts = [text]
            size = len(raw)
            bad_rule: str | None = None
            while sum(p.count(quotechar) for p in parts) % 2:
                if i >= len(lines) or size > cap:
                    bad_rule = "bad_quoting"  # a quote left open to the end or for too long
                    break
                more, more_raw = lines[i]
                if more is None:
                    bad_rule = "bad_encoding"
                    break
                parts.append(more)
                size += len(more_raw)
                i += 1
            record = "".join(parts).rstrip("\r\n")
            if bad_rule is None and not record.strip():
                continue
            fields: list[str] = []
            if bad_rule is None:
                try:
                    fields = next(
                        csv.reader([record], delimiter=delimiter, quotechar=quotechar, strict=True)
                    )
                except csv.Error as exc:
                    too_large = "field larger" in str(exc)
                    bad_rule = "field_too_large" if too_large else "bad_quoting"
            if bad_rule is None and expected is None and header and not wrote_header:
                expected = len(fields)
                out.columns = out.columns or fields
                cap = max_field_bytes * expected + 2
                writer.writerow([*out.columns, LINE_COLUMN])
                wrote_header = True
                continue
            if not wrote_header:
                if header:
                    header = False  # the header itself was replaced by ``columns``
                    continue
                writer.writerow([*out.columns, LINE_COLUMN])
                wrote_header = True
            found = len(fields)
            if bad_rule is None:
                if any("\x00" in f for f in fields):
                    bad_rule = "nul_byte"
                elif any(len(f.encode("utf-8")) > max_field_bytes for f in fields):
                    bad_rule = "field_too_large"
                elif expected is not None and found != expected:
                    bad_rule = "ragged_row"
            if bad_rule is None:
                writer.writerow([*fields, start + 1])
                out.rows += 1
                continue
            if len(parts) > 1:
                i = start + 1  # resume after the first line of a bad multi-line record
            out.violations.append(
                _violation(bad_rule, label, start + 1, found, expected, max_field_bytes, encoding)
            )
            out.raw.append(record[:_RAW_LIMIT])
        if not wrote_header and out.columns:
            writer.writerow([*out.columns, LINE_COLUMN])
    return out


def _bad_encoding(label: str, line: int, raw: bytes, encoding: str) -> Violation:
    return Violation(
        "bad_encoding",
        t("ingest.rule.bad_encoding", encoding=encoding),
        file=label,
        row=line,
        value=raw[:40].hex(" "),
        hint=t("ingest.hint.bad_encoding"),
    )


def _violation(
    rule: str,
    label: str,
    line: int,
    found: int,
    expected: int | None,
    max_field_bytes: int,
    encoding: str,
) -> Violation:
    if rule == "ragged_row":
        message = t("ingest.rule.ragged_row", found=found, expected=expected)
    elif rule == "field_too_large":
        message = t("ingest.rule.field_too_large", maximum=max_field_bytes)
    elif rule == "bad_encoding":
        message = t("ingest.rule.bad_encoding", encoding=encoding)
    else:
        message = t(f"ingest.rule.{rule}")
    return Violation(rule, message, file=label, row=line, hint=t(f"ingest.hint.{rule}"))
