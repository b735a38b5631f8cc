"""Surveys: invite by signed link, accept one answer per invitation, log it, follow up detractors.

- :func:`invite` creates an invitation (the database keeps the hash of the link id) and returns
  the token for ``/s/{token}``; :func:`enqueue_invitation` also writes an outbox message for
  ``retain worker`` to deliver (a playbook's path).
- :func:`answer` validates the score for the survey's kind and accepts it once: the invitation
  is claimed with ``UPDATE ... WHERE answered_at IS NULL``, so two concurrent submits cannot
  both count. A detractor's NPS answer (0-6) opens a follow-up (:data:`FOLLOWUP_HOOKS`).
- :func:`append_interactions` copies accepted answers to the warehouse's ``interactions`` as
  ``survey_answer`` with properties ``survey``, ``score``, ``comment`` (keyed ``survey-<id>``, so
  re-appending after a crash changes nothing), which the churn features read.

NPS statistics live in :mod:`retain.voice.nps`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from retain.appdb import utcnow
from retain.config import Settings
from retain.errors import NotFoundError, RetainError
from retain.i18n import LANGUAGES, t
from retain.ingest.append import Interaction
from retain.ingest.append import append_interactions as append_to_warehouse
from retain.voice._case_tables import CustomerTask
from retain.voice._survey_tables import FollowUpTask, Survey, SurveyInvitation, SurveyResponse
from retain.voice.links import LinkClaims, LinkError, id_hash, sign, verify

__all__ = [
    "FOLLOWUP_HOOKS",
    "KINDS",
    "SCALES",
    "AnswerError",
    "AudienceInvited",
    "Invitation",
    "answer",
    "append_interactions",
    "enqueue_invitation",
    "ensure_survey",
    "invite",
    "invite_audience",
    "open_followups",
    "open_invitation",
    "require_survey",
]

KINDS: Final = ("nps", "csat", "ces", "free")
#: Inclusive score range per kind; a ``free`` survey has no score.
SCALES: Final[dict[str, tuple[int, int]]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
DEFAULT_TTL: Final = dt.timedelta(days=14)
MAX_COMMENT: Final = 4000

FollowUpHook = Callable[[Session, SurveyResponse], None]


def _detractor_task(session: Session, response: SurveyResponse) -> None:
    """The built-in hook: an open ``voice_followups`` row for a detractor's NPS answer."""
    session.add(
        FollowUpTask(
            customer_id=response.customer_id,
            kind="detractor_followup",
            source=f"survey-{response.id}",
            detail=response.comment[:1000],
        )
    )


FOLLOWUP_OWNER = "customer-care"
"""Who owns the customer-360 task a detractor's answer opens (a team name or a user's e-mail)."""
FOLLOWUP_DUE: Final = dt.timedelta(days=2)


def _customer_task(session: Session, response: SurveyResponse) -> None:
    """A to-do on the customer 360 (``voice_tasks``): call the detractor back within two days."""
    from retain.voice.work import add_task

    add_task(
        session,
        response.customer_id,
        t("voice_surveys.followup_title", score=response.score, comment=response.comment[:200]),
        owner=FOLLOWUP_OWNER,
        created_by=f"survey-{response.id}",
        due_on=(response.answered_at + FOLLOWUP_DUE).date(),
    )


def open_followups(session: Session) -> list[CustomerTask]:
    """The customer-360 tasks survey answers opened (detractors' call-backs) not done yet.

    Earliest due first; marking the task done on the customer 360 closes it.
    """
    from retain.voice.work import open_tasks

    return [task for task in open_tasks(session) if task.created_by.startswith("survey-")]


FOLLOWUP_HOOKS: list[FollowUpHook] = [_detractor_task, _customer_task]
"""Called in the answer's transaction for each NPS detractor (0-6): by default a
``voice_followups`` row and a task on the customer 360 for :data:`FOLLOWUP_OWNER`. Other code
may append its own hook (e.g. a save-desk case); each must only add rows to the session it is
given, never commit."""


class AnswerError(RetainError):
    """An answer the survey cannot take (score outside the scale, missing score)."""

    default_code = "voice.bad_answer"


@dataclass(frozen=True)
class Invitation:
    """A created invitation: its token (for ``/s/{token}``) and the stored row's id."""

    token: str
    invitation_id: int
    claims: LinkClaims


def ensure_survey(
    session: Session, name: str, kind: str | None = None, questions: list[str] | None = None
) -> Survey:
    """The survey ``name``, created on first use (``nps``, ``csat`` and ``ces`` need no kind)."""
    found = session.scalar(select(Survey).where(Survey.name == name))
    if found is not None:
        return found
    kind = kind or (name if name in SCALES else None)
    if kind not in KINDS:
        raise AnswerError(t("voice_surveys.bad_kind", kind=kind or "", allowed=", ".join(KINDS)))
    survey = Survey(name=name, kind=kind, questions=json.dumps(questions or [], ensure_ascii=False))
    session.add(survey)
    session.flush()
    return survey


def require_survey(session: Session, survey: str) -> None:
    """:class:`~retain.errors.NotFoundError` unless ``survey`` is built in or defined."""
    if survey not in SCALES and session.scalar(select(Survey).where(Survey.name == survey)) is None:
        raise NotFoundError(
            t("voice_surveys.unknown_survey", name=survey, allowed=", ".join(SCALES)),
            code="voice.unknown_survey",
        )


def invite(
    session: Session,
    secret: str | bytes,
    *,
    survey: str,
    customer_id: str,
    language: str = "en",
    ttl: dt.timedelta = DEFAULT_TTL,
    now: dt.datetime | None = None,
) -> Invitation:
    """Create an invitation for ``customer_id`` (flushed, not committed) and its signed token.

    ``survey`` is ``nps``, ``csat``, ``ces`` or a survey defined before; another name is a
    :class:`~retain.errors.NotFoundError` (404), so a typo never creates an empty survey.
    """
    require_survey(session, survey)
    ensure_survey(session, survey)
    start = now or utcnow()
    token, claims = sign(
        secret,
        purpose="survey",
        customer_id=customer_id,
        survey=survey,
        language=language,
        expires_at=start + ttl,
    )
    row = SurveyInvitation(
        token_hash=id_hash(claims.link_id),
        survey=survey,
        customer_id=customer_id,
        language=language,
        created_at=start,
        expires_at=claims.expires_at,
    )
    session.add(row)
    session.flush()
    return Invitation(token=token, invitation_id=row.id, claims=claims)


def enqueue_invitation(
    session: Session,
    secret: str | bytes,
    *,
    survey: str,
    customer_id: str,
    recipient: str,
    base_url: str,
    language: str = "en",
    playbook: str | None = None,
    ttl: dt.timedelta = DEFAULT_TTL,
) -> Invitation:
    """Invite and write the e-mail with the link to engage's outbox, in one transaction."""
    from retain.engage import outbox

    inv = invite(
        session, secret, survey=survey, customer_id=customer_id, language=language, ttl=ttl
    )
    url = f"{base_url.rstrip('/')}/s/{inv.token}"
    outbox.enqueue(
        session,
        customer_id=customer_id,
        channel="email",
        recipient=recipient,
        payload={
            "subject": t("voice_surveys.mail_subject", lang=language),
            "body": t("voice_surveys.mail_body", lang=language, url=url),
        },
        idempotency_key=f"survey-invite-{inv.invitation_id}",
        language=language,
        advertising=False,
        playbook=playbook,
    )
    return inv


@dataclass(frozen=True)
class AudienceInvited:
    """What :func:`invite_audience` did: who was invited, and who was skipped and why."""

    invited: list[Invitation]
    no_email: list[str]
    already_invited: list[str]


def invite_audience(
    session: Session,
    secret: str | bytes,
    *,
    survey: str,
    recipients: Iterable[tuple[str, str | None, str | None]],
    base_url: str,
    language: str | None = None,
    ttl: dt.timedelta = DEFAULT_TTL,
    now: dt.datetime | None = None,
) -> AudienceInvited:
    """Invite each ``(customer, e-mail, language)`` by e-mail through the outbox (not committed).

    The page speaks ``language`` when given, else the customer's own (en, ja or ko; English
    otherwise). A customer without an e-mail address is skipped, and so is one who already
    holds an open invitation to ``survey`` (unanswered and unexpired), so running the same
    invitation twice writes to nobody twice.
    """
    require_survey(session, survey)
    current = now or utcnow()
    held = set(
        session.scalars(
            select(SurveyInvitation.customer_id).where(
                SurveyInvitation.survey == survey,
                SurveyInvitation.answered_at.is_(None),
                SurveyInvitation.expires_at > current,
            )
        )
    )
    invited: list[Invitation] = []
    no_email: list[str] = []
    already: list[str] = []
    for customer_id, email, own in recipients:
        if customer_id in held:
            already.append(customer_id)
            continue
        if not email or not email.strip():
            no_email.append(customer_id)
            continue
        speaks = language or (own if own in LANGUAGES else "en")
        invited.append(
            enqueue_invitation(
                session,
                secret,
                survey=survey,
                customer_id=customer_id,
                recipient=email.strip(),
                base_url=base_url,
                language=speaks,
                ttl=ttl,
            )
        )
        held.add(customer_id)
    return AudienceInvited(invited, no_email, already)


def open_invitation(
    session: Session, secret: str | bytes, token: str, *, now: dt.datetime | None = None
) -> tuple[SurveyInvitation, Survey]:
    """The invitation behind a genuine, unexpired, unanswered link; else :class:`LinkError`."""
    current = now or utcnow()
    claims = verify(secret, token, purpose="survey", now=current)
    row = session.scalar(
        select(SurveyInvitation).where(SurveyInvitation.token_hash == id_hash(claims.link_id))
    )
    if row is None or row.customer_id != claims.customer_id:
        raise LinkError("unknown")
    if current >= row.expires_at:
        raise LinkError("expired")
    if row.answered_at is not None:
        raise LinkError("used")
    survey = ensure_survey(session, row.survey)
    return row, survey


def answer(
    session: Session,
    secret: str | bytes,
    token: str,
    *,
    score: int | None,
    comment: str = "",
    answers: dict[str, str] | None = None,
    now: dt.datetime | None = None,
) -> SurveyResponse:
    """Accept one answer for the link's invitation and commit it; refuse a second one."""
    current = now or utcnow()
    invitation, survey = open_invitation(session, secret, token, now=current)
    scale = SCALES.get(survey.kind)
    if scale is not None:
        if score is None or not scale[0] <= score <= scale[1]:
            raise AnswerError(t("voice_surveys.bad_score", low=scale[0], high=scale[1]))
    else:
        score = None
    claimed = session.execute(
        update(SurveyInvitation)
        .where(SurveyInvitation.id == invitation.id, SurveyInvitation.answered_at.is_(None))
        .values(answered_at=current)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        session.rollback()
        raise LinkError("used")
    response = SurveyResponse(
        invitation_id=invitation.id,
        survey=invitation.survey,
        customer_id=invitation.customer_id,
        score=score,
        comment=comment.strip()[:MAX_COMMENT],
        answers=json.dumps(answers or {}, ensure_ascii=False),
        answered_at=current,
    )
    session.add(response)
    session.flush()
    if survey.kind == "nps" and score is not None and score <= 6:
        for hook in FOLLOWUP_HOOKS:
            hook(session, response)
    session.commit()
    return response


def append_interactions(
    session: Session, settings: Settings, *, limit: int = 5000, con: Any = None
) -> int:
    """Append answers not yet logged to ``interactions`` (``con`` or the settings' warehouse)."""
    pending = session.scalars(
        select(SurveyResponse)
        .where(SurveyResponse.logged.is_(False))
        .order_by(SurveyResponse.id)
        .limit(limit)
    ).all()
    if not pending:
        return 0
    append_to_warehouse(
        (
            Interaction(
                interaction_id=f"survey-{r.id}",
                customer_id=r.customer_id,
                occurred_at=r.answered_at,
                kind="survey_answer",
                channel="web",
                properties={"survey": r.survey, "score": r.score, "comment": r.comment},
            )
            for r in pending
        ),
        settings=settings,
        con=con,
    )
    session.execute(
        update(SurveyResponse)
        .where(SurveyResponse.id.in_([r.id for r in pending]))
        .values(logged=True)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return len(pending)
