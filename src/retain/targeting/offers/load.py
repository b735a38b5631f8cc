"""The customers a plan covers, read from the warehouse: risk, value and order value.

One row per customer in a business line's latest churn scores (as known on ``as_of``), with
the latest CLV (in the reporting currency) and the expected spend of one order, which prices a
discount. A customer without a CLV is planned with a value of 0, so no offer is ever worth it
for them (they are left out as "not worth the cost" rather than valued by a guess).
``segment`` keeps the members of a stored segment (``retain segments ...``) on its newest date
on or before ``as_of``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import ibis
import pandas as pd

from retain.config import ChurnDefinition, OfferSettings
from retain.errors import InvalidParameterError, NotFoundError
from retain.facts import DateLike, as_timestamp
from retain.i18n import t
from retain.targeting.offers.honest import uplift_by_halves
from retain.targeting.offers.plan import OfferPlan, plan_offers
from retain.targeting.scores import latest_churn_scores, latest_clv_scores
from retain.targeting.segments import SEGMENT_NAMES, membership_dates, memberships

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["campaign_uplift", "plan_from_warehouse", "planning_customers", "segment_scheme"]


def segment_scheme(segment: str) -> str:
    """The scheme a segment name belongs to, or a clear error listing the names."""
    for scheme, names in SEGMENT_NAMES.items():
        if segment in names:
            return scheme
    known = ", ".join(n for names in SEGMENT_NAMES.values() for n in names)
    raise InvalidParameterError(
        t("offers.unknown_segment", segment=segment, known=known),
        hint=t("offers.unknown_segment_hint"),
    )


def planning_customers(
    con: BaseBackend,
    *,
    definition: str,
    as_of: DateLike | None = None,
    segment: str | None = None,
    members: ibis.Table | None = None,
) -> pd.DataFrame:
    """``customer_id, churn_probability, clv, order_value`` of the customers a plan covers.

    ``segment`` keeps a stored segment's members (``retain segments rfm`` ...); ``members``, a
    table with a ``customer_id`` column, keeps those customers (a saved segment's members, from
    :func:`retain.targeting.segments.saved.members_of`).
    """
    churn = latest_churn_scores(con, definition, as_of=as_of)
    run = churn.as_of.max()
    churn = churn.filter(churn.as_of == run).select(
        "customer_id", churn_probability=churn.probability
    )
    clv = latest_clv_scores(con, as_of=as_of)
    clv = clv.select(
        _cid=clv.customer_id,
        clv=clv.clv,
        order_value=ibis.coalesce(clv.expected_spend, clv.monetary_value, 0.0),
    )
    table = churn.left_join(clv, churn.customer_id == clv._cid).drop("_cid")
    if members is not None:
        kept = members.select(_mid="customer_id").distinct()
        table = table.inner_join(kept, table.customer_id == kept._mid).drop("_mid")
    elif segment is not None:
        table = _in_segment(con, table, segment, as_of)
    frame = table.order_by("customer_id").to_pandas()
    frame["clv"] = frame["clv"].astype("float64").fillna(0.0)
    frame["order_value"] = frame["order_value"].astype("float64").fillna(0.0)
    frame["churn_probability"] = frame["churn_probability"].astype("float64")
    out: pd.DataFrame = frame[["customer_id", "churn_probability", "clv", "order_value"]]
    return out


def _in_segment(
    con: BaseBackend, table: ibis.Table, segment: str, as_of: DateLike | None
) -> ibis.Table:
    scheme = segment_scheme(segment)
    dates = membership_dates(con, scheme)
    if as_of is not None:
        dates = [d for d in dates if d <= as_timestamp(as_of)]
    if not dates:
        raise NotFoundError(
            t("offers.segment_not_stored", segment=segment, scheme=scheme),
            hint=t("offers.segment_not_stored_hint", command=scheme.replace("_", "-")),
        )
    members = memberships(con, scheme, dates[-1], segment).select(_mid="customer_id")
    return table.inner_join(members, table.customer_id == members._mid).drop("_mid")


def plan_from_warehouse(
    con: BaseBackend,
    *,
    budget: float,
    definition: str,
    settings: OfferSettings,
    as_of: DateLike | None = None,
    segment: str | None = None,
    members: ibis.Table | None = None,
    uplift: pd.DataFrame | None = None,
    plan_id: str | None = None,
    campaigns: Mapping[str, str] | None = None,
    line: ChurnDefinition | None = None,
    use_stored: bool = True,
) -> OfferPlan:
    """:func:`planning_customers` planned with :func:`plan_offers`; nobody scored is an error.

    ``campaigns`` (``{campaign_id: action}``) learns the uplift from those past campaigns with
    :func:`campaign_uplift` (``line`` is the business line's definition, needed then), added
    to ``uplift`` when both are given. Without either, the newest uplift stored per action in
    ``uplift_scores`` (``retain uplift score --store``, the demo pipeline) is used and named in
    the plan, which says which actions an older version scored without the groups its interval
    needs (``use_stored=False`` skips it); without that, the heuristic. ``members`` (a
    saved segment's customers) keeps only them; ``segment`` then just names it in the plan.
    """
    customers = planning_customers(
        con, definition=definition, as_of=as_of, segment=segment, members=members
    )
    if customers.empty and segment is None:
        raise NotFoundError(
            t("offers.no_scores", definition=definition), hint=t("offers.no_scores_hint")
        )
    source: str | None = None
    unmeasured: tuple[str, ...] = ()
    if uplift is None and not campaigns and use_stored:
        from retain.models.uplift.scores import stored_uplift

        stored = stored_uplift(con, as_of=as_of)
        if stored is not None:
            uplift, source, unmeasured = stored.frame, stored.label(), stored.unmeasured
    if campaigns:
        learned = campaign_uplift(
            con,
            customers,
            campaigns,
            definition=line or ChurnDefinition(name=definition),
            as_of=as_of,
        )
        uplift = learned if uplift is None else pd.concat([uplift, learned], ignore_index=True)
    day = as_timestamp(as_of).date() if as_of is not None else None
    return plan_offers(
        customers,
        budget=budget,
        settings=settings,
        uplift=uplift,
        plan_id=plan_id,
        as_of=day,
        segment=segment,
        source=source,
        unmeasured=unmeasured,
    )


def campaign_uplift(
    con: BaseBackend,
    customers: pd.DataFrame,
    campaigns: Mapping[str, str],
    *,
    definition: ChurnDefinition,
    as_of: DateLike | None = None,
    window_days: int = 60,
) -> pd.DataFrame:
    """Uplift of ``customers`` from past campaigns: ``{campaign_id: action}``, one action each.

    Each campaign (a randomized holdout in ``interactions``) becomes training data with
    :func:`retain.models.uplift.campaign_dataset` (retention within ``window_days``, features
    at its start); a T-learner is split by halves with :func:`uplift_by_halves` and applied to
    the customers' features now (as of ``as_of``, default their scores' date), so the plan is
    chosen and valued on independent estimates.
    """
    from retain.features import feature_snapshot
    from retain.models.uplift import TLearner, campaign_dataset

    ids = customers["customer_id"].astype(str)
    frames = []
    for campaign_id, action in campaigns.items():
        data = campaign_dataset(
            con, campaign_id, outcome="retention", window_days=window_days, definition=definition
        )
        stamp = as_timestamp(as_of) if as_of is not None else _scores_date(con, definition.name)
        snapshot = feature_snapshot(con, as_of=stamp, definition=definition).to_pandas()
        plan_x = (
            snapshot.assign(customer_id=snapshot["customer_id"].astype(str))
            .set_index("customer_id")
            .reindex(ids)[list(data.features)]
            .reset_index(drop=True)
        )
        frames.append(
            uplift_by_halves(
                TLearner(random_state=0, min_child_samples=400),
                data.X,
                data.treatment,
                data.y,
                plan_X=plan_x,
                customer_ids=ids.tolist(),
                actions=dict.fromkeys(data.arms, action),
            )
        )
    return pd.concat(frames, ignore_index=True)


def _scores_date(con: BaseBackend, definition: str) -> pd.Timestamp:
    run = latest_churn_scores(con, definition).as_of.max().execute()
    return pd.Timestamp(run)
