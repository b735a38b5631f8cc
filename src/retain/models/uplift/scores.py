"""Stored uplift: every customer's uplift per planner action, learned from a past campaign.

``score_campaign`` values every current customer as the planner does
(:func:`retain.models.uplift.halves.uplift_by_halves`): a learner is fitted on each random half
of a randomized campaign; ``uplift`` is the estimate of the model the customer is given to (by a
stable hash) and chooses; ``uplift_honest`` is the uplift the campaign measured for the
customer's score group on the other half, which that model never saw (no winner's curse),
weighted by the ``average_order_value`` feature (``halves.VALUE_FEATURE``: the plan sums uplift x
value; ``retain plan --campaign`` weighs the same way), and ``honest_group``/``honest_variance``
name that measurement and its variance, from which a plan reports its profit's 95 % interval.
``store_uplift_scores`` writes them to the warehouse table ``uplift_scores`` (``retain.schema``)
through :func:`retain.warehouse.replace_scope`, one scope per (action, campaign): re-running
replaces it. ``stored_uplift`` reads the newest scoring per
action back for the offer planner; a table written by an older version (without the measured
groups) is still read, and upgraded in place on the next store.

Which planner action a campaign stands for is the campaign's ``offer`` (the ``offer`` property
of its assignments, as the demo writes it), unless the caller names it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ibis
import pandas as pd

import retain.warehouse as wh
from retain.config import ChurnDefinition
from retain.facts import DateLike, as_timestamp
from retain.features import feature_snapshot
from retain.models.uplift.assess import make_learner
from retain.models.uplift.campaigns import CampaignData, Outcome, campaign_dataset
from retain.models.uplift.halves import ERROR_COLUMNS, uplift_by_halves
from retain.models.uplift.store import new_version
from retain.schema import get_table

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
    """Every customer's uplift as of ``as_of``, valued as the planner does.

    Columns ``customer_id, action, uplift, uplift_honest, honest_group, honest_variance``.
    One row per customer and arm, valued by :func:`uplift_by_halves` (the module's docstring).
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
    out: pd.DataFrame = uplift_by_halves(
        make_learner(learner, random_state=seed),
        data.X,
        data.treatment,
        data.y,
        plan_X=current[list(data.features)].reset_index(drop=True),
        customer_ids=current["customer_id"].astype(str).tolist(),
        actions=names,
        random_state=seed,
    )
    return out


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
    _upgrade(con)
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


def _measured(con: BaseBackend) -> bool:
    """Whether the stored table has the measured-group columns (an older version's has not)."""
    columns = wh.read_table(con, UPLIFT_SCORES).columns
    return all(c in columns for c in ERROR_COLUMNS)


def _upgrade(con: BaseBackend) -> None:
    """Give a table an older version wrote the measured-group columns (null on its old rows).

    Rewritten whole (all or nothing, on every backend): it happens once per warehouse.
    """
    if not wh.table_exists(con, UPLIFT_SCORES) or _measured(con):
        return
    old = wh.read_table(con, UPLIFT_SCORES)
    schema = get_table(UPLIFT_SCORES).ibis_schema()
    wh.write_table(
        con,
        UPLIFT_SCORES,
        old.select(
            *[
                (old[c] if c in old.columns else ibis.null()).cast(schema[c]).name(c)
                for c in schema.names
            ]
        ),
    )


@dataclass(frozen=True)
class StoredUplift:
    """The newest stored uplift per action and where each came from."""

    frame: pd.DataFrame
    """``customer_id, action, uplift, uplift_honest, honest_group, honest_variance`` (the
    planner's uplift input; the group is null on rows an older version scored)."""
    sources: pd.DataFrame
    """One row per action: ``action, campaign_id, model_version, as_of, scored_at``."""
    unmeasured: tuple[str, ...] = ()
    """Actions whose newest scoring has no measured groups (an older version scored them):
    a plan on them has no interval until they are scored again."""

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
    columns = ["customer_id", "action", "uplift", "uplift_honest"]
    measured = _measured(con)
    frames = []
    unmeasured = []
    for run in newest.itertuples():
        part = table.filter(
            (table.action == run.action)
            & (table.campaign_id == run.campaign_id)
            & (table.model_version == run.model_version)
        )
        found = part.select(*columns, *(ERROR_COLUMNS if measured else ())).to_pandas()
        if not measured:  # null groups: a plan choosing these rows claims no interval
            found = found.assign(honest_group=None, honest_variance=float("nan"))
        if found["honest_group"].isna().any():
            unmeasured.append(str(run.action))
        frames.append(found)
    frame = pd.concat(frames, ignore_index=True)
    sources = newest[["action", "campaign_id", "model_version", "as_of", "scored_at"]]
    return StoredUplift(frame=frame, sources=sources, unmeasured=tuple(unmeasured))


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
