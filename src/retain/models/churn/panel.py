"""Training panels: features and labels at many reference dates (rolling origins).

One snapshot teaches a model about one moment; a panel of monthly snapshots teaches it about many
past churn episodes. Each row is a customer at risk at one reference date, with the features as
of that date (:func:`retain.features.feature_snapshot`) and the label of the following ``H``
days (:func:`retain.features.churn_labels`). Only dates whose label window is fully covered by the
data are used, so no label is censored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ibis
import pandas as pd

from retain.config import ChurnDefinition
from retain.errors import InvalidParameterError
from retain.facts import DateLike, as_timestamp
from retain.features import churn_labels, feature_snapshot
from retain.features.attributes import AttributeFeature
from retain.features.sources import SourceLike, Sources
from retain.i18n import t
from retain.models.churn._clv import bgnbd_scores

__all__ = ["DataWindow", "add_p_alive", "build_panel", "data_window", "reference_dates"]


@dataclass(frozen=True)
class DataWindow:
    """First and last activity timestamps in the warehouse."""

    start: pd.Timestamp
    end: pd.Timestamp


def _time_columns(sources: Sources) -> list[tuple[str, str]]:
    pairs = [
        ("orders", "ordered_at"),
        ("events", "occurred_at"),
        ("subscriptions", "started_at"),
        ("subscriptions", "ended_at"),
        ("interactions", "occurred_at"),
    ]
    return [(t, c) for t, c in pairs if sources.table(t) is not None]


def data_window(con_or_tables: SourceLike) -> DataWindow:
    """The span of the activity data (orders, events, subscriptions, interactions). Executes.

    A subscription's ``ended_at`` may be scheduled ahead (a cancellation effective at the end of
    the paid period); ends later than now are plans, not data, and do not extend the window.
    """
    sources = Sources.of(con_or_tables)
    now = ibis.literal(pd.Timestamp.now(tz="UTC").tz_localize(None).to_pydatetime())
    lows, highs = [], []
    for table, column in _time_columns(sources):
        source = sources.table(table)
        assert source is not None
        col = source[column]
        hi = col.max(where=col <= now) if column == "ended_at" else col.max()
        row = source.aggregate(lo=col.min(), hi=hi).to_pandas().iloc[0]
        if pd.notna(row["lo"]):
            lows.append(pd.Timestamp(row["lo"]))
        if pd.notna(row["hi"]):
            highs.append(pd.Timestamp(row["hi"]))
    if not lows:
        raise InvalidParameterError(t("churn.no_data"), hint=t("churn.no_data_hint"))
    return DataWindow(min(lows), max(highs))


def reference_dates(
    window: DataWindow,
    *,
    horizon_days: int,
    freq: str = "MS",
    min_history_days: int = 90,
    last: DateLike | None = None,
) -> list[pd.Timestamp]:
    """Reference dates for a panel, every ``freq`` (month starts by default).

    They run from ``min_history_days`` after the data starts to the last date whose ``H``-day
    label window the data covers (or ``last``, when earlier).
    """
    first = (window.start + pd.Timedelta(days=min_history_days)).normalize()
    # Data through day D covers label windows ending at midnight after D.
    limit = window.end.normalize() + pd.Timedelta(days=1) - pd.Timedelta(days=horizon_days)
    if last is not None:
        limit = min(limit, as_timestamp(last, name="last"))
    dates = [pd.Timestamp(d) for d in pd.date_range(first, limit, freq=freq)]
    if not dates:
        raise InvalidParameterError(
            t(
                "churn.too_short",
                start=str(window.start.date()),
                end=str(window.end.date()),
                history=min_history_days,
                horizon=horizon_days,
            ),
            hint=t("churn.too_short_hint"),
        )
    return dates


def add_p_alive(frame: pd.DataFrame, *, horizon_days: float) -> tuple[pd.DataFrame, str | None]:
    """Add the BG/NBD ``p_alive`` column (fitted on these customers' history); or a note why not."""
    scores = bgnbd_scores(frame, horizon_days=horizon_days)
    if scores is None:
        return frame, t("churn.p_alive_left_out")
    return frame.assign(p_alive=scores["p_alive"].to_numpy()), None


def build_panel(
    con_or_tables: SourceLike,
    *,
    definition: ChurnDefinition,
    dates: Sequence[DateLike],
    p_alive: bool = True,
    attributes: Sequence[AttributeFeature] = (),
    on_date: Callable[[pd.Timestamp], None] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Features and labels of every customer at risk at each date, stacked.

    Returns
    -------
    (panel, notes)
        ``panel`` has ``customer_id``, ``as_of``, the features (plus ``p_alive`` for
        non-contractual lines when BG/NBD can be fitted at every date), one column per
        customer attribute in ``attributes``, and ``churned``;
        ``notes`` says what was left out.
    """
    sources = Sources.of(con_or_tables)
    frames: list[pd.DataFrame] = []
    notes: list[str] = []
    want_alive = p_alive and definition.kind == "non_contractual"
    for value in dates:
        as_of = as_timestamp(value)
        feats = feature_snapshot(sources, as_of=as_of, definition=definition, attributes=attributes)
        labels = churn_labels(sources, as_of=as_of, definition=definition)
        joined = feats.join(labels, "customer_id")
        frame = joined.mutate(as_of=ibis.literal(as_of.to_pydatetime())).to_pandas()
        if want_alive:
            frame, note = add_p_alive(frame, horizon_days=definition.horizon_days)
            if note:
                want_alive = False
                notes.append(note)
        frames.append(frame)
        if on_date is not None:
            on_date(as_of)
    # Rows in one order whatever the engine's collation sorted the ids by (PostgreSQL's ICU or
    # en_US put "c01" before "C02"): the model's row sampling follows the panel's order.
    panel = pd.concat(frames, ignore_index=True).sort_values(
        ["as_of", "customer_id"], ignore_index=True, kind="stable"
    )
    if not want_alive and "p_alive" in panel.columns:
        panel = panel.drop(columns=["p_alive"])
    panel["as_of"] = pd.to_datetime(panel["as_of"])
    panel["churned"] = panel["churned"].astype(int)
    front = ["customer_id", "as_of"]
    rest = [c for c in panel.columns if c not in (*front, "churned")]
    return panel[[*front, *rest, "churned"]], notes
