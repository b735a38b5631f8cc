"""The hosted cancellation flow: the stated reason, the offer that pays, the recorded outcome.

The company's site links a subscription customer to ``/cancel/{token}`` (a signed ``cancel``
link, :func:`cancel_link`). The page asks the reason (:data:`REASONS`, configurable by passing
another tuple), records it at once (:func:`state_reason`; it becomes an ``exit_survey``
interaction with ``reason`` and ``comment``, whatever the customer does next), then offers
what :func:`choose_offer` picks and records the outcome, ``saved`` with the accepted offer or
``cancelled`` (:func:`decide`). One link records one outcome.

Which offer: an :data:`OfferSource` (a callable giving the offer planner's action for a customer,
e.g. :class:`PlanOffers` over a :class:`retain.targeting.offers.OfferPlan`) decides. When it
has nothing for the customer (not in the plan, held out, left out, or no planner configured),
the documented fallback :data:`FALLBACK_OFFERS` maps the stated reason to one offer: a pause for
someone leaving for a while or not using it, a discount for price or a competitor, a smaller
plan for a missing feature, and a call from the save desk for a service problem or anything
else, because a person can find out what no rule knows. :func:`choose` also says why
(:class:`OfferChoice`), and :func:`decide` records it with the outcome (``offer_basis``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import pyarrow as pa
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from retain.appdb import utcnow
from retain.config import Settings
from retain.errors import RetainError
from retain.i18n import t
from retain.ingest.append import Interaction
from retain.ingest.append import append_interactions as append_to_warehouse
from retain.ingest.load import ingest
from retain.voice._survey_tables import CancellationRecord
from retain.voice.links import LinkClaims, LinkError, id_hash, sign, verify

if TYPE_CHECKING:
    from retain.targeting.offers import OfferPlan

__all__ = [
    "FALLBACK_OFFERS",
    "OFFERS",
    "REASONS",
    "CancelError",
    "OfferChoice",
    "OfferSource",
    "PlanOffers",
    "append_interactions",
    "cancel_link",
    "choose",
    "choose_offer",
    "decide",
    "offer_from_plan",
    "open_cancellation",
    "state_reason",
]

REASONS: Final = (
    "price",
    "not_using",
    "missing_feature",
    "competitor",
    "service_problem",
    "temporary",
    "other",
)
OFFERS: Final = ("pause", "downgrade", "discount", "save_desk_call")
FALLBACK_OFFERS: Final[dict[str, str]] = {
    "price": "discount",
    "competitor": "discount",
    "not_using": "pause",
    "temporary": "pause",
    "missing_feature": "downgrade",
    "service_problem": "save_desk_call",
    "other": "save_desk_call",
}
DEFAULT_TTL: Final = dt.timedelta(days=2)

#: The planner's offer for (customer id, stated reason), or None when it has nothing to offer.
OfferSource = Callable[[str, str], str | None]

#: What a planner action of each kind (``[[offers.actions]]`` ``kind``) is on this page.
KIND_OFFERS: Final[Mapping[str, str]] = {"discount": "discount", "call": "save_desk_call"}


class CancelError(RetainError):
    """A cancellation step the flow cannot take (unknown reason, an offer it did not make)."""

    default_code = "voice.bad_cancellation"


def offer_from_plan(plan: OfferPlan, kinds: Mapping[str, str] | None = None) -> PlanOffers:
    """An :data:`OfferSource` giving a plan's action for its targets (nothing for the rest).

    A planner action is used when its name contains one of :data:`OFFERS` (``discount_10``
    counts as ``discount``) or its kind (``kinds``: action name to ``[[offers.actions]]`` kind)
    is a discount or a call; other actions count as nothing, so the fallback decides.
    """
    return PlanOffers.from_plan(plan, kinds)


def page_offer(action: str, kind: str | None = None) -> str | None:
    """The page's offer for a planner action: by its name (``pause_1m``), else by its kind.

    ``discount`` actions are the discount, ``call`` actions the save desk's call; shipping and
    message actions have no offer on this page (None), so the fallback decides.
    """
    named = next((o for o in OFFERS if o in action), None)
    return named or (KIND_OFFERS.get(kind) if kind else None)


@dataclass(frozen=True)
class PlanOffers:
    """An :data:`OfferSource` over one plan: each customer's offer, or why there is none.

    ``why`` holds, for the customers the plan left without an offer on this page, the plan's
    reason (``held_out``, ``would_stay``, ``over_budget`` ...) or ``not_on_page``; a customer
    the plan never saw is ``missing`` (``not_in_plan``, or ``no_plan`` when there is no plan).
    """

    plan_id: str | None = None
    offers: Mapping[str, str] = field(default_factory=dict)
    why: Mapping[str, str] = field(default_factory=dict)
    missing: str = "no_plan"

    @classmethod
    def from_plan(cls, plan: OfferPlan, kinds: Mapping[str, str] | None = None) -> PlanOffers:
        """The plan's targets with their page offer; ``kinds`` maps action names to kinds."""
        kinds = kinds or {}
        offers: dict[str, str] = {}
        why: dict[str, str] = {}
        columns = plan.decisions[["customer_id", "status", "action", "reason"]]
        for cid, status, action, reason in columns.itertuples(index=False):
            offer = page_offer(str(action), kinds.get(str(action)))
            if status == "target" and offer is not None:
                offers[str(cid)] = offer
            else:
                why[str(cid)] = "not_on_page" if status == "target" else str(reason)
        return cls(plan.plan_id, offers, why, "not_in_plan")

    def __call__(self, customer_id: str, _reason: str) -> str | None:
        """The page offer the plan gives ``customer_id`` (None: the fallback decides)."""
        return self.offers.get(customer_id)

    def basis(self, customer_id: str) -> str:
        """``plan``, or why the plan gives ``customer_id`` no offer on this page."""
        if customer_id in self.offers:
            return "plan"
        return self.why.get(customer_id, self.missing)


@dataclass(frozen=True)
class OfferChoice:
    """The offer the page makes and why: ``plan``, or the reason the fallback decided."""

    offer: str
    basis: str
    plan_id: str | None = None


def choose(customer_id: str, reason: str, source: OfferSource | None = None) -> OfferChoice:
    """The planner's offer for this customer, else :data:`FALLBACK_OFFERS`, with the why."""
    planned = source(customer_id, reason) if source is not None else None
    plan_id = source.plan_id if isinstance(source, PlanOffers) else None
    if planned in OFFERS:
        return OfferChoice(str(planned), "plan", plan_id)
    if isinstance(source, PlanOffers):
        basis = source.basis(customer_id)
    else:
        basis = "no_plan" if source is None else "not_in_plan"
    return OfferChoice(FALLBACK_OFFERS.get(reason, "save_desk_call"), basis, plan_id)


def choose_offer(customer_id: str, reason: str, source: OfferSource | None = None) -> str:
    """The planner's offer for this customer, else :data:`FALLBACK_OFFERS` for the reason."""
    return choose(customer_id, reason, source).offer


def cancel_link(
    secret: str | bytes,
    customer_id: str,
    *,
    language: str = "en",
    ttl: dt.timedelta = DEFAULT_TTL,
    now: dt.datetime | None = None,
) -> str:
    """A signed token for ``/cancel/{token}``, to put on the company's own site."""
    token, _ = sign(
        secret,
        purpose="cancel",
        customer_id=customer_id,
        language=language,
        expires_at=(now or utcnow()) + ttl,
    )
    return token


def open_cancellation(
    session: Session, secret: str | bytes, token: str, *, now: dt.datetime | None = None
) -> tuple[LinkClaims, CancellationRecord | None]:
    """A genuine, unexpired link and its record so far; a decided one is :class:`LinkError`."""
    claims = verify(secret, token, purpose="cancel", now=now or utcnow())
    record = session.scalar(
        select(CancellationRecord).where(CancellationRecord.token_hash == id_hash(claims.link_id))
    )
    if record is not None and record.outcome is not None:
        raise LinkError("used")
    return claims, record


def state_reason(
    session: Session,
    secret: str | bytes,
    token: str,
    *,
    reason: str,
    comment: str = "",
    reasons: Sequence[str] = REASONS,
    now: dt.datetime | None = None,
) -> CancellationRecord:
    """Record the stated reason (once per link; a second statement replaces the first)."""
    if reason not in reasons:
        raise CancelError(t("voice_surveys.bad_reason", reason=reason, allowed=", ".join(reasons)))
    claims, record = open_cancellation(session, secret, token, now=now)
    if record is None:
        record = CancellationRecord(
            token_hash=id_hash(claims.link_id),
            customer_id=claims.customer_id,
            language=claims.language,
            created_at=now or utcnow(),
        )
        session.add(record)
    record.reason = reason
    record.comment = comment.strip()[:4000]
    session.commit()
    return record


def decide(
    session: Session,
    secret: str | bytes,
    token: str,
    *,
    accepted: bool,
    offer: str,
    basis: OfferChoice | None = None,
    now: dt.datetime | None = None,
) -> CancellationRecord:
    """Record ``saved`` (the offer was accepted) or ``cancelled``; one outcome per link.

    ``basis`` (what :func:`choose` answered) records why this offer was made.
    """
    if offer not in OFFERS:
        raise CancelError(t("voice_surveys.bad_offer", offer=offer))
    _claims, record = open_cancellation(session, secret, token, now=now)
    if record is None or record.reason is None:
        raise LinkError("unknown")
    done = session.execute(
        update(CancellationRecord)
        .where(CancellationRecord.id == record.id, CancellationRecord.outcome.is_(None))
        .values(
            outcome="saved" if accepted else "cancelled",
            offer=offer,
            offer_basis=basis.basis if basis is not None else None,
            plan_id=basis.plan_id if basis is not None else None,
            decided_at=now or utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) != 1:
        session.rollback()
        raise LinkError("used")
    session.commit()
    session.refresh(record)
    return record


def append_interactions(
    session: Session, settings: Settings, records: Sequence[int], *, con: Any = None
) -> int:
    """Append the stated reasons of ``records`` (ids) as ``exit_survey`` interactions.

    Keyed ``exit-<id>``, so appending a record again (a retry) changes nothing; the outcome
    rides along in the properties once decided, with why the offer was made (``offer_basis``:
    ``plan`` or the fallback's reason) and the plan read (``plan_id``). Each also appends the
    visit itself as a ``cancel_page_view`` event (same id), which the churn features count
    (``cancel_page_views_30d``, ``days_since_cancel_page_view``) and the model's reasons name.
    """
    rows = session.scalars(
        select(CancellationRecord).where(
            CancellationRecord.id.in_(list(records)), CancellationRecord.reason.is_not(None)
        )
    ).all()
    if not rows:
        return 0
    append_to_warehouse(
        (
            Interaction(
                interaction_id=f"exit-{r.id}",
                customer_id=r.customer_id,
                occurred_at=r.created_at,
                kind="exit_survey",
                channel="web",
                properties={
                    "reason": r.reason,
                    "comment": r.comment,
                    "offer": r.offer,
                    "outcome": r.outcome,
                    "offer_basis": r.offer_basis,
                    "plan_id": r.plan_id,
                },
            )
            for r in rows
        ),
        settings=settings,
        con=con,
    )
    visits = pa.table(
        {
            "event_id": [f"exit-{r.id}" for r in rows],
            "customer_id": [r.customer_id for r in rows],
            "occurred_at": [r.created_at for r in rows],
            "name": ["cancel_page_view"] * len(rows),
            "channel": ["web"] * len(rows),
            "properties": [json.dumps({"source": "retain_cancel_page"})] * len(rows),
        }
    )
    ingest("events", visits, con=con, settings=settings, on_error="quarantine")
    return len(rows)
