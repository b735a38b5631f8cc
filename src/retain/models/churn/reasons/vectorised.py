"""Reasons for a whole chunk at once: the rule table read over columns, JSON written by kernels.

Batch scoring words the reasons of every customer; doing that row by row in Python costs more
than the trees. Here each rule of :mod:`.rules` is read over whole columns instead: every
variant becomes a mask (the rows where its conditions hold) and parameter columns, tried in
the rule's order, so a row gets the variant :func:`.render.rule_reason` would give it. Every
constant piece of text (each variant's ``{"key":...,"params":{`` head, string parameter
values, the heads of profile attributes) is encoded once per chunk; compiled kernels
(:mod:`._kernels`) then pick each row's top families and write the JSON bytes straight into an
Arrow string column (no Python loop per row). ``tests/models/churn/test_reasons*.py`` check
both paths give identical JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from retain.models.churn.reasons._kernels import SPECIAL, pick, write
from retain.models.churn.reasons.families import family_sums
from retain.models.churn.reasons.rules import (
    BASE_RATE,
    RULES_BY_FAMILY,
    Condition,
    Int,
    Rule,
    Str,
    fallback_reason,
    read_number,
    risk_columns,
    topics,
    value_text,
)
from retain.models.churn.reasons.storage import Reason, json_float, reasons_json

__all__ = ["reasons_json_array", "reasons_json_column"]


class _Strings:
    """A string column: ``texts[codes[i]]`` is row ``i``'s value (``-1``: not a str)."""

    def __init__(self, codes: np.ndarray, texts: list[str]) -> None:
        self.codes = codes
        self.texts = texts


Variant = tuple[str, np.ndarray, list[tuple[str, np.ndarray | _Strings]]]
"""A rule variant over a chunk: its key, its mask, and its parameter columns (int64 or str)."""


class _Columns:
    """The feature columns of one chunk as the rules read them, each computed once."""

    def __init__(self, features: pd.DataFrame) -> None:
        self.features = features
        self.n = len(features)
        self._num: dict[str, np.ndarray] = {}
        self._ints: dict[tuple[str, float], np.ndarray] = {}
        self._strings: dict[str, _Strings] = {}

    def num(self, name: str) -> np.ndarray:
        """float64, NaN where :func:`.rules.read_number` gives None."""
        if name in self._num:
            return self._num[name]
        if name not in self.features.columns:
            out = np.full(self.n, np.nan)
        else:
            s = self.features[name]
            if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
                out = s.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                values = [read_number(v) for v in s.tolist()]
                out = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        self._num[name] = out
        return out

    def ints(self, param: Int) -> np.ndarray:
        """An integer parameter's column."""
        at = (param.feature, param.times)
        if at not in self._ints:
            self._ints[at] = Int.to_int64(param.scale(self.num(param.feature)))
        return self._ints[at]

    def strings(self, name: str) -> _Strings:
        """The column's str values as codes into their distinct texts (-1: not a str)."""
        if name in self._strings:
            return self._strings[name]
        self._strings[name] = out = self._factorize(name)
        return out

    def _factorize(self, name: str) -> _Strings:
        if name not in self.features.columns:
            return _Strings(np.full(self.n, -1, dtype=np.int64), [])
        column = self.features[name]
        try:
            codes, uniques = pd.factorize(column)
        except TypeError:  # unhashable values
            keys: dict[str, int] = {}
            found = [keys.setdefault(v, len(keys)) if isinstance(v, str) else -1 for v in column]
            return _Strings(np.array(found, dtype=np.int64), [str(v) for v in keys])
        # A str only equals a str, so a str's code is shared with equal strs alone.
        texts = [str(u) for u in uniques if isinstance(u, str)]
        remap = np.cumsum([isinstance(u, str) for u in uniques], dtype=np.int64) - 1
        remap = np.where([isinstance(u, str) for u in uniques], remap, -1)
        lookup = np.append(remap.astype(np.int64), -1)  # code -1 (missing) stays -1
        return _Strings(lookup[codes], texts)

    def holds(self, cond: Condition) -> np.ndarray:
        """The rows where ``cond`` holds."""
        if cond.reads_text:
            s = self.strings(cond.feature)
            lookup = np.array([*(cond.text(x) for x in s.texts), False], dtype=bool)
            out: np.ndarray = lookup[s.codes]  # code -1 (not a str): the False at the end
            return out
        other = None if cond.than is None else self.num(cond.than)
        return np.asarray(cond.number(self.num(cond.feature), other), dtype=bool)


def _variants(rule: Rule, c: _Columns) -> list[Variant]:
    """``rule`` over a chunk: each variant's key, mask and parameter columns, in rule order."""
    out: list[Variant] = []
    for v in rule.variants:
        mask = np.ones(c.n, dtype=bool)
        for cond in v.when:
            mask &= c.holds(cond)
        params: list[tuple[str, np.ndarray | _Strings]] = [
            (name, c.strings(p.feature) if isinstance(p, Str) else c.ints(p))
            for name, p in v.params
        ]
        out.append((v.key, mask, params))
    return out


def _fallback_head(member: str, text: str, labels: Mapping[str, str] | None) -> str:
    """``{"key":...,"params":{...`` of such a reason, up to (not including) the params' ``}``."""
    key, params = fallback_reason(member, text, labels)
    head = json.dumps({"key": key, "params": params}, ensure_ascii=False, separators=(",", ":"))
    return head[:-2]


class _Member:
    """One member column of a family without a rule.

    Which rows are missing (``isna``) and, for the rows that need it, codes into the texts
    :func:`value_text` gives their values.
    """

    def __init__(self, column: pd.Series) -> None:
        self.column = column
        self.codes: np.ndarray | None = None
        self.texts: list[str] = []
        dtype = column.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "fiub":
            self.values: np.ndarray | None = column.to_numpy()
            self.missing = (
                np.isnan(self.values) if dtype.kind == "f" else np.zeros(len(column), bool)
            )
            return
        self.values = None
        try:
            codes, uniques = pd.factorize(column)
        except TypeError:  # unhashable values
            self.missing = column.isna().to_numpy(dtype=bool)
            return
        self.missing = np.asarray(codes < 0)
        values = list(uniques)
        if all(type(v) is str for v in values):  # exact: a str only equals an equal str
            self.codes, self.texts = np.asarray(codes, dtype=np.int64), values

    def text_codes(self, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Codes of ``rows`` (none missing) into a list of value texts."""
        if self.codes is not None:
            return self.codes[rows], self.texts
        if self.values is not None:
            values = self.values[rows]
            if values.dtype.kind == "f":  # by bit pattern: 0.0 and -0.0 read differently
                codes, uniques = pd.factorize(values.view(f"i{values.dtype.itemsize}"))
                uniques = np.asarray(uniques).view(values.dtype)
            else:
                codes, uniques = pd.factorize(values)
            return np.asarray(codes, np.int64), [
                value_text(v) for v in np.asarray(uniques).tolist()
            ]
        # Mixed or unhashable objects: word every row, as the per-row path does.
        texts = [value_text(v) for v in self.column.iloc[rows].tolist()]
        codes, uniques = pd.factorize(np.array(texts, dtype=object))
        return np.asarray(codes, np.int64), list(uniques)


class _Pieces:
    """Constant pieces of JSON text, each UTF-8 encoded once, indexed by number."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.index: dict[str, int] = {}

    def add(self, text: str) -> int:
        at = self.index.get(text)
        if at is None:
            at = self.index[text] = len(self.parts)
            self.parts.append(text.encode())
        return at

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All pieces in one uint8 array, and where each starts (one more: the end)."""
        starts = np.zeros(len(self.parts) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in self.parts], out=starts[1:])
        return np.frombuffer(b"".join(self.parts), dtype=np.uint8), starts


_CLOSE = '},"contribution":'
"""Piece 0: closes a reason's params and opens its contribution."""


class _Layout:
    """A chunk's families as the flat tables the kernels read.

    Family ``k``'s variants are ``fam_var[k]:fam_var[k + 1]``; a variant has a head piece
    (``-1``: a family without a rule), parameters ``var_par[g]:var_par[g + 1]`` (a prefix
    piece, an int64 or str column) and a mask, or (families without a rule) member slots
    ``fb_lo[g]:fb_hi[g]`` into ``members``.
    """

    def __init__(self) -> None:
        self.pieces = _Pieces()
        self.pieces.add(_CLOSE)
        self.fam_var: list[int] = [0]
        self.var_head: list[int] = []
        self.var_topic: list[int] = []
        self.var_par: list[int] = [0]
        self.par_prefix: list[int] = []
        self.par_kind: list[int] = []
        self.par_col: list[int] = []
        self.fb_lo: list[int] = []
        self.fb_hi: list[int] = []
        self.members: list[int] = []
        self.masks: list[np.ndarray | None] = []
        self.ints: list[np.ndarray] = []
        self.strs: list[np.ndarray] = []
        self.str_base: list[int] = []
        self._int_cols: dict[int, int] = {}
        self._str_cols: dict[int, int] = {}

    def add_fallback(self, member_idx: np.ndarray) -> None:
        """A family without a rule: its reason names the strongest member's value."""
        self.var_head.append(-1)
        self.var_topic.append(0)  # a member's topics are its slot's (fb_topic)
        self.var_par.append(self.var_par[-1])
        self.fb_lo.append(len(self.members))
        self.members.extend(int(j) for j in member_idx)
        self.fb_hi.append(len(self.members))
        self.masks.append(None)
        self.fam_var.append(len(self.var_head))

    def add_rule(self, variants: list[Variant]) -> None:
        """A family with a rule: its variants, in the order the rule tries them."""
        pieces = self.pieces
        for key, mask, params in variants:
            head = '{"key":' + json.dumps(key, ensure_ascii=False) + ',"params":{'
            self.var_head.append(pieces.add(head))
            self.var_topic.append(topics(key, {}))
            for p, (name, column) in enumerate(params):
                self.par_prefix.append(pieces.add(("," if p else "") + json.dumps(name) + ":"))
                if isinstance(column, _Strings):
                    if id(column) not in self._str_cols:
                        self._str_cols[id(column)] = len(self.strs)
                        self.strs.append(column.codes)
                        quoted = [json.dumps(x, ensure_ascii=False) for x in column.texts]
                        self.str_base.append(len(pieces.parts))
                        pieces.parts.extend(x.encode() for x in quoted)  # in code order
                    self.par_kind.append(1)
                    self.par_col.append(self._str_cols[id(column)])
                else:
                    if id(column) not in self._int_cols:
                        self._int_cols[id(column)] = len(self.ints)
                        self.ints.append(column)
                    self.par_kind.append(0)
                    self.par_col.append(self._int_cols[id(column)])
            self.var_par.append(len(self.par_prefix))
            self.fb_lo.append(0)
            self.fb_hi.append(0)
            self.masks.append(mask)
        self.fam_var.append(len(self.var_head))


def reasons_json_array(
    contributions: np.ndarray,
    features: pd.DataFrame,
    *,
    top: int = 3,
    min_contribution: float = 0.0,
    groups: np.ndarray | None = None,
    labels: Mapping[str, str] | None = None,
) -> pa.Array:
    """The ``churn_scores.reasons`` value of every row, as an Arrow string array.

    Gives exactly ``[reasons_json(r) for r in reason_codes(contributions, features, ...)]``
    (same families, same order, same parameters and text): the rules are vectorised over the
    chunk as variants, and compiled kernels rank the families and write the JSON bytes.
    A ``pyarrow.StringArray``, or a ``LargeStringArray`` past 2 GiB of text. ``labels`` as
    in :func:`reason_codes`. With ``groups``
    (:func:`family_groups`), ``contributions`` are already summed per group; the reasons are
    the same up to the order in which the sums were added.
    """
    names, fam_names, member_idx, sums = family_sums(contributions, features, groups)
    n, n_fam = sums.shape
    if n == 0:
        return pa.array([], pa.string())
    cols = _Columns(features)
    lay = _Layout()
    for k, family in enumerate(fam_names):
        rule = RULES_BY_FAMILY.get(family)
        if rule is None:
            lay.add_fallback(member_idx[k])
        else:
            lay.add_rule(_variants(rule, cols))
    pieces = lay.pieces
    members = lay.members

    # Row-major tables (one row per customer): a row's masks and values share cache lines.
    no = np.zeros(n, dtype=np.bool_)
    mask_rows = np.stack([no if m is None else m for m in lay.masks], axis=1)
    fallback = [_Member(features.iloc[:, j]) for j in members]
    fb_missing = np.stack([no, *(m.missing for m in fallback)], axis=1)
    families = (
        contributions,
        mask_rows,
        np.asarray(lay.fam_var, dtype=np.int64),
        np.asarray(lay.fb_lo, dtype=np.int64),
        np.asarray(lay.fb_hi, dtype=np.int64),
        np.asarray(members if groups is None else groups[members], dtype=np.int64),
        fb_missing,
        np.asarray(lay.var_topic, dtype=np.int64),
        np.asarray(
            [topics(*fallback_reason(names[j], "", labels)) for j in members], dtype=np.int64
        ),
    )
    width = max(0, min(int(top), n_fam))
    floor = float(min_contribution)
    n_picks = np.zeros(n, dtype=np.int64)
    pick_var = np.zeros((n, width), dtype=np.int64)
    pick_arg = np.full((n, width), -1, dtype=np.int64)
    pick_val = np.zeros((n, width))
    tied = np.zeros(n, dtype=np.bool_)
    none = np.zeros(0, dtype=np.int64)
    picked = (n_picks, pick_var, pick_arg, pick_val, tied)
    special = pick(sums, *families, width, floor, none, none.reshape(0, 0), *picked)
    if tied.any():
        # Equal sums: take the order np.argsort gives them, as reason_codes does.
        rows = np.flatnonzero(tied)
        order = np.argsort(-sums[rows], axis=1)
        special += pick(sums, *families, width, floor, rows, order, *picked)

    pick_piece = np.full((n, width), -1, dtype=np.int64)
    pick_text = np.full((n, width), -1, dtype=np.int64)
    if special:
        taken = np.arange(width) < n_picks[:, None]
        for i, s in zip(*np.nonzero(taken & ~(np.abs(pick_val) < SPECIAL)), strict=True):
            pick_text[i, s] = pieces.add(json_float(round(float(pick_val[i, s]), 4)))
    if members:
        at_i, at_s = np.nonzero(pick_arg >= 0)
        slot = pick_arg[at_i, at_s]
        for s in np.unique(slot).tolist():
            here = slot == s
            rows = at_i[here]
            codes, texts = fallback[s].text_codes(rows)
            member = names[members[s]]
            heads = np.full(len(texts), -1, dtype=np.int64)
            for c in np.unique(codes).tolist():
                heads[c] = pieces.add(_fallback_head(member, texts[c], labels))
            pick_piece[rows, at_s[here]] = heads[codes]

    blob, starts = pieces.arrays()
    longest = int(np.diff(starts).max())
    most_params = max(np.diff(lay.var_par).max(), 0)
    row_bound = 2 + width * (3 * longest + most_params * (longest + 21) + 32)
    data, offsets = write(
        n_picks,
        pick_var,
        pick_val,
        pick_piece,
        pick_text,
        blob,
        starts,
        np.asarray(lay.var_head, dtype=np.int64),
        np.asarray(lay.var_par, dtype=np.int64),
        np.asarray(lay.par_prefix, dtype=np.int64),
        np.asarray(lay.par_kind, dtype=np.int64),
        np.asarray(lay.par_col, dtype=np.int64),
        np.stack(lay.ints, axis=1) if lay.ints else np.zeros((n, 0), dtype=np.int64),
        np.stack(lay.strs, axis=1) if lay.strs else np.zeros((n, 0), dtype=np.int64),
        np.asarray(lay.str_base, dtype=np.int64),
        row_bound,
        n * (2 + 80 * min(width, 3)),
    )
    if offsets[-1] < 2**31:
        out: pa.Array = pa.StringArray.from_buffers(
            n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)
        )
    else:
        out = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    return _with_base_rate(out, n_picks == 0 if width else no, contributions, features)


def _float(bits: int) -> float:
    """The float64 whose bit pattern is ``bits``."""
    return float(np.array([bits], dtype=np.int64).view(np.float64)[0])


def _with_base_rate(
    out: pa.Array, empty: np.ndarray, contributions: np.ndarray, features: pd.DataFrame
) -> pa.Array:
    """``out`` with :data:`.rules.BASE_RATE` written for the rows left without reasons."""
    rows = np.flatnonzero(empty)
    if not len(rows):
        return out
    read = [c for c in BASE_RATE.features if c in features.columns]
    sub = features[read].iloc[rows].reset_index(drop=True)
    # Over the whole chunk, as the per-row path sums it (a lone row would be summed pairwise).
    for name, column in risk_columns(contributions).items():
        sub[name] = column[rows]
    found = np.zeros(len(rows), dtype=bool)
    texts = np.full(len(out), None, dtype=object)
    # By bit pattern, so each distinct bias is one text (one per model, usually).
    bias = np.ascontiguousarray(contributions[rows, -1], dtype=np.float64).view(np.int64)
    for key, mask, params in _variants(BASE_RATE, _Columns(sub)):
        at = np.flatnonzero(mask & ~found)
        if not len(at):
            continue
        names = [name for name, col in params if isinstance(col, np.ndarray)]
        columns = [bias[at], *(col[at] for _, col in params if isinstance(col, np.ndarray))]
        # Few distinct texts (one bias, small integers): each written once.
        code = np.zeros(len(at), dtype=np.int64)
        for column in columns:
            codes, distinct = pd.factorize(column)
            code = code * len(distinct) + codes
        inverse, _ = pd.factorize(code)
        first = np.zeros(inverse.max() + 1, dtype=np.int64)
        first[inverse[::-1]] = np.arange(len(at))[::-1]
        made = [
            reasons_json(
                [
                    Reason(
                        key,
                        {n: int(c[i]) for n, c in zip(names, columns[1:], strict=True)},
                        _float(int(bias[at[i]])),
                    )
                ]
            )
            for i in first.tolist()
        ]
        texts[rows[at]] = np.array(made, dtype=object)[inverse]
        found[at] = True
    if not found.any():
        return out
    return pc.coalesce(pa.array(texts, out.type), out)


def reasons_json_column(
    contributions: np.ndarray,
    features: pd.DataFrame,
    *,
    top: int = 3,
    min_contribution: float = 0.0,
    labels: Mapping[str, str] | None = None,
) -> list[str]:
    """:func:`reasons_json_array` as Python strings.

    Exactly ``[reasons_json(r) for r in reason_codes(contributions, features, ...)]``.
    """
    array = reasons_json_array(
        contributions, features, top=top, min_contribution=min_contribution, labels=labels
    )
    return array.to_pylist()  # type: ignore[no-any-return]
