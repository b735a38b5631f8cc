"""Features grouped into families, and each family's contribution summed.

A reason is about a family (orders, complaints, payment...; see :data:`retain.features.FEATURES`),
so TreeSHAP's per-feature contributions are added up per family before they are ranked.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from retain.errors import InvalidParameterError
from retain.features import family_of
from retain.i18n import t
from retain.models.churn.reasons._kernels import sum_families
from retain.models.churn.reasons.rules import RULES_BY_FAMILY

__all__ = ["family_groups", "family_sums"]


def family_groups(names: Sequence[str]) -> np.ndarray:
    """For each feature, the contribution column it can share for wording reasons.

    The features of a family with its own wording (orders, complaints, payment...) only count
    through their sum, so they can share one column; those of other families (profile,
    attributes, features outside the catalog) each keep their own, because the reason names
    the strongest of them. TreeSHAP summed this way (``TreeEnsemble.contributions(X, groups)``)
    has fewer columns to add into, and ``reasons_json_array(..., groups=...)`` reads it.
    """
    columns: dict[str, int] = {}
    out = np.empty(len(names), dtype=np.int64)
    for j, name in enumerate(names):
        family = family_of(str(name))
        key = family if family in RULES_BY_FAMILY else f"\0{j}"
        out[j] = columns.setdefault(key, len(columns))
    return out


def family_sums(
    contributions: np.ndarray, features: pd.DataFrame, groups: np.ndarray | None = None
) -> tuple[list[str], list[str], list[np.ndarray], np.ndarray]:
    """Feature names, family names, each family's column indices and per-family sums.

    With ``groups`` (see :func:`family_groups`), ``contributions`` has one column per group
    (then the bias), already summed.
    """
    names = [str(c) for c in features.columns]
    width = len(names) if groups is None else (int(groups.max()) + 1 if len(groups) else 0)
    if contributions.shape != (len(features), width + 1):
        raise InvalidParameterError(
            t(
                "churn.contrib_shape",
                got=str(contributions.shape),
                expected=f"({len(features)}, {width + 1})",
            ),
            hint=t("churn.contrib_shape_hint"),
        )
    families: dict[str, list[int]] = {}
    for j, name in enumerate(names):
        families.setdefault(family_of(name), []).append(j)
    fam_names = list(families)
    member_idx = [np.asarray(families[f]) for f in fam_names]
    if groups is not None:
        family = np.full(width, -1, dtype=np.int64)
        for k, idx in enumerate(member_idx):
            cols = groups[idx]
            if (family[cols] >= 0).any() and (family[cols] != k).any():
                raise InvalidParameterError(t("churn.groups_mix", family=fam_names[k]))
            family[cols] = k
        return names, fam_names, member_idx, sum_families(contributions, family, len(fam_names))
    if contributions.dtype == np.float64 and len(features) >= 2:
        # Same additions in the same order as numpy's ``sum(axis=1)`` below, which adds column by
        # column from 0.0 when there are two rows or more (a single row is summed pairwise).
        family = np.zeros(len(names), dtype=np.int64)
        for k, idx in enumerate(member_idx):
            family[idx] = k
        return names, fam_names, member_idx, sum_families(contributions, family, len(fam_names))
    sums = np.zeros((len(features), len(fam_names)))
    for k, idx in enumerate(member_idx):
        sums[:, k] = contributions[:, idx].sum(axis=1)
    return names, fam_names, member_idx, sums
