"""The free text customers wrote, read from ``interactions`` for theme finding.

Exit answers and survey answers carry ``comment``; reviews, complaints and tickets carry
``text`` (or ``comment``, ``body``, ``message``): whichever of :data:`TEXT_KEYS` comes first
with a non-empty value is the interaction's text. Rows with none are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import ibis
import pandas as pd

from retain import warehouse as wh
from retain.facts import DateLike, as_timestamp
from retain.facts.attributes import json_text

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["TEXT_KEYS", "customer_texts"]

TEXT_KEYS = ("text", "comment", "body", "message")


def customer_texts(
    con: BaseBackend,
    *,
    kinds: Sequence[str] | None = None,
    since: DateLike | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """``interaction_id, customer_id, occurred_at, kind, text`` of every interaction with text.

    ``kinds`` keeps those kinds only (e.g. ``["exit_survey", "complaint"]``); ``limit`` keeps
    the newest rows. Oldest first.
    """
    columns = ["interaction_id", "customer_id", "occurred_at", "kind", "text"]
    if not wh.table_exists(con, "interactions"):
        return pd.DataFrame(columns=columns)
    rows = wh.read_table(con, "interactions")
    if kinds is not None:
        rows = rows.filter(rows.kind.isin(list(kinds)))
    if since is not None:
        rows = rows.filter(rows.occurred_at >= as_timestamp(since, name="since"))
    props = rows.properties.cast("string")
    text = ibis.coalesce(*[json_text(props, key).nullif("") for key in TEXT_KEYS])
    out = rows.select("interaction_id", "customer_id", "occurred_at", "kind", text=text)
    out = out.filter(out.text.notnull())
    if limit is not None:
        out = out.order_by(ibis.desc("occurred_at")).limit(limit)
    frame = out.to_pandas().sort_values(["occurred_at", "interaction_id"], kind="stable")
    result: pd.DataFrame = frame.reset_index(drop=True)[columns]
    return result
