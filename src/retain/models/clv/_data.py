"""Inputs of the CLV models: frames or Ibis tables in, checked float arrays out.

Every model's ``fit`` and prediction method accepts a pandas or polars DataFrame or an Ibis
table. Ibis tables are compressed inside the engine (``group_by`` the model's columns, summing
``weight``) before anything is pulled into Python, so a warehouse of any size fits on a compact
table (DESIGN.md, "sufficient statistics"). Broken data raises
:class:`~retain.errors.DataValidationError` naming the row, the column and the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from retain.errors import DataValidationError, SchemaError, Violation
from retain.facts import missing_columns_error
from retain.i18n import t

__all__ = ["Checked", "as_pandas", "check_columns", "read_input"]

FloatArray = npt.NDArray[np.float64]
Rule = Callable[[dict[str, FloatArray]], tuple[str, str, npt.NDArray[np.bool_]]]


@dataclass(frozen=True)
class Checked:
    """Validated model inputs: one float array per column, plus weights and an index."""

    columns: dict[str, FloatArray]
    weight: FloatArray
    index: pd.Index

    @property
    def n_customers(self) -> float:
        """Total weight (customers represented)."""
        return float(self.weight.sum())

    def __getitem__(self, name: str) -> FloatArray:
        return self.columns[name]


def _is_ibis(data: Any) -> bool:
    return type(data).__module__.startswith("ibis.")


def as_pandas(data: Any, *, columns: Sequence[str], table: str, compress: bool) -> pd.DataFrame:
    """``data`` as a pandas frame holding ``columns`` (+ ``weight``, ``customer_id`` if present).

    With ``compress``, an Ibis table is grouped by ``columns`` in the engine with a ``weight``
    column (the number of customers sharing the row); frames are used as they are.
    """
    if _is_ibis(data):
        present = set(data.columns)
        _require(present, columns, table)
        if compress:
            w = data["weight"].sum() if "weight" in present else data.count()
            pulled: pd.DataFrame = data.group_by(list(columns)).aggregate(weight=w).to_pandas()
        else:
            keep = [c for c in (*columns, "weight", "customer_id") if c in present]
            pulled = data.select(keep).to_pandas()
        # Rows of an engine result have no stable position: violations name no row.
        pulled.attrs["retain_rows"] = False
        return pulled
    if type(data).__module__.startswith("polars"):
        data = data.to_pandas()
    if not isinstance(data, pd.DataFrame):
        raise SchemaError(
            [
                Violation(
                    rule="input_type",
                    message=t("clv.input_type", table=table, kind=type(data).__name__),
                    hint=t("clv.input_type_hint"),
                )
            ]
        )
    _require(set(data.columns), columns, table)
    return data


def _require(present: set[str], columns: Sequence[str], table: str) -> None:
    missing = [c for c in columns if c not in present]
    if missing:
        raise missing_columns_error(
            table,
            missing,
            present=sorted(present),
            hint=t("clv.missing_column_hint", columns=", ".join(columns)),
        )


def _violations(
    frame: pd.DataFrame,
    mask: npt.NDArray[np.bool_],
    rule: str,
    column: str,
    message: str,
    table: str,
) -> list[Violation]:
    rows = np.flatnonzero(mask)
    positional = frame.attrs.get("retain_rows", True)
    out: list[Violation] = []
    for pos in rows[: DataValidationError.shown]:
        value = frame[column].iloc[pos]
        out.append(
            Violation(
                rule=rule,
                message=message.format(value=value),
                file=table,
                row=int(pos) if positional else None,
                column=column,
                value=value if not isinstance(value, np.generic) else value.item(),
                hint=t(f"clv.rule_{rule}_hint"),
            )
        )
    return out


def check_columns(
    frame: pd.DataFrame,
    *,
    columns: Sequence[str],
    table: str,
    rules: Sequence[Rule] = (),
    nonnegative: Sequence[str] = (),
    integer: Sequence[str] = (),
) -> Checked:
    """Check types and rules of ``columns`` in ``frame`` and return float arrays.

    Every column must be numeric and finite; ``nonnegative`` columns >= 0; ``integer`` columns
    whole numbers; ``weight`` (optional) > 0. ``rules`` add model-specific checks, each returning
    ``(rule, column, mask_of_bad_rows)``. All broken rules are collected, then raised together.
    """
    arrays: dict[str, FloatArray] = {}
    for name in (*columns, *(["weight"] if "weight" in frame.columns else [])):
        series = frame[name]
        if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
            raise SchemaError(
                [
                    Violation(
                        rule="not_numeric",
                        message=t(
                            "clv.not_numeric", table=table, column=name, dtype=str(series.dtype)
                        ),
                        file=table,
                        column=name,
                        hint=t("clv.rule_not_numeric_hint"),
                    )
                ]
            )
        plain = series.dtype == np.float64  # a numpy float column: a view, no copy
        arrays[name] = (
            series.to_numpy() if plain else series.to_numpy(dtype=np.float64, na_value=np.nan)
        )
    found: list[Violation] = []
    total = 0

    def collect(rule: str, column: str, mask: npt.NDArray[np.bool_]) -> None:
        nonlocal total
        n = int(np.count_nonzero(mask))
        if n:
            total += n
            message = t(f"clv.rule_{rule}", column=column, value="{value}")
            found.extend(_violations(frame, mask, rule, column, message, table))

    finite = arrays
    if not all(np.isfinite(v).all() for v in arrays.values()):
        for name, values in arrays.items():
            collect("not_finite", name, ~np.isfinite(values))
        finite = {k: np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0) for k, v in arrays.items()}
    for name in nonnegative:
        collect("negative", name, finite[name] < 0)
    for name in integer:
        collect("not_integer", name, finite[name] != np.round(finite[name]))
    if "weight" in finite:
        collect("weight_not_positive", "weight", finite["weight"] <= 0)
    for rule_fn in rules:
        rule, column, mask = rule_fn(finite)
        collect(rule, column, mask)
    if found:
        raise DataValidationError(found, total=total)
    weight = arrays.pop("weight", None)
    if weight is None:
        weight = np.ones(len(frame), dtype=np.float64)
    index = pd.Index(frame["customer_id"]) if "customer_id" in frame.columns else frame.index
    return Checked(columns=arrays, weight=weight, index=index)


def read_input(
    data: Any,
    *,
    columns: Sequence[str],
    table: str,
    compress: bool,
    rules: Sequence[Rule] = (),
    nonnegative: Sequence[str] = (),
    integer: Sequence[str] = (),
) -> Checked:
    """:func:`as_pandas` then :func:`check_columns`; for ``fit``, rows are also de-duplicated.

    De-duplication sums the weights of identical rows (a hash group-by), which is exact for
    likelihoods that depend on the rows only through their values. Input that already carries
    a ``weight`` column is taken as compressed and used as it is.
    """
    frame = as_pandas(data, columns=columns, table=table, compress=compress)
    checked = check_columns(
        frame,
        columns=columns,
        table=table,
        rules=rules,
        nonnegative=nonnegative,
        integer=integer,
    )
    if not compress or len(frame) < 2 or "weight" in frame.columns:
        return checked  # a weight column means the rows are (already) a compressed summary
    counted = _count_rows([checked.columns[c] for c in columns])
    if counted is not None:
        values, weight = counted
        return Checked(
            columns=dict(zip(columns, values, strict=True)),
            weight=weight,
            index=pd.RangeIndex(weight.size),
        )
    grouped = (
        pd.DataFrame({**checked.columns, "weight": checked.weight})
        .groupby(list(columns), sort=False, observed=True)["weight"]
        .sum()
        .reset_index()
    )
    return Checked(
        columns={c: grouped[c].to_numpy(dtype=np.float64) for c in columns},
        weight=grouped["weight"].to_numpy(dtype=np.float64),
        index=pd.RangeIndex(len(grouped)),
    )


_SCALES = (1.0, 7.0, 365.25 / 12)  # days, weeks, months: rfm_summary's units (rfm.UNIT_DAYS)
_CHUNK = 1 << 16  # rows per step: the scratch arrays stay in the CPU cache


def _scale(values: FloatArray) -> tuple[float, int, int] | None:
    """``(s, lo, size)`` when ``values * s`` look like integers from ``lo`` (on a sample).

    A summary in days, weeks or months is whole days divided by the unit, so multiplying back
    and rounding gives the day counts; :func:`_count_rows` checks every value on the way.
    """
    sample = values[:4096]
    for s in _SCALES:
        k = np.rint(sample * s)
        if np.array_equal(k / s, sample):
            lo, hi = float(np.rint(values.min() * s)), float(np.rint(values.max() * s))
            if hi - lo < 1 << 24:
                return s, int(lo), int(hi - lo) + 1
    return None


def _count_rows(columns: list[FloatArray]) -> tuple[list[FloatArray], FloatArray] | None:
    """Distinct rows of ``columns`` and how many times each occurs, by counting.

    Each column is turned into small integers (value times its unit, see :func:`_scale`) and
    the row into one mixed-radix key, so one ``bincount`` groups the rows: no hashing or
    sorting of 10 million floats. Rows come out in lexicographic order, and the values are the
    input's values exactly (each is checked to survive the round trip). ``None`` when a column
    has no such unit or the keys would not fit a table of counts; the caller then groups with
    pandas.
    """
    n = columns[0].size
    scales = [_scale(c) for c in columns]
    total = 1
    for found in scales:
        if found is None:
            return None
        total *= found[2]
    if total > max(2 * n, 1 << 20) or total > 1 << 24:
        return None
    # key = sum of (k_i - lo_i) * stride_i, built in floats (exact: total < 2**24) and shifted
    # by the constant sum of lo_i * stride_i at the end of each chunk
    offset = bound = 0
    for found in scales:
        assert found is not None
        _, lo, size = found
        offset = offset * size + lo
        bound = bound * size + max(abs(lo), abs(lo + size - 1))
    if bound >= 1 << 52:  # the float key would not be exact
        return None
    key = np.empty(n, dtype=np.int64)
    step = min(_CHUNK, n)
    k, back, acc = np.empty(step), np.empty(step), np.empty(step)
    for start in range(0, n, step):
        m = min(step, n - start)
        acc[:m] = 0.0
        for values, found in zip(columns, scales, strict=True):
            assert found is not None
            s, _, size = found
            chunk = values[start : start + m]
            np.multiply(chunk, s, out=k[:m])
            np.rint(k[:m], out=k[:m])
            np.divide(k[:m], s, out=back[:m])
            if not np.array_equal(back[:m], chunk):
                return None
            acc[:m] *= size
            acc[:m] += k[:m]
        acc[:m] -= offset
        key[start : start + m] = acc[:m]
    counts = np.bincount(key, minlength=total)
    del key
    rows = np.flatnonzero(counts)
    weight = counts[rows].astype(np.float64)
    out: list[FloatArray] = []
    for found in reversed(scales):
        assert found is not None
        s, lo, size = found
        out.append((rows % size + lo) / s)
        rows = rows // size
    return out[::-1], weight
