"""Carrying out a run's decisions: outbox rows for the sends, records for the holdouts.

:func:`guardrails` reads what earlier runs left (the outbox's keys and recent messages, the
suppression list, recorded holdouts and sent messages' keys, other recent messages in
``interactions``) so
:func:`retain.engage.decisions.decide` can apply the re-entry rule and the caps.

:func:`execute` then writes, for each decision:

- ``send`` / ``delayed`` on e-mail or a webhook: one outbox row
  (:func:`retain.engage.outbox.enqueue`) keyed by the decision's key, so the row and the
  decision are one, a second run finds the key and queues nothing, and a delayed message waits
  for its ``send_at`` (quiet hours). Every row of a run commits in the caller's one transaction.
  SMS rows carry the rendered ``subject`` and ``body``; the SMS sender sends the body. Their
  number is in E.164 (read in the customer's country) and ``region`` keeps that country.
  A playbook whose ``action`` has a ``url`` (a save-desk task, a CRM call) also queues one
  webhook row beside the message, keyed ``<key>:task``; it does not count against caps.
- ``holdout``: a ``holdout`` interaction (``campaign_id`` = the playbook, ``properties.group =
  "control"``, the same shape as the demo's campaigns) under an id derived from the key, so
  recording it twice changes nothing. Holdouts are written first: a crash before the outbox
  commit leaves records a rerun writes again unchanged, never a send without its control.

Treated rows carry ``campaign_id = <playbook>`` or ``<playbook>:<variant>`` when the template
has variants, which the worker copies into ``interactions`` and results read back. Every payload
carries ``playbook_version`` and every holdout record ``version``: the version of the playbook
(:mod:`retain.engage.playbook_versions`) that decided, so an edit never re-attributes results.

A survey playbook (``action.kind = "survey"``) creates one survey invitation per queued message
(:mod:`retain.engage.invitations`) and puts its signed link in the message (``survey.url``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from retain.appdb import utcnow
from retain.config import Settings
from retain.engage import outbox
from retain.engage._tables import OutboxMessage, Suppression
from retain.engage.decisions import Guardrails, decide
from retain.engage.invitations import PREVIEW_URL, check_surveys, invite_for, link_secret
from retain.engage.messages import MessageTemplate, load_template, render
from retain.engage.outbox import message_id_for
from retain.engage.playbooks import Playbook, PlaybookSet
from retain.engage.recipients import stored_recipient
from retain.features import Sources

__all__ = [
    "ExecuteReport",
    "execute",
    "guardrails",
    "holdout_records",
    "message_context",
    "run_playbooks",
    "task_key",
    "withdraw",
]

_TRIGGER_FIELDS = (
    "days",
    "step",
    "product_id",
    "product_name",
    "due_at",
    "ends_at",
    "event",
    "band",
)


@dataclass
class ExecuteReport:
    """What one run wrote."""

    queued: int = 0
    holdouts: int = 0
    unsupported: int = 0
    tasks: int = 0
    """Webhook rows for the action beside a message (a save-desk task, a CRM call)."""
    withdrawn: int = 0
    """Queued lower-priority messages (and their tasks) that gave their slot up."""
    invitations: int = 0
    """Survey invitations created (one per queued message of a survey playbook)."""


def task_key(key: str) -> str:
    """The outbox key of the action webhook that goes beside decision ``key``'s message."""
    return key[:190] + ":task"


def _webhook_payload(
    row: Mapping[str, Any],
    context: Mapping[str, Any],
    playbook: Playbook,
    message: tuple[str, str, str],
) -> dict[str, Any]:
    """The JSON a webhook receives: who, why, what to do, and the message in their language."""
    lang, subject, body = message
    return {
        "playbook": playbook.name,
        "action": playbook.action.kind,
        "queue": playbook.action.queue,
        "occurrence": row["occurrence"],
        "variant": row["variant"],
        "customer": context["customer"],
        "trigger": context["trigger"],
        "offer": context["offer"],
        "message": {"language": lang, "subject": subject, "body": body},
    }


def withdraw(session: Session, keys: Sequence[str]) -> int:
    """Withdraw queued, never-tried messages (and their action tasks) that lost their slot.

    Only rows still ``queued`` change (to ``cancelled``, reason ``preempted``), in the caller's
    transaction: one a worker claimed meanwhile is delivered, and the cap is one over. Through
    :func:`retain.engage.outbox.cancel`, so each gets its ``cancelled`` attempt and reaches
    ``interactions`` as ``message_cancelled`` like every other cancellation.
    """
    if not keys:
        return 0
    wanted = [*keys, *(task_key(k) for k in keys)]
    return outbox.cancel(
        session,
        reason="preempted",
        keys=wanted,
        detail="withdrawn: a higher-priority playbook took the slot",
    )


def _holdout_id(key: str) -> str:
    return "holdout-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _property_key(properties: object) -> str | None:
    """The decision key an interaction's ``properties`` keep, or None.

    Interactions are also loaded from elsewhere (an ESP's history): ingest checks their
    properties are JSON, not that they are an object, so a list or a string is no key.
    """
    if not isinstance(properties, str) or '"key"' not in properties:
        return None
    loaded = json.loads(properties)
    key = loaded.get("key") if isinstance(loaded, dict) else None
    return None if key is None else str(key)


def guardrails(
    session: Session,
    sources: Sources,
    playbooks: PlaybookSet,
    *,
    now: dt.datetime,
) -> Guardrails:
    """Keys used, suppressed addresses and messages in the caps' window, as of ``now``.

    A key is used when the outbox holds it, or ``interactions`` hold a recorded holdout or a
    ``message_sent`` of one of these playbooks with it in ``properties.key`` (the outbox may
    have been pruned or, for the demo's planted history, never kept).
    """
    since = now - dt.timedelta(days=playbooks.caps.window_days)
    categories = {p.name: p.category for p in playbooks.playbooks}
    # every key of these playbooks ever queued (the re-entry rule has no horizon) ...
    already = set(
        session.scalars(
            select(OutboxMessage.idempotency_key).where(
                OutboxMessage.playbook.in_(list(categories))
            )
        )
    )
    # ... and every message of the caps' window, whichever playbook (or none) queued it
    rows = session.execute(
        select(
            OutboxMessage.idempotency_key,
            OutboxMessage.customer_id,
            OutboxMessage.playbook,
            OutboxMessage.state,
            OutboxMessage.attempts,
        ).where(OutboxMessage.created_at >= since)
    ).all()
    known = {p.name: p for p in playbooks.playbooks}
    recent = [
        {
            "customer_id": r.customer_id,
            "category": categories.get(r.playbook or "", "marketing"),
            "key": r.idempotency_key,
            "playbook": r.playbook,
            "priority": known[r.playbook].priority if r.playbook in known else None,
            "expected_value": known[r.playbook].expected_value if r.playbook in known else None,
            # waiting and never tried: a higher-priority decision may still take its slot
            "preemptible": r.state == "queued" and r.attempts == 0 and r.playbook in known,
        }
        for r in rows
        if r.state not in ("failed", "dead", "cancelled")
        and not r.idempotency_key.endswith(":task")
    ]
    suppressed = frozenset(a.lower() for a in session.scalars(select(Suppression.address)))
    history = pd.DataFrame(
        recent,
        columns=[
            "customer_id",
            "category",
            "key",
            "playbook",
            "priority",
            "expected_value",
            "preemptible",
        ],
    )
    if sources.interactions is not None:
        it = sources.interactions
        names = list(categories)
        held = it.filter((it.kind == "holdout") & it.interaction_id.startswith("holdout-"))
        # the key itself is kept in properties, so a recorded holdout blocks its re-entry
        keys = held.select("properties").to_pandas()["properties"]
        already |= {key for p in keys if (key := _property_key(p)) is not None}
        # ... and so does a delivered message: the worker (and the demo's planted history)
        # keep the decision's key in a message_sent's properties, which outlive the outbox
        sent = it.filter(
            (it.kind == "message_sent")
            & it.campaign_id.notnull()
            & it.campaign_id.split(":")[0].isin(names)
            & it.properties.cast("string").contains('"key"')
        )
        already |= {
            key
            for p in sent.select("properties").to_pandas()["properties"]
            if (key := _property_key(p)) is not None
        }
        other = it.filter(
            (it.kind == "message_sent")
            & (it.occurred_at >= since)
            & (it.occurred_at <= now)
            & (it.campaign_id.isnull() | ~it.campaign_id.split(":")[0].isin(names))
        )
        extra = other.select("customer_id").to_pandas().assign(category="marketing")
        history = pd.concat([history, extra], ignore_index=True) if len(extra) else history
    return Guardrails(frozenset(already), suppressed, history)


def _clean(value: Any) -> Any:
    """A frame cell as a template value: missing as None, a moment as its ISO date."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def message_context(row: Mapping[str, Any], playbooks: PlaybookSet) -> dict[str, Any]:
    """What a template sees for one decision: customer, trigger, offer and playbook."""
    raw = row.get("attributes")
    try:
        attributes = json.loads(raw) if isinstance(raw, str) and raw else {}
    except json.JSONDecodeError:
        attributes = {}
    if not isinstance(attributes, dict):
        attributes = {}
    customer = {
        "customer_id": row.get("customer_id"),
        "email": _clean(row.get("email")),
        "language": _clean(row.get("language")),
        "country": _clean(row.get("country")),
        "time_zone": _clean(row.get("time_zone")),
        "acquisition_channel": _clean(row.get("acquisition_channel")),
        "first_name": attributes.get("first_name"),
        "name": attributes.get("name"),
        "attributes": attributes,
    }
    playbook = playbooks.get(str(row["playbook"]))
    trigger = {"kind": playbook.trigger.kind} | {f: _clean(row.get(f)) for f in _TRIGGER_FIELDS}
    offer = playbook.offer.model_dump() if playbook.offer else None
    survey = (
        {"name": playbook.action.survey, "url": PREVIEW_URL}
        if playbook.action.kind == "survey"
        else None
    )
    return {
        "customer": customer,
        "trigger": trigger,
        "offer": offer,
        "playbook": playbook.name,
        "survey": survey,
    }


def holdout_records(
    decisions: pd.DataFrame, *, now: dt.datetime, versions: Mapping[str, int] | None = None
) -> pd.DataFrame:
    """The ``holdout`` interactions of a run's held-out decisions (ids stable per key).

    ``versions`` (playbook name to the version that decided) adds ``version`` to properties.
    """
    held = decisions[decisions["status"] == "holdout"]
    known = dict(versions or {})
    return pd.DataFrame(
        {
            "interaction_id": [_holdout_id(k) for k in held["key"]],
            "customer_id": held["customer_id"].astype(str).to_list(),
            "occurred_at": [now] * len(held),
            "kind": ["holdout"] * len(held),
            "channel": held["channel"].to_list(),
            "campaign_id": held["playbook"].to_list(),
            "properties": [
                json.dumps(
                    {"group": "control", "key": k, "occurrence": o}
                    | ({"version": known[p]} if p in known else {}),
                    ensure_ascii=False,
                )
                for k, o, p in zip(held["key"], held["occurrence"], held["playbook"], strict=True)
            ],
        }
    )


def _outbox_row(
    *,
    customer_id: str,
    channel: str,
    recipient: str,
    payload: Mapping[str, Any],
    key: str,
    language: str,
    advertising: bool,
    playbook: str,
    campaign_id: str,
    not_before: dt.datetime | None,
    now: dt.datetime,
) -> dict[str, Any]:
    """One outbox row's values, exactly as :func:`retain.engage.outbox.enqueue` writes them."""
    return {
        "message_id": message_id_for(key),
        "idempotency_key": key,
        "customer_id": customer_id,
        "channel": channel,
        "recipient": stored_recipient(channel, recipient),
        "payload": json.dumps(dict(payload), ensure_ascii=False, sort_keys=True, default=str),
        "language": language,
        "advertising": advertising,
        "playbook": playbook,
        "campaign_id": campaign_id,
        "state": "queued",
        "attempts": 0,
        "next_attempt_at": not_before or now,
        "created_at": now,
    }


def _insert_many(session: Session, rows: Sequence[dict[str, Any]], *, chunk: int = 5000) -> None:
    """Insert outbox rows in batches, a key already queued (a concurrent run) left as it is.

    ``INSERT ... ON CONFLICT DO NOTHING`` executed many rows at a time: the same outcome as
    :func:`retain.engage.outbox.enqueue` per row (idempotent on the key, the caller's
    transaction), three statements per message fewer, which is what lets a run of a million
    customers queue in seconds.
    """
    if not rows:
        return
    table: Any = OutboxMessage.__table__
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(table).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).on_conflict_do_nothing()
    for start in range(0, len(rows), chunk):
        session.execute(stmt, list(rows[start : start + chunk]))


def execute(
    session: Session,
    decisions: pd.DataFrame,
    playbooks: PlaybookSet,
    *,
    settings: Settings,
    now: dt.datetime,
    con: Any = None,
) -> ExecuteReport:
    """Record the holdouts, then queue the sends in ``session``; the caller commits.

    Holdouts go to ``con`` (default: the configured warehouse) through the ingest path.
    """
    from retain.ingest import ingest

    report = ExecuteReport()
    going = decisions[decisions["status"].isin(["send", "delayed"])]
    asking = {str(n) for n in going["playbook"].unique()} if len(going) else set()
    asking = {n for n in asking if playbooks.get(n).action.kind == "survey"}
    check_surveys(session, [playbooks.get(n) for n in sorted(asking)])
    secret = link_secret(session, settings) if asking else ""
    versions = {p.name: playbooks.version(p.name) for p in playbooks.playbooks}
    report.withdrawn = withdraw(session, decisions.attrs.get("withdrawn", []))
    records = holdout_records(decisions, now=now, versions=versions)
    if len(records):
        ingest("interactions", records, con=con, settings=settings, on_error="reject")
        report.holdouts = len(records)
    templates: dict[str, MessageTemplate] = {}
    rows: list[dict[str, Any]] = []
    created = utcnow()
    names = [str(c) for c in going.columns]
    # column lists zipped into rows: the values to_dict("records") gives, without its per-cell
    # boxing (a third of the run's time at a million customers)
    for values in zip(*(going[c].tolist() for c in going.columns), strict=True):
        row = dict(zip(names, values, strict=True))
        channel = row["channel"]
        if channel not in ("email", "webhook", "sms"):
            report.unsupported += 1
            continue
        playbook = playbooks.get(str(row["playbook"]))
        if playbook.template not in templates:
            templates[playbook.template] = load_template(playbook.template, playbooks.template_dirs)
        template = templates[playbook.template]
        context = message_context(row, playbooks)
        if playbook.action.kind == "survey" and channel == "email":
            context["survey"]["url"] = invite_for(
                session,
                secret,
                playbook,
                customer_id=str(row["customer_id"]),
                language=str(row["language"]),
                settings=settings,
            )
            report.invitations += 1
        lang, subject, body = render(
            template,
            language=context["customer"]["language"],
            variant=row["variant"],
            context=context,
        )
        version = versions[playbook.name]
        payload = (
            {"subject": subject, "body": body, "playbook_version": version}
            | ({"region": context["customer"]["country"]} if channel == "sms" else {})
            if channel in ("email", "sms")
            else _webhook_payload(row, context, playbook, (lang, subject, body))
            | {"playbook_version": version}
        )
        send_at = row.get("send_at")
        campaign = (
            playbook.name if len(template.variants) == 1 else f"{playbook.name}:{row['variant']}"
        )
        rows.append(
            _outbox_row(
                customer_id=str(row["customer_id"]),
                channel=channel,
                recipient=str(row["recipient"]),
                payload=payload,
                key=str(row["key"]),
                language=lang,
                advertising=playbook.category == "marketing",
                playbook=playbook.name,
                campaign_id=campaign,
                not_before=None if pd.isna(send_at) else pd.Timestamp(send_at).to_pydatetime(),
                now=created,
            )
        )
        report.queued += 1
        if playbook.action.url and channel != "webhook":
            # a save-desk task or a CRM call beside the message, to the business's own tools
            rows.append(
                _outbox_row(
                    customer_id=str(row["customer_id"]),
                    channel="webhook",
                    recipient=playbook.action.url,
                    payload=_webhook_payload(row, context, playbook, (lang, subject, body))
                    | {"playbook_version": version},
                    key=task_key(str(row["key"])),
                    language=lang,
                    advertising=False,
                    playbook=playbook.name,
                    campaign_id=campaign,
                    not_before=None,
                    now=created,
                )
            )
            report.tasks += 1
    _insert_many(session, rows)
    return report


def run_playbooks(
    session: Session,
    sources: Sources,
    playbooks: PlaybookSet,
    *,
    settings: Settings,
    now: dt.datetime,
    names: Sequence[str] | None = None,
    dry_run: bool = False,
    con: Any = None,
) -> tuple[pd.DataFrame, ExecuteReport | None]:
    """One run as of ``now``: guardrails read, decisions made, and (unless ``dry_run``) written.

    The entry point for ``retain playbooks run`` and a scheduled job alike; the caller commits
    ``session``. Returns the decisions and, when written, what was written.
    """
    rails = guardrails(session, sources, playbooks, now=now)
    decisions = decide(playbooks, sources, now, names=names, now=now, guardrails=rails)
    if dry_run:
        return decisions, None
    return decisions, execute(session, decisions, playbooks, settings=settings, now=now, con=con)
