"""A log of timestamped rows gathered from several generators, then sorted and numbered once.

``events`` and ``interactions`` are written by several modules (sessions, subscriptions, tickets,
campaigns...). Each adds a block of rows; :meth:`Log.table` sorts all blocks by time and gives
them ids in that order, so ids increase with time inside a chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
import pyarrow as pa

from retain.demo._timeline import FloatArray, IntArray
from retain.demo._world import World

__all__ = ["Log", "constant"]

Text: TypeAlias = "pa.Array | str | None"


def constant(value: str, n: int) -> pa.Array:
    """``n`` copies of ``value`` as an Arrow string array, built without Python objects."""
    codes = pa.array(np.zeros(n, dtype=np.int32))
    return pa.DictionaryArray.from_arrays(codes, pa.array([value])).cast(pa.string())


@dataclass
class Log:
    """Rows of one table: owner (chunk position), time (days) and text columns."""

    id_column: str
    id_prefix: str
    columns: tuple[str, ...]
    _owner: list[IntArray] = field(default_factory=list)
    _time: list[FloatArray] = field(default_factory=list)
    _text: dict[str, list[Text]] = field(default_factory=dict)

    def add(self, owner: IntArray, time: FloatArray, **text: Text) -> None:
        """Append rows; each text column is an array of the same length, a constant, or None."""
        n = owner.size
        if n == 0:
            return
        unknown = set(text) - set(self.columns)
        if unknown:
            raise KeyError(f"unknown columns {sorted(unknown)}")
        self._owner.append(np.asarray(owner, dtype=np.int64))
        self._time.append(np.asarray(time, dtype=np.float64))
        for name in self.columns:
            self._text.setdefault(name, []).append(text.get(name))

    def _column(self, name: str, sizes: list[int], order: IntArray) -> pa.Array:
        """One text column in time order.

        A column made only of constants (event names, channels, kinds) is built from integer
        codes and materialised once; others are concatenated and reordered.
        """
        blocks = self._text[name]
        if all(b is None or isinstance(b, str) for b in blocks):
            vocab = sorted({b for b in blocks if isinstance(b, str)})
            code = {v: i for i, v in enumerate(vocab)}
            codes = np.concatenate(
                [
                    np.full(n, -1 if b is None else code[b], dtype=np.int32)  # type: ignore[index]
                    for b, n in zip(blocks, sizes, strict=True)
                ]
            )[order]
            indices = pa.array(codes, mask=codes < 0)
            dictionary = pa.array(vocab, type=pa.string())
            return pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.string())
        arrays = [
            pa.nulls(n, type=pa.string())
            if b is None
            else constant(b, n)
            if isinstance(b, str)
            else b.cast(pa.string())
            for b, n in zip(blocks, sizes, strict=True)
        ]
        return pa.concat_arrays(arrays).take(pa.array(order))

    def table(self, w: World, *, time_column: str = "occurred_at") -> pa.Table:
        """All rows sorted by time, with fresh ids, in columns id, customer_id, time, text..."""
        if not self._owner:
            owner = np.zeros(0, dtype=np.int64)
            time = np.zeros(0, dtype=np.float64)
            text = {name: pa.array([], type=pa.string()) for name in self.columns}
        else:
            sizes = [block.size for block in self._owner]
            owner = np.concatenate(self._owner)
            time = np.concatenate(self._time)
            order = np.argsort(time)
            owner, time = owner[order], time[order]
            text = {name: self._column(name, sizes, order) for name in self.columns}
        return pa.table(
            {
                self.id_column: w.new_ids(self.id_prefix, owner.size),
                "customer_id": w.customer_ids(owner),
                time_column: w.timestamps(time),
                **text,
            }
        )
