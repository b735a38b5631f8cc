"""Randomized holdouts that stay put: a stable hash of (playbook, customer) decides.

A customer's draw for a playbook is the SHA-256 of ``playbook`` and ``customer_id`` read as a
number in [0, 1): the same customer lands in the same arm on every run, on every machine, and
whatever other customers the run holds, so a holdout cannot leak into treatment when a playbook
runs daily. Different playbooks draw independently (their names differ). The optional global
control group draws with a fixed salt instead of a playbook name: those customers get no
playbook at all, which measures the programme as a whole. Variants (A/B/n) draw with a third
salt, so the variant split is independent of the holdout split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = ["GLOBAL_CONTROL", "draw", "in_global_control", "in_holdout", "variant_of"]

GLOBAL_CONTROL = "retain:global-control"
"""The salt of the global control group's draw."""
_SCALE = float(2**64)


def draw(salt: str, customer_ids: Iterable[str]) -> np.ndarray:
    """One uniform number in [0, 1) per customer: the first 8 bytes of SHA-256(salt, id)."""
    prefix = salt.encode("utf-8") + b"\x1f"
    values = [
        int.from_bytes(hashlib.sha256(prefix + str(cid).encode("utf-8")).digest()[:8], "big")
        for cid in customer_ids
    ]
    return np.asarray(values, dtype=np.float64) / _SCALE


def in_holdout(playbook: str, customer_ids: Sequence[str] | pd.Series, share: float) -> np.ndarray:
    """Whether each customer is in ``playbook``'s holdout (a ``share`` of all customers)."""
    if share <= 0:
        return np.zeros(len(customer_ids), dtype=bool)
    return draw(playbook, customer_ids) < share


def in_global_control(customer_ids: Sequence[str] | pd.Series, share: float) -> np.ndarray:
    """Whether each customer is in the global control group (no playbook messages them)."""
    if share <= 0:
        return np.zeros(len(customer_ids), dtype=bool)
    return draw(GLOBAL_CONTROL, customer_ids) < share


def variant_of(
    playbook: str, customer_ids: Sequence[str] | pd.Series, variants: Sequence[str]
) -> np.ndarray:
    """Each customer's variant of ``playbook``'s template: equal shares, stable per customer."""
    if len(variants) == 1:
        return np.full(len(customer_ids), variants[0], dtype=object)
    index = np.floor(draw(f"{playbook}\x1fvariant", customer_ids) * len(variants)).astype(int)
    picked: np.ndarray = np.asarray(variants, dtype=object)[index]
    return picked
