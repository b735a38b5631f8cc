"""The survey action: a playbook's decision becomes a survey invitation with a signed link.

For each decision of a playbook with ``action = { kind = "survey", survey = "nps" }`` that
passes the guardrails (caps, holdout, consent, quiet hours: the same as any message),
:func:`invite_for` creates the invitation in :mod:`retain.voice.surveys` (the database keeps
only the hash of the link id) and returns the customer's link under ``engage.public_url``. The
playbook's template shows it as ``{{ survey.url }}``; the message then goes to the outbox under
the decision's key like every other, so the re-entry rule holds (one invitation per trigger
occurrence, however often the playbook runs) and the worker delivers it.

The link is signed with the secret the service verifies it with (:func:`link_secret`): the
configured ``service.secret_key``, else the one the service generated and keeps in the app
database, created here first when the service has never started.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from retain.config import Settings
from retain.engage.playbooks import Playbook
from retain.errors import ConfigError, RetainError
from retain.i18n import t
from retain.voice import surveys

__all__ = ["PREVIEW_URL", "check_surveys", "invite_for", "link_secret"]

PREVIEW_URL = "/s/…"
"""What ``{{ survey.url }}`` shows in a dry run and a preview (no invitation is made)."""

_SECRET_NAME = "cookie_secret"  # noqa: S105 - the row's name, not a secret
"""The app's generated signing secret (``retain.app.auth.service.service_secret``)."""


def link_secret(session: Session, settings: Settings) -> str:
    """The secret the service verifies survey links with (created when it has none yet)."""
    if settings.service.secret_key:
        return settings.service.secret_key
    read = text("SELECT value FROM app_secrets WHERE name = :name")
    found = session.execute(read, {"name": _SECRET_NAME}).scalar()
    if found is None:
        try:
            with session.begin_nested():
                session.execute(
                    text("INSERT INTO app_secrets (name, value) VALUES (:name, :value)"),
                    {"name": _SECRET_NAME, "value": secrets.token_urlsafe(48)},
                )
        except IntegrityError:
            pass  # the service (or another run) made it meanwhile: use theirs
        found = session.execute(read, {"name": _SECRET_NAME}).scalar()
    return str(found)


def check_surveys(session: Session, playbooks: Iterable[Playbook]) -> None:
    """Check that every survey the run's survey playbooks name exists, before any write.

    ``nps``, ``csat`` and ``ces`` always do; another name must have been defined before. A
    missing one is a ConfigError naming the playbook.
    """
    for playbook in playbooks:
        if playbook.action.kind != "survey" or not playbook.action.survey:
            continue
        try:
            surveys.ensure_survey(session, playbook.action.survey)
        except RetainError:
            raise ConfigError(
                t(
                    "playbooks_edit.survey_unknown",
                    playbook=playbook.name,
                    survey=playbook.action.survey,
                ),
                hint=t("playbooks_edit.survey_unknown_hint"),
            ) from None


def invite_for(
    session: Session,
    secret: str,
    playbook: Playbook,
    *,
    customer_id: str,
    language: str,
    settings: Settings,
) -> str:
    """Create one invitation (flushed, in the run's transaction) and return its link."""
    survey = str(playbook.action.survey)
    invitation = surveys.invite(
        session,
        secret,
        survey=survey,
        customer_id=customer_id,
        language=language if language in ("en", "ja", "ko") else "en",
        ttl=dt.timedelta(days=playbook.action.ttl_days),
    )
    return f"{settings.engage.public_url.rstrip('/')}/s/{invitation.token}"
