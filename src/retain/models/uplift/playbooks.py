"""A playbook's sends and its hashed holdout, read back from ``interactions`` as uplift data.

A playbook run (:mod:`retain.engage.execute`) leaves two kinds of rows, both with the playbook's
name in ``campaign_id``:

- the treated: the worker's ``message_sent`` rows, ``campaign_id = <name>`` or
  ``<name>:<variant>`` for an A/B/n template, at the moment the message went out (after quiet
  hours); they carry no ``group``;
- the holdout: ``holdout`` rows written when the run decided (``interaction_id`` ``holdout-...``
  derived from the decision's key, ``properties.group = "control"`` with the key).

:func:`playbook_assignments` is the one reading of who was treated or held out and when, each
customer once, at their first assignment; ``retain playbooks results`` (engage) and the uplift
datasets (:func:`retain.models.uplift.campaign_dataset` with ``playbook:<name>``) both use it, so
it lives in the lowest layer that needs it. A playbook is found by its recorded holdouts
(:func:`playbook_names`): without a holdout there is nothing to compare with.

Unlike a campaign, a playbook assigns customers at many moments (every run, every trigger), so
each customer's outcome window opens at their own assignment (:func:`outcomes_in_windows`), their
features are taken as of their run (:func:`features_at_assignment`), and customers whose window
has not closed by the newest order or event are left out (:func:`data_end`).

A playbook has its own outcome window (its goal's, else ``attribution_days``: what ``retain
playbooks results`` counts in, :func:`retain.engage.results.results_window`). The playbooks live
above this layer, so the caller passes their windows by name; :func:`outcome_window` picks the
window of a campaign: an explicit one, else its playbook's, else :data:`DEFAULT_WINDOW_DAYS`, and
says which. :func:`no_campaign_error` says what is missing for each kind of campaign.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from retain.config import ChurnDefinition
from retain.errors import NotFoundError
from retain.facts import json_text
from retain.features import Sources, feature_snapshot
from retain.i18n import t

__all__ = [
    "DEFAULT_WINDOW_DAYS",
    "PLAYBOOK_PREFIX",
    "WindowBasis",
    "data_end",
    "features_at_assignment",
    "no_campaign_error",
    "outcome_window",
    "outcomes_in_windows",
    "playbook_assigned",
    "playbook_assignments",
    "playbook_names",
    "snapshot_groups",
]

PLAYBOOK_PREFIX = "playbook:"
"""How a playbook is named among campaigns: ``playbook:<name>`` (all its versions together)."""
DEFAULT_WINDOW_DAYS = 60
"""The outcome window of a campaign without one of its own (a retention offer's usual)."""
WindowBasis = Literal["given", "playbook", "default"]
"""Where a window came from: passed, the playbook's own, or :data:`DEFAULT_WINDOW_DAYS`."""
MAX_SNAPSHOTS = 60
"""The most feature snapshots one playbook's customers are spread over (see
:func:`snapshot_groups`)."""


def outcome_window(
    campaign_id: str,
    *,
    window_days: int | None = None,
    playbook_windows: Mapping[str, int] | None = None,
) -> tuple[int, WindowBasis]:
    """The outcome window of ``campaign_id`` in days, and where it came from.

    ``window_days`` wins when given (``given``); a ``playbook:<name>`` campaign otherwise takes
    its playbook's window from ``playbook_windows`` (name to days; ``playbook``); anything else,
    or a playbook not among them, :data:`DEFAULT_WINDOW_DAYS` (``default``).
    """
    if window_days is not None:
        return window_days, "given"
    name = campaign_id.removeprefix(PLAYBOOK_PREFIX)
    if campaign_id.startswith(PLAYBOOK_PREFIX) and name in (playbook_windows or {}):
        return int((playbook_windows or {})[name]), "playbook"
    return DEFAULT_WINDOW_DAYS, "default"


def no_campaign_error(
    campaign_id: str, assigned: pd.DataFrame, *, waiting: int = 0, window_days: int
) -> NotFoundError:
    """Why ``campaign_id`` is no randomized campaign: what its kind needs, what was found.

    ``assigned`` holds the customers found (column ``arm``, the holdout ``control``);
    ``waiting`` counts a playbook's customers left out because their window is still open.
    """
    arms = assigned["arm"] if "arm" in assigned else pd.Series(dtype=object)
    control = int((arms == "control").sum())  # retain.models.uplift.campaigns.CONTROL
    treated = len(arms) - control
    if not campaign_id.startswith(PLAYBOOK_PREFIX):
        return NotFoundError(
            t("uplift_page.no_campaign", campaign=campaign_id, treated=treated, control=control),
            hint=t("uplift_page.no_campaign_hint"),
        )
    return NotFoundError(
        t(
            "uplift_page.no_playbook",
            playbook=campaign_id.removeprefix(PLAYBOOK_PREFIX),
            days=window_days,
            waiting=waiting,
            treated=treated,
            control=control,
        ),
        hint=t("uplift_page.no_playbook_hint", days=window_days),
    )


def playbook_assignments(interactions: ir.Table, name: str) -> ir.Table:
    """``(customer_id, arm, variant, assigned_at)``: who was treated or held out, and when.

    ``arm`` is ``treated`` or ``holdout``; ``variant`` the template variant of a treated
    customer (``a`` when the template has one) and ``-`` for the holdout. A customer counts once,
    at their first assignment. A customer found in both arms (which a playbook never does) is
    dropped: they cannot be compared.
    """
    it = interactions
    mine = it.filter(
        ((it.campaign_id == name) | it.campaign_id.startswith(name + ":"))
        & it.kind.isin(["message_sent", "holdout"])
    )
    suffix = mine.campaign_id.substr(len(name) + 1)
    labelled = json_text(mine.properties.cast("string"), "variant")
    variant = (mine.campaign_id == name).ifelse(ibis.coalesce(labelled, "a"), suffix)
    arm = (mine.kind == "holdout").ifelse("holdout", "treated")
    mine = mine.mutate(arm=arm, variant=(arm == "holdout").ifelse("-", variant))
    first = mine.group_by(["customer_id", "arm", "variant"]).agg(assigned_at=mine.occurred_at.min())
    arms = first.group_by("customer_id").agg(n_arms=first.arm.nunique())
    clean = arms.filter(arms.n_arms == 1).select("customer_id")
    first = first.semi_join(clean, "customer_id")
    newest = ibis.window(group_by=first.customer_id, order_by=first.assigned_at)
    first = first.mutate(_k=ibis.row_number().over(newest))
    return first.filter(first._k == 0).drop("_k")


def playbook_names(interactions: ir.Table) -> list[str]:
    """The playbooks with a recorded holdout, sorted: the ``campaign_id`` of retain's records.

    A record is a ``holdout`` row whose id is ``holdout-...`` and whose properties hold the
    decision's ``key``, as :func:`retain.engage.execute.holdout_records` writes it (a
    campaign's own holdout rows do not look like this).
    """
    it = interactions
    held = it.filter(
        (it.kind == "holdout")
        & it.interaction_id.startswith("holdout-")
        & it.campaign_id.notnull()
        & it.properties.cast("string").contains('"key"')
    )
    names = held.select("campaign_id").distinct().to_pandas()["campaign_id"]
    return sorted(str(n) for n in names)


def playbook_assigned(interactions: ir.Table, name: str) -> pd.DataFrame:
    """:func:`playbook_assignments` of ``name`` as a frame, sorted by customer."""
    frame = playbook_assignments(interactions, name).to_pandas()
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["assigned_at"] = pd.to_datetime(frame["assigned_at"])
    ordered: pd.DataFrame = frame.sort_values("customer_id").reset_index(drop=True)
    return ordered


def data_end(sources: Sources) -> pd.Timestamp | None:
    """The newest order or event the warehouse holds: outcome windows closed by then are whole."""
    ends = []
    if sources.orders is not None:
        ends.append(sources.orders.ordered_at.max().execute())
    if sources.events is not None:
        ends.append(sources.events.occurred_at.max().execute())
    found = [pd.Timestamp(e) for e in ends if e is not None and not pd.isna(e)]
    return max(found) if found else None


def outcomes_in_windows(
    sources: Sources,
    definition: ChurnDefinition,
    outcome: str,
    windows: pd.DataFrame,
    window_days: int,
) -> pd.DataFrame:
    """``customer_id, y`` for customers with a nonzero outcome in their own window.

    ``windows`` holds ``customer_id`` and ``assigned_at``; each window is ``[assigned_at,
    assigned_at + window_days)``, with the outcomes of
    :func:`retain.models.uplift.campaign_dataset` (``retention``, ``conversion``, ``revenue``).
    """
    start = pd.to_datetime(windows["assigned_at"])
    spans = ibis.memtable(
        pd.DataFrame(
            {
                "customer_id": windows["customer_id"].astype(str).to_numpy(),
                "_start": start.to_numpy(),
                "_end": (start + pd.Timedelta(days=window_days)).to_numpy(),
            }
        )
    )
    if outcome == "retention":
        acts = sources.activity(definition)
        hit = spans.join(acts, "customer_id")
        hit = hit.filter((hit.at >= hit._start) & (hit.at < hit._end))
        result = hit.group_by("customer_id").aggregate(y=ibis.literal(1.0))
    else:
        orders = sources.completed_orders()
        if orders is None:
            return pd.DataFrame({"customer_id": pd.Series(dtype=object), "y": 0.0})
        rows = orders.select("customer_id", "ordered_at", "amount")
        hit = spans.join(rows, "customer_id")
        hit = hit.filter((hit.ordered_at >= hit._start) & (hit.ordered_at < hit._end))
        value = hit.amount.cast("float64").sum() if outcome == "revenue" else ibis.literal(1.0)
        result = hit.group_by("customer_id").aggregate(y=value)
    out: pd.DataFrame = result.to_pandas()
    out["customer_id"] = out["customer_id"].astype(str)
    return out


def snapshot_groups(moments: pd.Series) -> list[tuple[pd.Timestamp, pd.Index]]:
    """``(as_of, index)`` per group of assignments that share one feature snapshot.

    Assignments on the same UTC day share one, at that day's first assignment: a run's holdout
    is recorded when it decides and its messages go out later the same day (quiet hours), so no
    send of the run, nor anything it caused, is in it. A playbook that assigned on more than
    :data:`MAX_SNAPSHOTS` days (one running daily) shares a snapshot per week, or per month,
    instead; each is still taken before every assignment it serves, only older for some.
    """
    at = pd.to_datetime(moments)
    groups = at.groupby(at.dt.floor("D"), sort=True).groups
    for freq in ("W", "M"):
        if len(groups) <= MAX_SNAPSHOTS:
            break
        groups = at.groupby(at.dt.to_period(freq).dt.start_time, sort=True).groups
    return [(pd.Timestamp(at.loc[index].min()), index) for index in groups.values()]


def features_at_assignment(
    sources: Sources, definition: ChurnDefinition, assigned: pd.DataFrame
) -> pd.DataFrame:
    """Each customer's churn features as of their run: ``customer_id`` plus the features.

    The snapshots are those of :func:`snapshot_groups`, from data strictly before their moment.
    A customer outside a snapshot's population gets missing features.
    """
    parts = []
    for as_of, index in snapshot_groups(assigned["assigned_at"]):
        snapshot = feature_snapshot(sources, as_of=as_of, definition=definition)
        who = assigned.loc[index, "customer_id"].astype(str).tolist()
        ids = ibis.memtable({"customer_id": who})
        parts.append(snapshot.semi_join(ids, "customer_id").to_pandas())
    if not parts:
        return pd.DataFrame({"customer_id": pd.Series(dtype=str)})
    frame: pd.DataFrame = pd.concat(parts, ignore_index=True)
    frame["customer_id"] = frame["customer_id"].astype(str)
    return frame
