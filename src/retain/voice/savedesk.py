"""The save desk: cases routed to the agents who save the most, a random share kept measurable.

Cancellation requests and high-risk high-value customers become cases in a queue.

A case is described by its kind (``cancellation``, ``high_risk``), the customer's segment, the
stated reason and a value band. :func:`route` gives each open case to the agent with free
capacity whose *shrunk* save rate for that kind of case is highest: the agent's rate in the
case's cell (segment, reason, value band) is shrunk toward the agent's own overall rate, which
is shrunk toward the desk's overall rate (Beta priors of strength :data:`PRIOR_STRENGTH`, so an
agent with two saves out of two does not beat one with 60 out of 100). A share ``explore`` of
the cases (default 10%) goes to a free agent drawn at random instead, and is recorded as such
(``routed_randomly``): those cases estimate every agent's rate without the routing's selection.

:func:`rates` reports save rates per agent, reason or offer with Wilson 95% intervals.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from retain.appdb import utcnow
from retain.errors import InvalidParameterError
from retain.i18n import t
from retain.voice._case_tables import SaveDeskTask
from retain.voice._survey_tables import CancellationRecord

if TYPE_CHECKING:
    from retain.targeting.offers import OfferPlan

__all__ = [
    "FALLBACK_OFFERS",
    "KINDS",
    "PRIOR_STRENGTH",
    "Agent",
    "Rate",
    "customers_of",
    "flag_high_risk",
    "from_cancellations",
    "high_risk_candidates",
    "open_case",
    "planned_offers",
    "queue_of",
    "rates",
    "recommend_offer",
    "record_outcome",
    "route",
    "value_band",
    "wilson",
]

KINDS: Final = ("cancellation", "high_risk")
OUTCOMES: Final = ("saved", "cancelled")
#: Pseudo-observations of the Beta priors that shrink small samples toward the wider rate.
PRIOR_STRENGTH: Final = 10.0
#: Value-band edges in the reporting currency: below the first is ``low``, from the second up
#: is ``high``.
VALUE_BANDS: Final = (100.0, 1000.0)

#: The offer an agent is shown when the offer planner has no decision for the customer: what
#: answers the stated reason (a price complaint is met with a discount, not using it with a
#: pause, a service problem with a call that fixes it). Documented in docs/savedesk.md.
FALLBACK_OFFERS: Final[Mapping[str, str]] = {
    "price": "discount",
    "switched_to_competitor": "discount",
    "competitor": "discount",
    "not_using": "pause",
    "temporary": "pause",
    "missing_feature": "downgrade",
    "service_problem": "service_call",
}
_DEFAULT_OFFER: Final = "service_call"


@dataclass(frozen=True)
class Agent:
    """A save-desk agent and how many open cases they may hold at once."""

    name: str
    capacity: int


def value_band(value: float, edges: tuple[float, float] = VALUE_BANDS) -> str:
    """``low``, ``mid`` or ``high`` for a customer value."""
    return "low" if value < edges[0] else "mid" if value < edges[1] else "high"


def recommend_offer(reason: str, planned: str | None = None) -> str:
    """The offer to show: the planner's action when it has one, else the reason's fallback."""
    if planned and planned != "nothing":
        return planned
    return FALLBACK_OFFERS.get(reason, _DEFAULT_OFFER)


def open_case(
    session: Session,
    *,
    kind: str,
    customer_id: str,
    reason: str = "unknown",
    segment: str = "all",
    value: float = 0.0,
    planned_offer: str | None = None,
    at: dt.datetime | None = None,
    source: str | None = None,
) -> SaveDeskTask:
    """Queue a case; a customer with an open case of the same kind keeps that one.

    ``source`` names what raised the case (``cancel-<id>``): a source already queued, open or
    closed, is not queued again.
    """
    if kind not in KINDS:
        raise InvalidParameterError(t("voice_cases.bad_kind", kind=kind, allowed=", ".join(KINDS)))
    if source is not None:
        seen = session.scalar(select(SaveDeskTask).where(SaveDeskTask.source == source))
        if seen is not None:
            return seen
    existing = session.scalar(
        select(SaveDeskTask).where(
            SaveDeskTask.customer_id == customer_id,
            SaveDeskTask.kind == kind,
            SaveDeskTask.status != "done",
        )
    )
    if existing is not None:
        return existing
    task = SaveDeskTask(
        kind=kind,
        source=source,
        customer_id=customer_id,
        segment=segment or "all",
        reason=reason or "unknown",
        value=float(value),
        value_band=value_band(float(value)),
        offer=recommend_offer(reason, planned_offer),
        status="open",
        routed_randomly=False,
        note="",
        created_at=at or utcnow(),
    )
    session.add(task)
    session.flush()
    return task


def flag_high_risk(
    session: Session,
    customers: Iterable[tuple[str, float, float, str]],
    *,
    min_risk: float = 0.5,
    min_value: float = VALUE_BANDS[1],
    planned_offers: Mapping[str, str] | None = None,
) -> list[SaveDeskTask]:
    """Open a ``high_risk`` case for each (customer, churn risk, value, segment) over both bars."""
    planned = planned_offers or {}
    return [
        open_case(
            session,
            kind="high_risk",
            customer_id=cid,
            reason="model_risk",
            segment=segment,
            value=value,
            planned_offer=planned.get(cid),
        )
        for cid, risk, value, segment in customers
        if risk >= min_risk and value >= min_value
    ]


def planned_offers(plan: OfferPlan) -> dict[str, str]:
    """The offer planner's action for each customer it targets (held out and left out: none).

    What :func:`open_case` shows as the recommended offer; customers without one get the
    reason's fallback (:data:`FALLBACK_OFFERS`).
    """
    decisions = plan.decisions
    targets = decisions[(decisions["status"] == "target") & (decisions["action"] != "nothing")]
    return dict(zip(targets["customer_id"].astype(str), targets["action"].astype(str), strict=True))


def from_cancellations(
    session: Session,
    *,
    segments: Mapping[str, str] | None = None,
    values: Mapping[str, float] | None = None,
    planned_offers: Mapping[str, str] | None = None,
) -> list[SaveDeskTask]:
    """Queue a case for each hosted cancellation whose customer accepted a call from the desk.

    The cancellation flow (:mod:`retain.voice.cancel`) records the outcome ``saved`` with the
    offer ``save_desk_call`` for a customer who accepted the call; each becomes a
    ``cancellation`` case with the stated reason, once. A customer who declined the call
    (``cancelled``) or has not decided yet is not queued: nobody asked to be called.
    ``planned_offers`` (:func:`planned_offers` of the offer planner's plan) gives each case
    its recommended offer.
    """
    records = session.scalars(
        select(CancellationRecord)
        .where(
            CancellationRecord.offer == "save_desk_call",
            CancellationRecord.outcome == "saved",
        )
        .order_by(CancellationRecord.id)
    ).all()
    seg, val, planned = segments or {}, values or {}, planned_offers or {}
    return [
        open_case(
            session,
            kind="cancellation",
            customer_id=r.customer_id,
            reason=r.reason or "unknown",
            segment=seg.get(r.customer_id, "all"),
            value=val.get(r.customer_id, 0.0),
            planned_offer=planned.get(r.customer_id),
            at=r.decided_at or r.created_at,
            source=f"cancel-{r.id}",
        )
        for r in records
    ]


def high_risk_candidates(con: Any, definition: str) -> list[tuple[str, float, float, str]]:
    """Candidates for :func:`flag_high_risk` from the warehouse's newest scores.

    Rows are (customer, churn risk, CLV, segment); the segment is the churn definition. CLV is
    in the reporting currency; a customer without a CLV score counts as value 0.
    """
    from retain.targeting import latest_churn_scores
    from retain.targeting.scores import latest_clv_scores

    churn = latest_churn_scores(con, definition)
    clv = latest_clv_scores(con).select("customer_id", _clv="clv")
    both = churn.left_join(clv, churn.customer_id == clv.customer_id)
    frame = both.select(
        customer_id=churn.customer_id, probability=churn.probability, clv=both._clv
    ).to_pandas()
    return [
        (str(r.customer_id), float(r.probability), float(r.clv or 0.0), definition)
        for r in frame.fillna({"clv": 0.0}).itertuples(index=False)
    ]


def _shrunk(saved: float, cases: float, prior: float) -> float:
    """Posterior mean of a Beta prior with mean ``prior`` and :data:`PRIOR_STRENGTH` weight."""
    return (saved + PRIOR_STRENGTH * prior) / (cases + PRIOR_STRENGTH)


@dataclass
class _Tally:
    saved: int = 0
    cases: int = 0

    def add(self, saved: bool) -> None:
        self.saved += int(saved)
        self.cases += 1


def _cell(task: SaveDeskTask) -> tuple[str, str, str, str]:
    return (task.kind, task.segment, task.reason, task.value_band)


class _History:
    """Closed cases tallied per agent, per agent and cell, and for the whole desk."""

    def __init__(self, done: Iterable[SaveDeskTask]) -> None:
        self.desk = _Tally()
        self.agent: dict[str, _Tally] = defaultdict(_Tally)
        self.cell: dict[tuple[str, tuple[str, str, str, str]], _Tally] = defaultdict(_Tally)
        for task in done:
            if task.agent is None or task.outcome not in OUTCOMES:
                continue
            saved = task.outcome == "saved"
            self.desk.add(saved)
            self.agent[task.agent].add(saved)
            self.cell[(task.agent, _cell(task))].add(saved)

    def score(self, agent: str, task: SaveDeskTask) -> float:
        """The agent's shrunk save rate for a case like ``task``."""
        desk = _shrunk(self.desk.saved, self.desk.cases, 0.5)
        own = self.agent.get(agent, _Tally())
        overall = _shrunk(own.saved, own.cases, desk)
        cell = self.cell.get((agent, _cell(task)), _Tally())
        return _shrunk(cell.saved, cell.cases, overall)


def route(
    session: Session,
    agents: Sequence[Agent],
    *,
    explore: float = 0.1,
    rng: random.Random | None = None,
    at: dt.datetime | None = None,
) -> list[SaveDeskTask]:
    """Assign open cases, oldest first, while some agent has free capacity; return them.

    Each case goes, with probability ``explore``, to a free agent drawn uniformly (recorded in
    ``routed_randomly``), and otherwise to the free agent with the best shrunk save rate for
    its kind of case (ties: fewer open cases, then name).
    """
    if not 0.0 <= explore <= 1.0:
        raise InvalidParameterError(t("voice_cases.bad_explore", explore=explore))
    draw = rng or random.SystemRandom()
    now = at or utcnow()
    tasks = session.scalars(select(SaveDeskTask)).all()
    history = _History(t for t in tasks if t.status == "done")
    load: dict[str, int] = defaultdict(int)
    for task in tasks:
        if task.status == "assigned" and task.agent is not None:
            load[task.agent] += 1
    waiting = sorted((t for t in tasks if t.status == "open"), key=lambda t: (t.created_at, t.id))
    assigned: list[SaveDeskTask] = []
    for task in waiting:
        free = [a for a in agents if load[a.name] < a.capacity]
        if not free:
            break
        if draw.random() < explore:
            chosen, task.routed_randomly = draw.choice(free), True
        else:
            chosen = max(free, key=lambda a: (history.score(a.name, task), -load[a.name], a.name))
            task.routed_randomly = False
        task.agent, task.status, task.assigned_at = chosen.name, "assigned", now
        load[chosen.name] += 1
        assigned.append(task)
    session.flush()
    return assigned


def record_outcome(
    session: Session,
    task: SaveDeskTask,
    outcome: str,
    *,
    offer: str | None = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> SaveDeskTask:
    """Close a case as ``saved`` or ``cancelled`` with the offer made (default: the shown one)."""
    if outcome not in OUTCOMES:
        raise InvalidParameterError(t("voice_cases.bad_outcome", outcome=outcome))
    if task.status == "done":
        raise InvalidParameterError(t("voice_cases.task_done"))
    task.outcome = outcome
    task.outcome_offer = offer or task.offer
    task.note = note
    task.status = "done"
    task.closed_at = at or utcnow()
    session.flush()
    return task


def queue_of(session: Session, agent: str, *, include_done: bool = False) -> list[SaveDeskTask]:
    """The cases assigned to ``agent`` (what the agent role may see), oldest first."""
    query = select(SaveDeskTask).where(SaveDeskTask.agent == agent)
    if not include_done:
        query = query.where(SaveDeskTask.status != "done")
    return list(session.scalars(query.order_by(SaveDeskTask.created_at, SaveDeskTask.id)))


def customers_of(session: Session, agent: str) -> set[str]:
    """The customers in ``agent``'s queue: the only customers the agent role may open."""
    return {task.customer_id for task in queue_of(session, agent)}


def wilson(successes: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default); (0, 1) without trials."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Rate:
    """The save rate of one group (an agent, a reason or an offer) with its Wilson interval."""

    by: str
    group: str
    cases: int
    saved: int
    rate: float
    ci_low: float
    ci_high: float
    random_cases: int


_BY: Final = ("agent", "reason", "offer", "kind", "segment", "value_band")


def rates(session: Session, *, by: str = "agent", randomized_only: bool = False) -> list[Rate]:
    """Save rates of closed cases per ``by`` (agent, reason, offer, kind, segment, value_band).

    ``randomized_only`` keeps the randomly routed cases: agents' rates free of the routing's
    selection (the best agent gets the easiest cases otherwise).
    """
    if by not in _BY:
        raise InvalidParameterError(t("voice_cases.bad_by", by=by, allowed=", ".join(_BY)))
    query = select(SaveDeskTask).where(SaveDeskTask.status == "done")
    if randomized_only:
        query = query.where(SaveDeskTask.routed_randomly.is_(True))
    tally: dict[str, _Tally] = defaultdict(_Tally)
    randoms: dict[str, int] = defaultdict(int)
    for task in session.scalars(query):
        if task.outcome not in OUTCOMES:
            continue
        key = task.outcome_offer if by == "offer" else getattr(task, by)
        group = str(key) if key is not None else ""
        tally[group].add(task.outcome == "saved")
        randoms[group] += int(task.routed_randomly)
    out = []
    for group, count in sorted(tally.items()):
        low, high = wilson(count.saved, count.cases)
        out.append(
            Rate(
                by=by,
                group=group,
                cases=count.cases,
                saved=count.saved,
                rate=count.saved / count.cases,
                ci_low=low,
                ci_high=high,
                random_cases=randoms[group],
            )
        )
    return out
