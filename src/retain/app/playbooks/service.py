"""What the playbook routes and the dashboard page share: the book, a dry run, the results.

The playbooks come from ``playbooks.toml`` beside the configuration file (``RETAIN_CONFIG``,
else ``retain.toml``), else the shipped ones, the same rule as ``retain playbooks``. A dry run
reads the guardrails (outbox, suppression list, recorded holdouts) and decides; it writes
nothing. Results read ``interactions`` (:func:`retain.engage.results.playbook_results`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from retain.config import CONFIG_ENV, DEFAULT_CONFIG, Settings
from retain.engage.decisions import REASONS, summary
from retain.engage.execute import message_context, run_playbooks
from retain.engage.messages import MessageTemplate, load_template, render
from retain.engage.playbook_versions import definition_of, effective_book, history
from retain.engage.playbooks import Playbook, PlaybookSet, load_playbooks, shipped_playbooks
from retain.engage.results import playbook_results
from retain.errors import ConfigError, NotFoundError
from retain.features import Sources
from retain.i18n import t

__all__ = [
    "DECISION_FIELDS",
    "book",
    "describe",
    "detail",
    "dry_run",
    "file_book",
    "preview",
    "results",
    "template_texts",
    "with_subjects",
]

DECISION_FIELDS = (
    "playbook",
    "customer_id",
    "status",
    "reason",
    "channel",
    "template",
    "variant",
    "language",
    "subject",
    "send_at",
    "occurrence",
)
"""Who, what and why: the columns a dry run shows and exports."""


def file_book() -> PlaybookSet:
    """The playbooks of the file: the configuration's ``playbooks.toml``, else the shipped ones."""
    config = Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG))
    local = config.parent / "playbooks.toml"
    return load_playbooks(local) if local.is_file() else shipped_playbooks()


def book(session: Session | None = None) -> PlaybookSet:
    """The playbooks the service runs: the file's, with the edits stored in ``session``'s DB."""
    base = file_book()
    return base if session is None else effective_book(session, base)


def template_texts(playbooks: PlaybookSet, template: str) -> dict[str, dict[str, Any]]:
    """``{lang: {subject, body, variants}}`` of a template as the playbooks find it."""
    found = load_template(template, playbooks.template_dirs)
    out: dict[str, dict[str, Any]] = {}
    for lang, variants in found.languages.items():
        (subject, body), *_ = variants.values()
        extra = {v: {"subject": s, "body": b} for v, (s, b) in list(variants.items())[1:]}
        out[lang] = {"subject": subject, "body": body} | ({"variants": extra} if extra else {})
    return out


_SAMPLE_NAMES = {"en": "Sam", "ja": "さくら", "ko": "민준"}
"""The sample customer's first name in each language of a preview."""


def preview(playbooks: PlaybookSet, name: str) -> dict[str, dict[str, str]]:
    """Playbook ``name``'s message rendered for a sample customer in en, ja and ko.

    The sandboxed renderer the run uses, on the context a run builds
    (:func:`retain.engage.execute.message_context`); a survey's link shows as a sample path.
    """
    playbook = playbooks.get(name)
    template = load_template(playbook.template, playbooks.template_dirs)
    trigger = playbook.trigger.model_dump()
    out: dict[str, dict[str, str]] = {}
    for lang, first in _SAMPLE_NAMES.items():
        row = {
            "playbook": name,
            "customer_id": "C-1001",
            "email": "customer@example.com",
            "language": lang,
            "attributes": json.dumps({"first_name": first}, ensure_ascii=False),
            "days": trigger.get("days", 30),
            "step": 1,
            "product_id": "P-1",
            "product_name": "Tea",
            "due_at": dt.datetime(2025, 1, 20),
            "ends_at": dt.datetime(2025, 1, 31),
            "event": trigger.get("event"),
            "band": trigger.get("band", "high"),
        }
        used, subject, body = render(
            template,
            language=lang,
            variant=template.variants[0],
            context=message_context(row, playbooks),
        )
        out[lang] = {"language": used, "subject": subject, "body": body}
    return out


def detail(session: Session, name: str) -> dict[str, Any]:
    """One playbook as an editor needs it: definition, templates, version and the history."""
    playbooks = book(session)
    try:
        playbook = playbooks.get(name)
    except ConfigError:
        raise NotFoundError(
            t("playbooks_edit.not_found", name=name), code="playbooks.not_found"
        ) from None
    kept = history(session, name)
    return {
        "name": name,
        "version": playbooks.version(name),
        "definition": definition_of(playbook),
        "templates": template_texts(playbooks, playbook.template),
        "history": [
            {
                "version": v.version,
                "author": v.author,
                "created_at": v.created_at,
                "deleted": v.deleted,
            }
            for v in kept
        ],
    }


def describe(playbook: Playbook) -> dict[str, Any]:
    """One playbook as the list shows it."""
    goal = playbook.goal.model_dump() if playbook.goal else None
    return {
        "name": playbook.name,
        "description": playbook.description,
        "enabled": playbook.enabled,
        "trigger": playbook.trigger.model_dump(),
        "channel": playbook.channel,
        "template": playbook.template,
        "holdout": playbook.holdout,
        "category": playbook.category,
        "priority": playbook.priority,
        "attribution_days": playbook.attribution_days,
        "offer": playbook.offer.model_dump() if playbook.offer else None,
        "goal": goal,
    }


def with_subjects(decisions: pd.DataFrame, playbooks: PlaybookSet) -> pd.DataFrame:
    """``decisions`` with each customer's rendered subject (what they would get)."""
    subjects = []
    templates: dict[str, MessageTemplate] = {}
    names = [str(c) for c in decisions.columns]
    for values in zip(*(decisions[c].tolist() for c in decisions.columns), strict=True):
        row = dict(zip(names, values, strict=True))
        playbook = playbooks.get(str(row["playbook"]))
        if playbook.template not in templates:
            templates[playbook.template] = load_template(playbook.template, playbooks.template_dirs)
        context = message_context(row, playbooks)
        rendered = render(
            templates[playbook.template],
            language=row["language"],
            variant=row["variant"],
            context=context,
        )
        subjects.append(rendered[1])
    return decisions.assign(subject=subjects)


def dry_run(
    session: Session,
    con: Any,
    settings: Settings,
    *,
    now: dt.datetime,
    name: str | None = None,
    playbooks: PlaybookSet | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """``(summary, decisions with subjects, unavailable playbooks)`` as of ``now``; no writes."""
    chosen = playbooks or book(session)
    if name is not None and name not in {p.name for p in chosen.playbooks}:
        try:
            chosen.get(name)
        except ConfigError as exc:  # a request for an unknown one is a 404 naming the known
            raise NotFoundError(exc.message, hint=exc.hint) from None
    decisions, _ = run_playbooks(
        session,
        Sources.from_warehouse(con),
        chosen,
        settings=settings,
        now=now,
        names=[name] if name else None,
        dry_run=True,
    )
    unavailable = dict(decisions.attrs.get("unavailable", {}))
    shown = with_subjects(decisions, chosen) if len(decisions) else decisions
    table = shown.reindex(columns=list(DECISION_FIELDS))
    return summary(decisions), table, unavailable


def results(
    con: Any,
    name: str,
    *,
    as_of: dt.datetime,
    window_days: int | None = None,
    playbooks: PlaybookSet | None = None,
) -> dict[str, Any]:
    """Treated against holdout for ``name`` (a playbook, or a past campaign id)."""
    known = {p.name: p for p in (playbooks or book()).playbooks}  # an edit's goal: pass the book
    return playbook_results(
        Sources.from_warehouse(con),
        name,
        as_of=as_of,
        playbook=known.get(name),
        window_days=window_days,
    )


def reasons() -> tuple[str, ...]:
    """The skip reasons a summary counts, in the order they apply."""
    return REASONS[:5]
