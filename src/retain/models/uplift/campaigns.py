"""A past randomized campaign as training data: who got what, what happened, what was known then.

A campaign with a random holdout shows in ``interactions`` as one assignment row per targeted
customer, with the campaign's ``campaign_id``: a ``message_sent`` with ``properties.group =
"treatment"`` for the treated and a ``holdout`` with ``properties.group = "control"`` for the
holdout (the demo's campaigns and the ``hillstrom`` recipe look like this). A treated row's
``properties.arm`` names its arm when a campaign had several (Hillstrom's ``Mens E-Mail`` /
``Womens E-Mail``); otherwise the arm is ``"treatment"``. Holdout rows form the arm
``"control"``.

The campaign starts at its first assignment. The outcome is measured in ``[start, start +
window_days)``: ``retention`` (any activity as the churn definition counts it), ``conversion``
(a completed order) or ``revenue`` (completed order amounts, reporting currency). The features
are the churn features of :func:`retain.features.feature_snapshot` at the start, from data
strictly before it, so nothing the campaign caused leaks into them; a targeted customer outside
the snapshot's population gets missing features.

A playbook with a holdout is a campaign too, named ``playbook:<name>`` (every version of the
playbook together, as ``retain playbooks results`` counts them): its treated are the customers
it messaged, its control its recorded holdout, each customer once, at their first assignment
(:mod:`retain.models.uplift.playbooks`). A template with A/B/n variants gives one arm per
variant, named by the variant; otherwise the one arm is ``"treatment"``. As a playbook assigns
customers run after run, each customer's window opens at their own assignment and their
features are those of their run; customers whose window has not closed by the newest order or
event are left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import ibis
import numpy as np
import pandas as pd

from retain.config import ChurnDefinition
from retain.errors import InvalidParameterError
from retain.features import SourceLike, Sources, feature_snapshot
from retain.i18n import t
from retain.models.uplift.playbooks import (
    PLAYBOOK_PREFIX,
    data_end,
    features_at_assignment,
    no_campaign_error,
    outcomes_in_windows,
    playbook_assigned,
    playbook_names,
)

__all__ = [
    "CONTROL",
    "OUTCOMES",
    "PLAYBOOK_PREFIX",
    "CampaignData",
    "Outcome",
    "campaign_dataset",
    "list_campaigns",
]

Outcome = Literal["retention", "conversion", "revenue"]
OUTCOMES: tuple[Outcome, ...] = ("retention", "conversion", "revenue")
CONTROL = "control"
"""The arm name of a campaign's holdout."""
_ASSIGNMENT_KINDS = ("message_sent", "holdout")


@dataclass(frozen=True)
class CampaignData:
    """One campaign's customers: arm, outcome and features at the start, one row each.

    ``frame`` holds ``customer_id``, ``arm``, ``assigned_at`` (when the customer's outcome
    window opened: the campaign's start, or a playbook customer's own assignment), ``y`` and the
    feature columns listed in ``features``; :attr:`X`, :attr:`treatment` and :attr:`y` are what a
    learner's ``fit`` takes.
    """

    campaign_id: str
    started_at: pd.Timestamp
    outcome: Outcome
    window_days: int
    frame: pd.DataFrame
    features: tuple[str, ...]

    @property
    def X(self) -> pd.DataFrame:
        """The features at the start, one row per customer."""
        return self.frame[list(self.features)]

    @property
    def treatment(self) -> np.ndarray:
        """Each customer's arm name (the holdout is :data:`CONTROL`)."""
        return self.frame["arm"].to_numpy(dtype=object)

    @property
    def y(self) -> np.ndarray:
        """Each customer's outcome in the window."""
        return self.frame["y"].to_numpy(dtype=np.float64)

    @property
    def arms(self) -> list[str]:
        """The treatment arms, sorted (as the learners order them)."""
        return sorted(a for a in set(self.frame["arm"]) if a != CONTROL)

    def observed_effect(self, level: float = 0.95) -> pd.DataFrame:
        """Per arm: the campaign's measured effect, arm mean - control mean, with its interval.

        Columns: ``arm``, ``n_treated``, ``n_control``, ``mean_treated``, ``mean_control``,
        ``effect``, ``effect_low``, ``effect_high`` (normal approximation with unpooled
        variances, at ``level``). Randomization makes the difference of means unbiased.
        """
        z = float(NormalDist().inv_cdf(0.5 + level / 2.0))
        frame = self.frame
        control = frame.loc[frame["arm"] == CONTROL, "y"].to_numpy(dtype=np.float64)
        rows = []
        for arm in self.arms:
            treated = frame.loc[frame["arm"] == arm, "y"].to_numpy(dtype=np.float64)
            effect = float(treated.mean() - control.mean())
            se = float(
                np.sqrt(treated.var(ddof=1) / treated.size + control.var(ddof=1) / control.size)
            )
            rows.append(
                {
                    "arm": arm,
                    "n_treated": int(treated.size),
                    "n_control": int(control.size),
                    "mean_treated": float(treated.mean()),
                    "mean_control": float(control.mean()),
                    "effect": effect,
                    "effect_low": effect - z * se,
                    "effect_high": effect + z * se,
                }
            )
        return pd.DataFrame(rows)


def _group(properties: object) -> tuple[str | None, str | None]:
    """``(group, arm)`` from an assignment's JSON properties; ``(None, None)`` when absent."""
    if not isinstance(properties, str) or not properties:
        return None, None
    try:
        data = json.loads(properties)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    group, arm = data.get("group"), data.get("arm")
    return (
        group if group in ("treatment", "control") else None,
        arm if isinstance(arm, str) and arm else None,
    )


def _assignments(sources: Sources, campaign_id: str | None) -> pd.DataFrame:
    """``campaign_id, customer_id, occurred_at, arm`` of every randomized assignment."""
    table = sources.interactions
    if table is None:
        return pd.DataFrame(columns=["campaign_id", "customer_id", "occurred_at", "arm"])
    rows = table.filter(table.kind.isin(_ASSIGNMENT_KINDS) & table.campaign_id.notnull())
    if campaign_id is not None:
        rows = rows.filter(rows.campaign_id == campaign_id)
    rows = rows.filter(rows.properties.cast("string").contains('"group"'))
    frame = rows.select(
        "campaign_id", "customer_id", "occurred_at", props=rows.properties.cast("string")
    ).to_pandas()
    parsed = [_group(p) for p in frame["props"]]
    group = pd.Series([g for g, _ in parsed], index=frame.index, dtype=object)
    named = pd.Series([a or "treatment" for _, a in parsed], index=frame.index, dtype=object)
    frame["arm"] = named.where(group != "control", CONTROL)
    frame = frame[group.notna()].drop(columns="props")
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"])
    frame = frame.sort_values(["campaign_id", "occurred_at", "customer_id"])
    first: pd.DataFrame = frame.drop_duplicates(["campaign_id", "customer_id"])
    return first.reset_index(drop=True)


def _summary(campaign_id: str, part: pd.DataFrame, at: str) -> dict[str, object] | None:
    """One row of :func:`list_campaigns`; None without both a treated and a control arm."""
    control = part["arm"] == CONTROL
    if control.all() or not control.any():
        return None
    return {
        "campaign_id": campaign_id,
        "started_at": part[at].min(),
        "arms": ", ".join(sorted(set(part.loc[~control, "arm"]))),
        "n_treated": int((~control).sum()),
        "n_control": int(control.sum()),
    }


def _playbook_arms(assigned: pd.DataFrame) -> pd.Series:
    """Arm names of a playbook's customers (the holdout is :data:`CONTROL`).

    The treated are ``"treatment"``, or their variant's name when they span several variants.
    """
    treated = assigned["arm"] == "treated"
    variants = set(assigned.loc[treated, "variant"])
    if len(variants) > 1:
        named = assigned["variant"].astype(str).replace({CONTROL: f"{CONTROL} (variant)"})
    else:
        named = pd.Series("treatment", index=assigned.index, dtype=object)
    return named.where(treated, CONTROL)


def _playbook(sources: Sources, campaign_id: str) -> pd.DataFrame:
    """``customer_id, arm, assigned_at`` of playbook ``campaign_id`` (``playbook:<name>``)."""
    name = campaign_id.removeprefix(PLAYBOOK_PREFIX)
    if sources.interactions is None or not name:
        return pd.DataFrame(columns=["customer_id", "arm", "assigned_at"])
    assigned = playbook_assigned(sources.interactions, name)
    assigned["arm"] = _playbook_arms(assigned)
    return assigned[["customer_id", "arm", "assigned_at"]]


def list_campaigns(con_or_tables: SourceLike) -> pd.DataFrame:
    """Every campaign with a random holdout, and every playbook with one, oldest first.

    Columns: ``campaign_id``, ``started_at``, ``arms``, ``n_treated``, ``n_control``. A
    playbook (``playbook:<name>``) starts at its first assignment and counts every customer it
    assigned, windows closed or not.
    """
    sources = Sources.of(con_or_tables)
    frame = _assignments(sources, None)
    rows = [
        _summary(str(campaign_id), part, "occurred_at")
        for campaign_id, part in frame.groupby("campaign_id", sort=False)
    ]
    if sources.interactions is not None:
        for name in playbook_names(sources.interactions):
            campaign_id = PLAYBOOK_PREFIX + name
            rows.append(_summary(campaign_id, _playbook(sources, campaign_id), "assigned_at"))
    columns = ["campaign_id", "started_at", "arms", "n_treated", "n_control"]
    out = pd.DataFrame([r for r in rows if r is not None], columns=columns)
    return out.sort_values(["started_at", "campaign_id"]).reset_index(drop=True)


def _outcomes(
    sources: Sources,
    definition: ChurnDefinition,
    outcome: Outcome,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> pd.DataFrame:
    """``customer_id, y`` for customers with a nonzero outcome in ``[start, end)``."""
    lo, hi = ibis.literal(start.to_pydatetime()), ibis.literal(end.to_pydatetime())
    if outcome == "retention":
        acts = sources.activity(definition)
        rows = acts.filter((acts.at >= lo) & (acts.at < hi))
        result = rows.group_by("customer_id").aggregate(y=ibis.literal(1.0))
    else:
        orders = sources.completed_orders()
        if orders is None:
            return pd.DataFrame({"customer_id": pd.Series(dtype=object), "y": 0.0})
        rows = orders.filter((orders.ordered_at >= lo) & (orders.ordered_at < hi))
        value = rows.amount.cast("float64").sum() if outcome == "revenue" else ibis.literal(1.0)
        result = rows.group_by("customer_id").aggregate(y=value)
    out: pd.DataFrame = result.to_pandas()
    return out


def _whole_days(value: object) -> bool:
    """Whether ``value`` is an int (not a bool) of at least 1."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def campaign_dataset(
    con_or_tables: SourceLike,
    campaign_id: str,
    *,
    outcome: Outcome = "retention",
    window_days: int = 60,
    definition: ChurnDefinition | None = None,
) -> CampaignData:
    """One past campaign with a random holdout as uplift training data (see the module doc).

    Parameters
    ----------
    con_or_tables
        A warehouse connection or a mapping of canonical tables (as for the features).
    campaign_id
        The campaign, as in ``interactions.campaign_id``, or ``playbook:<name>`` for a
        playbook (:func:`list_campaigns` lists both).
    outcome
        ``"retention"``, ``"conversion"`` or ``"revenue"``.
    window_days
        Length of the outcome window after the start (after each customer's assignment for a
        playbook: pass its attribution window to compare with ``retain playbooks results``).
    definition
        The churn definition: what counts as activity and which features are built (default
        the non-contractual one on orders).

    Raises
    ------
    NotFoundError
        No randomized assignment (treated and holdout) for ``campaign_id``.
    InvalidParameterError
        An unknown ``outcome`` or a window that is not a positive whole number of days.
    """
    if outcome not in OUTCOMES:
        raise InvalidParameterError(
            t("uplift.bad_outcome", value=outcome, allowed=", ".join(OUTCOMES)),
            hint=t("uplift.outcome_hint"),
        )
    if not _whole_days(window_days):
        raise InvalidParameterError(
            t("uplift.bad_window", value=repr(window_days)), hint=t("uplift.bad_window_hint")
        )
    definition = definition or ChurnDefinition()
    sources = Sources.of(con_or_tables)
    waiting = 0
    if campaign_id.startswith(PLAYBOOK_PREFIX):
        assigned = _playbook(sources, campaign_id)
        end = data_end(sources)
        if end is not None:
            closed = assigned["assigned_at"] + pd.Timedelta(days=window_days) <= end
            assigned, waiting = assigned[closed].reset_index(drop=True), int((~closed).sum())
    else:
        assigned = _assignments(sources, campaign_id).rename(columns={"occurred_at": "assigned_at"})
    control = assigned["arm"] == CONTROL
    if assigned.empty or control.all() or not control.any():
        raise no_campaign_error(campaign_id, assigned, waiting=waiting, window_days=window_days)
    start = pd.Timestamp(assigned["assigned_at"].min())
    if campaign_id.startswith(PLAYBOOK_PREFIX):
        ys = outcomes_in_windows(sources, definition, outcome, assigned, window_days)
        features = features_at_assignment(sources, definition, assigned)
    else:
        assigned = assigned.assign(assigned_at=start)
        ys = _outcomes(sources, definition, outcome, start, start + pd.Timedelta(days=window_days))
        snapshot = feature_snapshot(sources, as_of=start, definition=definition)
        ids = ibis.memtable({"customer_id": assigned["customer_id"].astype(str).tolist()})
        features = snapshot.semi_join(ids, "customer_id").to_pandas()
    names = tuple(c for c in features.columns if c != "customer_id")
    frame = assigned[["customer_id", "arm", "assigned_at"]].merge(ys, on="customer_id", how="left")
    frame["y"] = frame["y"].fillna(0.0).astype(np.float64)
    frame = frame.merge(features, on="customer_id", how="left")
    frame = frame.sort_values("customer_id").reset_index(drop=True)
    return CampaignData(
        campaign_id=campaign_id,
        started_at=start,
        outcome=outcome,
        window_days=window_days,
        frame=frame,
        features=names,
    )
