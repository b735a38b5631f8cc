"""Exact TreeSHAP for LightGBM trees, compiled, computed once per distinct branch pattern.

Path-dependent TreeSHAP (Lundberg, Erion & Lee, 2018, "Consistent individualized feature
attribution for tree ensembles", Algorithm 2) depends on a row only through the branch it takes
at each split of the tree: two rows that go the same way at every split get the same values. A
tree with ``J`` splits therefore has at most ``2**J`` distinct answers, and in practice a few
hundred occur in any batch. :class:`TreeEnsemble` exploits that:

1. for every row, the *branch pattern* of each tree (one bit per split, ``1`` = left) is
   computed with LightGBM's own decision rules (missing values, zero-as-missing, categorical
   bitsets), compiled with numba;
2. TreeSHAP runs once per distinct pattern (the walk from the root to each leaf, with the
   usual EXTEND / UNWIND path bookkeeping);
3. each row adds its pattern's values.

The values equal LightGBM's ``pred_contrib`` up to the order of floating-point additions
(tests assert 1e-9). Contributions can be summed straight into groups of columns (feature
families), which is all that batch scoring needs.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

__all__ = ["TreeEnsemble", "ensemble_of"]

_MISSING = {"None": 0, "Zero": 1, "NaN": 2}
_MAX_SPLITS = 62
"""Most splits in one tree for a pattern to fit an int64 key; larger trees are not supported."""
_NODE_COLUMNS = (
    "feature",
    "threshold",
    "missing",
    "default_left",
    "categorical",
    "cat_start",
    "cat_end",
    "left",
    "right",
    "count",
    "value",
    "split_bit",
)
_BLOCK = 64
"""Rows accumulated together: 64 rows of output (~33 KB) stay in L1 while each tree adds to them."""
_GROUP_BYTES = 1 << 20
"""Trees are accumulated in groups whose pattern tables total at most this (half an L2)."""
_DIRECT = 1 << 16
"""Trees whose patterns fit this many slots use a direct table instead of a hash table."""


@dataclass(frozen=True)
class TreeEnsemble:
    """The trees of a LightGBM binary model as flat arrays (one row per node, all trees).

    Build one with :meth:`from_booster`; :meth:`contributions` computes TreeSHAP values.
    """

    n_features: int
    tree_start: np.ndarray  # int64[T + 1]: first node of each tree
    split_start: np.ndarray  # int64[T + 1]: first split (internal node) of each tree
    feature: np.ndarray  # int64[N]: split feature, -1 for a leaf
    threshold: np.ndarray  # float64[N]
    missing: np.ndarray  # int64[N]: 0 none, 1 zero, 2 NaN
    default_left: np.ndarray  # bool[N]
    categorical: np.ndarray  # bool[N]
    cat_start: np.ndarray  # int64[N]: slice of ``cat_values`` going left
    cat_end: np.ndarray
    cat_values: np.ndarray  # int64[C], sorted within each slice
    left: np.ndarray  # int64[N], absolute node index, -1 for a leaf
    right: np.ndarray
    count: np.ndarray  # float64[N]: training rows through the node (the TreeSHAP cover)
    value: np.ndarray  # float64[N]: leaf output
    split_bit: np.ndarray  # int64[N]: a split's bit in its tree's pattern, -1 for a leaf
    split_node: np.ndarray  # int64[S]: absolute node index of each split
    expected: float  # sum over trees of the cover-weighted mean leaf output

    @classmethod
    def from_booster(cls, booster: Any, n_iter: int | None = None) -> TreeEnsemble | None:
        """The first ``n_iter`` trees of a single-output booster, or ``None`` if unsupported."""
        dump = booster.dump_model()
        if int(dump.get("num_tree_per_iteration", 1)) != 1:
            return None
        trees = dump["tree_info"]
        if n_iter is not None:
            trees = trees[:n_iter]
        cols: dict[str, list[Any]] = {k: [] for k in _NODE_COLUMNS}
        cat_values: list[int] = []
        tree_start, split_start, split_node = [0], [0], list[int]()
        expected = 0.0
        for info in trees:
            base = len(cols["feature"])
            nodes: list[dict[str, Any]] = []
            _flatten(info["tree_structure"], nodes)
            splits = [k for k, node in enumerate(nodes) if "split_feature" in node]
            if len(splits) > _MAX_SPLITS:
                return None
            bit = {k: b for b, k in enumerate(splits)}
            index = {id(node): base + k for k, node in enumerate(nodes)}
            leaves = [node for node in nodes if "split_feature" not in node]
            if splits:
                total = float(nodes[0]["internal_count"])
                expected += sum(
                    float(leaf["leaf_count"]) / total * float(leaf["leaf_value"]) for leaf in leaves
                )
            else:
                expected += float(leaves[0]["leaf_value"])
            for k, node in enumerate(nodes):
                is_split = "split_feature" in node
                cats: list[int] = []
                is_cat = is_split and node.get("decision_type") == "=="
                if is_cat:
                    cats = sorted(int(v) for v in str(node["threshold"]).split("||"))
                cols["feature"].append(int(node["split_feature"]) if is_split else -1)
                cols["threshold"].append(
                    float(node["threshold"]) if is_split and not is_cat else 0.0
                )
                cols["missing"].append(_MISSING[node.get("missing_type", "None")])
                cols["default_left"].append(bool(node.get("default_left", False)))
                cols["categorical"].append(is_cat)
                cols["cat_start"].append(len(cat_values))
                cat_values.extend(cats)
                cols["cat_end"].append(len(cat_values))
                cols["left"].append(index[id(node["left_child"])] if is_split else -1)
                cols["right"].append(index[id(node["right_child"])] if is_split else -1)
                cols["count"].append(
                    float(node["internal_count"] if is_split else node.get("leaf_count", 0))
                )
                cols["value"].append(0.0 if is_split else float(node["leaf_value"]))
                cols["split_bit"].append(bit.get(k, -1))
            split_node.extend(base + k for k in splits)
            tree_start.append(len(cols["feature"]))
            split_start.append(len(split_node))
        ints = {"feature", "missing", "cat_start", "cat_end", "left", "right", "split_bit"}
        flags = {"default_left", "categorical"}
        arrays = {
            k: np.asarray(v, dtype=np.int64 if k in ints else bool if k in flags else np.float64)
            for k, v in cols.items()
        }
        return cls(
            n_features=int(dump["max_feature_idx"]) + 1,
            tree_start=np.asarray(tree_start, dtype=np.int64),
            split_start=np.asarray(split_start, dtype=np.int64),
            cat_values=np.asarray(cat_values, dtype=np.int64),
            split_node=np.asarray(split_node, dtype=np.int64),
            expected=expected,
            **arrays,
        )

    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return len(self.tree_start) - 1

    def contributions(
        self,
        X: np.ndarray,
        groups: np.ndarray | None = None,
        *,
        group_bytes: int = _GROUP_BYTES,
    ) -> np.ndarray:
        """TreeSHAP values of each row, shape ``(n, n_out + 1)``; the last column is the bias.

        ``X`` holds the features as LightGBM sees them (float64, categoricals as codes, NaN for
        missing). ``groups`` maps each feature to an output column (default: itself), so values
        can be summed per family directly; the row sums are the raw scores either way.
        ``group_bytes`` bounds the pattern tables added to the rows together (a cache size).
        """
        x = np.asfortranarray(X, dtype=np.float64)
        if groups is None:
            groups = np.arange(self.n_features, dtype=np.int64)
        groups = np.asarray(groups, dtype=np.int64)
        n_out = int(groups.max()) + 1 if len(groups) else 0
        out = np.zeros((x.shape[0], n_out + 1), dtype=np.float64)
        if x.shape[0] == 0:
            return out
        _ensemble_shap(
            x,
            self.tree_start,
            self.split_start,
            self.feature,
            self.threshold,
            self.missing,
            self.default_left,
            self.categorical,
            self.cat_start,
            self.cat_end,
            self.cat_values,
            self.left,
            self.right,
            self.count,
            self.value,
            self.split_bit,
            self.split_node,
            groups,
            out,
            max(1, int(group_bytes)),
        )
        out[:, n_out] += self.expected
        return out


def _flatten(node: dict[str, Any], out: list[dict[str, Any]]) -> None:
    """Nodes in depth-first order (the root first)."""
    out.append(node)
    if "split_feature" in node:
        _flatten(node["left_child"], out)
        _flatten(node["right_child"], out)


_CACHE: weakref.WeakKeyDictionary[Any, tuple[int, TreeEnsemble | None]] = (
    weakref.WeakKeyDictionary()
)


def ensemble_of(booster: Any, n_iter: int) -> TreeEnsemble | None:
    """The booster's first ``n_iter`` trees as a :class:`TreeEnsemble`, built once per booster."""
    cached = _CACHE.get(booster)
    if cached is not None and cached[0] == n_iter:
        return cached[1]
    ensemble = TreeEnsemble.from_booster(booster, n_iter)
    _CACHE[booster] = (n_iter, ensemble)
    return ensemble


# -- compiled kernels --------------------------------------------------------------------------


@njit(cache=True, nogil=True)  # type: ignore[misc]
def _extend(
    feat: np.ndarray,
    zero: np.ndarray,
    one: np.ndarray,
    w: np.ndarray,
    depth: int,
    z: float,
    o: float,
    f: int,
) -> None:
    """EXTEND: add element ``depth`` to the path and update the permutation weights."""
    feat[depth] = f
    zero[depth] = z
    one[depth] = o
    w[depth] = 1.0 if depth == 0 else 0.0
    for i in range(depth - 1, -1, -1):
        w[i + 1] += o * w[i] * (i + 1) / (depth + 1)
        w[i] = z * w[i] * (depth - i) / (depth + 1)


@njit(cache=True, nogil=True)  # type: ignore[misc]
def _unwind(
    feat: np.ndarray, zero: np.ndarray, one: np.ndarray, w: np.ndarray, depth: int, k: int
) -> None:
    """UNWIND: remove element ``k`` from a path whose last element is ``depth``."""
    o, z = one[k], zero[k]
    nxt = w[depth]
    for i in range(depth - 1, -1, -1):
        if o != 0.0:
            tmp = w[i]
            w[i] = nxt * (depth + 1) / ((i + 1) * o)
            nxt = tmp - w[i] * z * (depth - i) / (depth + 1)
        else:
            w[i] = w[i] * (depth + 1) / (z * (depth - i))
    for i in range(k, depth):
        feat[i] = feat[i + 1]
        zero[i] = zero[i + 1]
        one[i] = one[i + 1]


@njit(cache=True, nogil=True)  # type: ignore[misc]
def _unwound_sum(zero: np.ndarray, one: np.ndarray, w: np.ndarray, depth: int, k: int) -> float:
    """Sum of the permutation weights with element ``k`` unwound (without changing the path)."""
    o, z = one[k], zero[k]
    nxt = w[depth]
    total = 0.0
    for i in range(depth - 1, -1, -1):
        if o != 0.0:
            tmp = nxt * (depth + 1) / ((i + 1) * o)
            total += tmp
            nxt = w[i] - tmp * z * (depth - i) / (depth + 1)
        else:
            total += (w[i] / z) / ((depth - i) / (depth + 1))
    return total


@njit(cache=True, nogil=True)  # type: ignore[misc]
def _leaf_paths(
    root: int, end: int, feature: np.ndarray, left: np.ndarray, right: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each leaf of one tree with the splits from the root down to it and the side taken."""
    size = end - root
    parent = np.full(size, -1, dtype=np.int64)
    n_leaves = 0
    for node in range(root, end):
        if feature[node] >= 0:
            parent[left[node] - root] = node
            parent[right[node] - root] = node
        else:
            n_leaves += 1
    leaves = np.empty(n_leaves, dtype=np.int64)
    length = np.zeros(n_leaves, dtype=np.int64)
    nodes = np.empty((n_leaves, size), dtype=np.int64)
    sides = np.empty((n_leaves, size), dtype=np.bool_)
    j = 0
    for leaf in range(root, end):
        if feature[leaf] >= 0:
            continue
        d = 0
        child = leaf
        while parent[child - root] >= 0:
            d += 1
            child = parent[child - root]
        child = leaf
        k = d
        while parent[child - root] >= 0:
            p = parent[child - root]
            k -= 1
            nodes[j, k] = p  # root first
            sides[j, k] = left[p] == child
            child = p
        leaves[j] = leaf
        length[j] = d
        j += 1
    return leaves, length, nodes, sides


@njit(cache=True, nogil=True)  # type: ignore[misc]
def _leaf_shap(
    pattern: int,
    j: int,
    leaves: np.ndarray,
    length: np.ndarray,
    nodes: np.ndarray,
    sides: np.ndarray,
    feature: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    count: np.ndarray,
    value: np.ndarray,
    split_bit: np.ndarray,
    col_of: np.ndarray,
    phi: np.ndarray,
    feat: np.ndarray,
    zero: np.ndarray,
    one: np.ndarray,
    w: np.ndarray,
) -> None:
    """What leaf ``j`` adds to the TreeSHAP values of a branch pattern, into ``phi``.

    Walks the path from the root to the leaf, applying EXTEND at each split and UNWIND when a
    feature repeats, exactly as Algorithm 2 does along that path; the recursion's sum over
    leaves is the caller's. ``col_of`` maps a feature to its column of ``phi``; ``feat``,
    ``zero``, ``one`` and ``w`` are work buffers longer than the deepest path.
    """
    depth = 0
    _extend(feat, zero, one, w, 0, 1.0, 1.0, -1)
    for s in range(length[j]):
        node = nodes[j, s]
        goes = sides[j, s]
        nxt = left[node] if goes else right[node]
        z = count[nxt] / count[node]
        hot = ((pattern >> split_bit[node]) & 1) == 1
        o = 1.0 if hot == goes else 0.0
        f = feature[node]
        for k in range(1, depth + 1):
            if feat[k] == f:
                z *= zero[k]
                o *= one[k]
                _unwind(feat, zero, one, w, depth, k)
                depth -= 1
                break
        depth += 1
        _extend(feat, zero, one, w, depth, z, o, f)
    leaf_value = value[leaves[j]]
    for k in range(1, depth + 1):
        scale = _unwound_sum(zero, one, w, depth, k)
        phi[col_of[feat[k]]] += scale * (one[k] - zero[k]) * leaf_value


_MEMO_DEPTH = 16
"""Deepest leaf whose contributions are kept per sub-pattern (2**depth rows of memo)."""


@njit(cache=True, nogil=True)  # type: ignore[misc]
def _pattern_table(
    patterns: np.ndarray,
    root: int,
    end: int,
    feature: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    count: np.ndarray,
    value: np.ndarray,
    split_bit: np.ndarray,
    groups: np.ndarray,
    cols: np.ndarray,
    n_out: int,
) -> np.ndarray:
    """TreeSHAP of one tree for each pattern, restricted to the output columns ``cols``.

    A leaf's share depends only on the branches taken at the splits on its own path, so it is
    computed once per distinct sub-pattern of those few bits and reused by every pattern that
    shares them (the idea of Fast TreeSHAP, Yang 2021, applied per batch).
    """
    leaves, length, nodes, sides = _leaf_paths(root, end, feature, left, right)
    n_pat, m = patterns.shape[0], cols.shape[0]
    slot = np.full(n_out, -1, dtype=np.int64)
    for c in range(m):
        slot[cols[c]] = c
    col_of = np.zeros(groups.shape[0], dtype=np.int64)
    for f in range(groups.shape[0]):
        col_of[f] = max(slot[groups[f]], 0)
    table = np.zeros((n_pat, m))
    size = end - root + 2
    feat = np.empty(size, dtype=np.int64)
    zero = np.empty(size)
    one = np.empty(size)
    w = np.empty(size)
    phi = np.zeros(m)
    for j in range(leaves.shape[0]):
        d = length[j]
        deep = d > _MEMO_DEPTH
        memo = np.zeros((1 if deep else 1 << d, m))
        done = np.zeros(1 if deep else 1 << d, dtype=np.bool_)
        for p in range(n_pat):
            pattern = patterns[p]
            sub = 0
            if not deep:
                for s in range(d):
                    if (pattern >> split_bit[nodes[j, s]]) & 1:
                        sub |= 1 << s
            if deep or not done[sub]:
                phi[:] = 0.0
                _leaf_shap(
                    pattern, j, leaves, length, nodes, sides, feature, left, right,
                    count, value, split_bit, col_of, phi, feat, zero, one, w,
                )  # fmt: skip
                memo[sub] = phi
                done[sub] = True
            for c in range(m):
                table[p, c] += memo[sub, c]
    return table


@njit(cache=True, nogil=True)  # type: ignore[misc]
def _patterns(
    x: np.ndarray,
    lo: int,
    hi: int,
    feature: np.ndarray,
    threshold: np.ndarray,
    missing: np.ndarray,
    default_left: np.ndarray,
    categorical: np.ndarray,
    cat_start: np.ndarray,
    cat_end: np.ndarray,
    cat_values: np.ndarray,
    split_node: np.ndarray,
    key: np.ndarray,
) -> None:
    """Branch pattern of every row for the splits ``lo:hi`` of one tree (bit b = split lo+b).

    The decisions are LightGBM's (``Tree::NumericalDecision`` and ``CategoricalDecision``):
    NaN counts as zero unless the split's missing type is NaN; a missing value (zero or NaN,
    per the missing type) takes the default side; a categorical split sends NaN and negative
    codes right and the codes in its set left.
    """
    n = x.shape[0]
    for i in range(n):
        key[i] = 0
    for b in range(hi - lo):
        node = split_node[lo + b]
        f = feature[node]
        bit = np.int64(1) << b
        if categorical[node]:
            c0, c1 = cat_start[node], cat_end[node]
            for i in range(n):
                v = x[i, f]
                if np.isnan(v) or v < 0.0:
                    continue
                iv = int(v)
                for k in range(c0, c1):
                    if cat_values[k] == iv:
                        key[i] |= bit
                        break
            continue
        thr = threshold[node]
        kind = missing[node]
        dleft = default_left[node]
        if kind == 0:
            for i in range(n):
                v = x[i, f]
                if np.isnan(v):
                    v = 0.0
                if v <= thr:
                    key[i] |= bit
        elif kind == 1:
            for i in range(n):
                v = x[i, f]
                if np.isnan(v):
                    v = 0.0
                if -1e-35 <= v <= 1e-35:
                    if dleft:
                        key[i] |= bit
                elif v <= thr:
                    key[i] |= bit
        else:
            for i in range(n):
                v = x[i, f]
                if np.isnan(v):
                    if dleft:
                        key[i] |= bit
                elif v <= thr:
                    key[i] |= bit


@njit(cache=True, nogil=True)  # type: ignore[misc]
def _distinct(key: np.ndarray, n_bits: int, slot_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct patterns (in order of first sight) and each row's index among them."""
    n = key.shape[0]
    group = np.empty(n, dtype=np.int64)
    found = np.empty(n, dtype=np.int64)
    g = 0
    if (np.int64(1) << n_bits) <= slot_of.shape[0]:
        for i in range(n):
            k = key[i]
            s = slot_of[k]
            if s < 0:
                s = g
                slot_of[k] = g
                found[g] = k
                g += 1
            group[i] = s
        for j in range(g):
            slot_of[found[j]] = -1
        return found[:g], group
    # Open addressing on a table twice the number of rows (patterns <= rows).
    size = 1
    while size < 2 * n:
        size <<= 1
    table = np.full(size, -1, dtype=np.int64)
    mask = size - 1
    for i in range(n):
        k = key[i]
        h = (k * np.int64(-7046029254386353131)) & mask
        while True:
            s = table[h]
            if s < 0:
                table[h] = g
                found[g] = k
                group[i] = g
                g += 1
                break
            if found[s] == k:
                group[i] = s
                break
            h = (h + 1) & mask
    return found[:g], group


@njit(cache=True, nogil=True)  # type: ignore[misc]
def _ensemble_shap(
    x: np.ndarray,
    tree_start: np.ndarray,
    split_start: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    missing: np.ndarray,
    default_left: np.ndarray,
    categorical: np.ndarray,
    cat_start: np.ndarray,
    cat_end: np.ndarray,
    cat_values: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    count: np.ndarray,
    value: np.ndarray,
    split_bit: np.ndarray,
    split_node: np.ndarray,
    groups: np.ndarray,
    out: np.ndarray,
    group_bytes: int,
) -> None:
    """Add every tree's TreeSHAP values (without the bias) into ``out``.

    Tree by tree: the rows' branch patterns, their distinct values and one TreeSHAP table row
    per distinct pattern (restricted to the output columns the tree touches). Then, a block of
    rows at a time (so the block of ``out`` and a tree's table stay in cache), add to each row
    the table row of its pattern in each tree.
    """
    n = x.shape[0]
    n_trees = tree_start.shape[0] - 1
    n_out = out.shape[1] - 1
    key = np.empty(n, dtype=np.int64)
    member = np.zeros((n_trees, n), dtype=np.int32)
    slot_of = np.full(_DIRECT, -1, dtype=np.int64)
    mark = np.full(n_out, -1, dtype=np.int64)
    col_off = np.zeros(n_trees + 1, dtype=np.int64)
    cols_flat = np.empty(max(1, split_node.shape[0]), dtype=np.int64)
    tab_off = np.zeros(n_trees + 1, dtype=np.int64)
    tab = np.empty(1 << 16)
    for t in range(n_trees):
        root, end = tree_start[t], tree_start[t + 1]
        lo, hi = split_start[t], split_start[t + 1]
        m = 0
        base = col_off[t]
        for node in range(root, end):
            f = feature[node]
            if f >= 0 and mark[groups[f]] != t:
                mark[groups[f]] = t
                cols_flat[base + m] = groups[f]
                m += 1
        col_off[t + 1] = base + m
        if m == 0:  # a single leaf: only the bias
            tab_off[t + 1] = tab_off[t]
            continue
        _patterns(
            x,
            lo,
            hi,
            feature,
            threshold,
            missing,
            default_left,
            categorical,
            cat_start,
            cat_end,
            cat_values,
            split_node,
            key,
        )
        patterns, group = _distinct(key, hi - lo, slot_of)
        for i in range(n):
            member[t, i] = group[i]
        cols = cols_flat[base : base + m]
        table = _pattern_table(
            patterns, root, end, feature, left, right, count, value, split_bit, groups, cols, n_out
        )
        need = tab_off[t] + table.size
        if need > tab.shape[0]:
            size = tab.shape[0]
            while size < need:
                size *= 2
            grown = np.empty(size)
            grown[: tab_off[t]] = tab[: tab_off[t]]
            tab = grown
        tab[tab_off[t] : need] = table.ravel()
        tab_off[t + 1] = need
    # Groups of trees whose tables fit in L2 together, then blocks of rows, then the group's
    # trees: the block of ``out`` stays in L1 and each row's table row is an L2 hit (all the
    # tables together, ~12 MB for 170 trees on 100k rows, would be an L3 miss per row and tree).
    g0 = 0
    while g0 < n_trees:
        g1 = g0 + 1
        while g1 < n_trees and (tab_off[g1 + 1] - tab_off[g0]) * 8 <= group_bytes:
            g1 += 1
        for start in range(0, n, _BLOCK):
            stop = min(start + _BLOCK, n)
            for t in range(g0, g1):
                lo_c, hi_c = col_off[t], col_off[t + 1]
                m = hi_c - lo_c
                if m == 0:
                    continue
                base = tab_off[t]
                for i in range(start, stop):
                    row = base + member[t, i] * m
                    for j in range(m):
                        out[i, cols_flat[lo_c + j]] += tab[row + j]
        g0 = g1
