"""Stored uplift: every customer's uplift per planner action, learned from a past campaign.

``score_campaign`` fits a learner on two disjoint halves of a randomized campaign
(:func:`retain.models.uplift.split_uplift`) and predicts every current customer twice: ``uplift``
chooses, ``uplift_honest`` values the choice (no winner's curse). ``store_uplift_scores``
writes them to the warehouse table ``uplift_scores`` (``retain.schema``) through
:func:`retain.warehouse.replace_scope`, one scope per (action, campaign): re-running replaces
it. ``stored_uplift`` reads the newest scoring per action back for the offer planner.

Which planner action a campaign stands for is the campaign's ``offer`` (the ``offer`` property
of its assignments, as the demo writes it), unless the caller names it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

import retain.warehouse as wh
from retain.config import ChurnDefinition
from retain.facts import DateLike, as_timestamp
from retain.features import feature_snapshot
from retain.models.uplift.assess import make_learner
from retain.models.uplift.campaigns import CampaignData, Outcome, campaign_dataset
from retain.models.uplift.crossfit import split_uplift
from retain.models.uplift.store import new_version

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = [
    "UPLIFT_SCORES",
    "StoredUplift",
    "campaign_offer",
    "campaigns_by_action",
    "score_campaign",
    "store_campaign_uplift",
    "store_uplift_scores",
    "stored_uplift",
]

UPLIFT_SCORES = "uplift_scores"
"""The warehouse table of stored uplift (``retain.schema.UPLIFT_SCORES``)."""

_SCOPE = ("action", "campaign_id")


def campaign_offer(con: BaseBackend, campaign_id: str) -> str | None:
    """The ``offer`` property of a campaign's assignments (e.g. ``coupon_20``), if it has one."""
    table = wh.read_table(con, "interactions")
    rows = table.filter(
        (table.campaign_id == campaign_id) & table.properties.cast("string").contains('"offer"')
    )
    found = rows.select(props=rows.properties.cast("string")).limit(1).to_pandas()
    for text in found["props"]:
        try:
            offer = json.loads(text).get("offer")
        except (ValueError, AttributeError):
            continue
        if isinstance(offer, str) and offer:
            return offer
    return None


def score_campaign(
    con: BaseBackend,
    campaign_id: str,
    *,
    definition: ChurnDefinition,
    as_of: DateLike,
    actions: Mapping[str, str] | None = None,
    learner: str = "t",
    outcome: Outcome = "retention",
    window_days: int = 60,
    seed: int = 0,
    current: pd.DataFrame | None = None,
    data: CampaignData | None = None,
) -> pd.DataFrame:
    """``customer_id, action, uplift, uplift_honest`` of every customer as of ``as_of``.

    ``actions`` maps the campaign's arms to planner actions (default: the campaign's offer for
    a one-arm campaign, else the arm names). ``current`` is the feature snapshot at ``as_of``
    when the caller already has it (scoring several campaigns on one date), ``data`` the
    campaign's :func:`campaign_dataset` when it has that.
    """
    if data is None:
        data = campaign_dataset(
            con, campaign_id, outcome=outcome, window_days=window_days, definition=definition
        )
    if current is None:
        snapshot = feature_snapshot(con, as_of=as_timestamp(as_of), definition=definition)
        current = snapshot.to_pandas()
    names = {arm: arm for arm in data.arms}
    offer = campaign_offer(con, campaign_id) if len(data.arms) == 1 else None
    if offer is not None:
        names[data.arms[0]] = offer
    names.update(actions or {})
    model = make_learner(learner, random_state=seed)
    pick, honest = split_uplift(
        model, data.X, data.treatment, data.y, current[list(data.features)], random_state=seed
    )
    n = len(current)
    ids = current["customer_id"].astype(str).to_numpy()
    parts = [
        pd.DataFrame(
            {
                "customer_id": ids,
                "action": names[arm],
                "uplift": np.asarray(pick).reshape(n, -1)[:, k],
                "uplift_honest": np.asarray(honest).reshape(n, -1)[:, k],
            }
        )
        for k, arm in enumerate(data.arms)
    ]
    return pd.concat(parts, ignore_index=True)


def store_uplift_scores(
    con: BaseBackend,
    scores: pd.DataFrame,
    *,
    campaign_id: str,
    as_of: DateLike,
    model_version: str | None = None,
    scored_at: pd.Timestamp | None = None,
) -> str:
    """Write ``scores`` (from :func:`score_campaign`) to ``uplift_scores``; return the version.

    Each (action, campaign) the rows carry is replaced as a whole, other ones are kept.
    """
    version = model_version or new_version()
    now = scored_at if scored_at is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
    rows = scores.assign(
        customer_id=scores["customer_id"].astype(str),
        campaign_id=campaign_id,
        model_version=version,
        as_of=as_timestamp(as_of),
        scored_at=now,
    )
    wh.replace_scope(con, UPLIFT_SCORES, rows, scope=_SCOPE)
    return version


@dataclass(frozen=True)
class StoredUplift:
    """The newest stored uplift per action and where each came from."""

    frame: pd.DataFrame
    """``customer_id, action, uplift, uplift_honest`` (the planner's uplift input)."""
    sources: pd.DataFrame
    """One row per action: ``action, campaign_id, model_version, as_of, scored_at``."""

    def label(self) -> str:
        """``coupon_20: campaign CMP-04, model 2026...`` for each action, joined by ``; ``."""
        return "; ".join(
            f"{r.action}: campaign {r.campaign_id}, model {r.model_version}"
            for r in self.sources.itertuples()
        )


def stored_uplift(con: BaseBackend, *, as_of: DateLike | None = None) -> StoredUplift | None:
    """The newest scoring of each action in ``uplift_scores`` (scored on or before ``as_of``).

    None when the table is absent or holds nothing usable: the planner then falls back to its
    heuristic.
    """
    if not wh.table_exists(con, UPLIFT_SCORES):
        return None
    table = wh.read_table(con, UPLIFT_SCORES)
    if as_of is not None:
        table = table.filter(table.as_of <= as_timestamp(as_of))
    runs = (
        table.group_by("action", "campaign_id", "model_version", "as_of", "scored_at")
        .aggregate(n=table.count())
        .to_pandas()
    )
    if runs.empty:
        return None
    runs = runs.sort_values(["action", "scored_at", "campaign_id"])
    newest = runs.drop_duplicates("action", keep="last").reset_index(drop=True)
    frames = []
    for run in newest.itertuples():
        part = table.filter(
            (table.action == run.action)
            & (table.campaign_id == run.campaign_id)
            & (table.model_version == run.model_version)
        )
        frames.append(part.select("customer_id", "action", "uplift", "uplift_honest").to_pandas())
    frame = pd.concat(frames, ignore_index=True)
    sources = newest[["action", "campaign_id", "model_version", "as_of", "scored_at"]]
    return StoredUplift(frame=frame, sources=sources)


def campaigns_by_action(con: BaseBackend, actions: Sequence[str]) -> dict[str, str]:
    """``{action: campaign_id}``: the newest randomized campaign whose offer is each action.

    Campaigns are matched by their ``offer`` (:func:`campaign_offer`); actions no campaign
    offered are absent.
    """
    from retain.models.uplift.campaigns import list_campaigns

    listed = list_campaigns(con)
    found: dict[str, str] = {}
    for campaign_id in listed.sort_values("started_at")["campaign_id"]:
        offer = campaign_offer(con, str(campaign_id))
        if offer is not None and offer in actions:
            found[offer] = str(campaign_id)
    return found


def store_campaign_uplift(
    con: BaseBackend,
    *,
    definition: ChurnDefinition,
    as_of: DateLike,
    actions: Sequence[str],
    seed: int = 0,
    datasets: Mapping[str, CampaignData] | None = None,
) -> pd.DataFrame:
    """Score and store each action's uplift from the newest campaign that offered it.

    One feature snapshot at ``as_of`` serves every campaign; ``datasets`` holds campaigns'
    retention data already read (by campaign id). Returns one row per action stored:
    ``action, campaign_id, model_version, customers``.
    """
    chosen = campaigns_by_action(con, actions)
    if not chosen:
        return pd.DataFrame(columns=["action", "campaign_id", "model_version", "customers"])
    snapshot = feature_snapshot(con, as_of=as_timestamp(as_of), definition=definition)
    current = snapshot.to_pandas()
    rows = []
    for action, campaign_id in chosen.items():
        data = (datasets or {}).get(campaign_id) or campaign_dataset(
            con, campaign_id, outcome="retention", definition=definition
        )
        scores = score_campaign(
            con,
            campaign_id,
            definition=definition,
            as_of=as_of,
            actions=dict.fromkeys(data.arms, action),
            seed=seed,
            current=current,
            data=data,
        )
        version = store_uplift_scores(con, scores, campaign_id=campaign_id, as_of=as_of)
        rows.append((action, campaign_id, version, int(scores["customer_id"].nunique())))
    return pd.DataFrame(rows, columns=["action", "campaign_id", "model_version", "customers"])
