"""JSON batch ingest through :func:`retain.ingest.ingest`, with idempotency keys.

Two layers make a retried batch harmless: records are keyed by their id (``event_id``,
``order_id``, ``customer_id``), so the warehouse load counts a resent record as unchanged; and
a request with an ``Idempotency-Key`` header gets the first answer back without touching the
warehouse again. A key whose request died with its process (kill -9, a crash) is taken over by
the next retry (:mod:`retain.app.ingest.lease`); one whose request still runs answers 409.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from retain.app.audit import service as audit
from retain.app.db.base import utcnow
from retain.app.ingest.lease import LEASE, current_owner, owner_is_gone
from retain.app.ingest.models import IdempotencyRecord
from retain.errors import ConflictError
from retain.i18n import t
from retain.schema import CANONICAL_TABLES, get_table

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.app.audit.service import Actor
    from retain.config import Settings

__all__ = [
    "INGEST_TABLES",
    "begin_idempotent",
    "finish_idempotent",
    "ingest_records",
    "pause_for_test",
    "request_hash",
]

INGEST_TABLES = tuple(CANONICAL_TABLES)
"""Every canonical table takes JSON batches (the router's ``IngestTable`` lists the same)."""

log = logging.getLogger("retain.app")

PAUSE_ENV = "RETAIN_TEST_INGEST_PAUSE"
"""Test hook: ``STEP KEY MARKFILE``. The request with Idempotency-Key KEY writes MARKFILE when it
reaches STEP and then stalls, so a test can kill the server exactly there. Unset in production."""


def pause_for_test(step: str, key: str | None) -> None:
    """Stall at ``step`` when :data:`PAUSE_ENV` names it and ``key`` (a crash test's hook)."""
    spec = os.environ.get(PAUSE_ENV)
    if not spec or key is None:
        return
    want_step, want_key, mark = [*spec.split(" ", 2), "", ""][:3]
    if want_step != step or want_key != key:
        return
    if mark:
        Path(mark).write_text(step, encoding="utf-8")
    time.sleep(300)


def request_hash(table: str, records: list[dict[str, Any]]) -> str:
    """A digest of what was asked, to tell a true replay from a reused key."""
    body = json.dumps([table, records], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def begin_idempotent(
    session: Session, *, actor: str, key: str, endpoint: str, digest: str
) -> tuple[int, dict[str, Any]] | None:
    """The stored answer to a replay, or None after reserving ``key`` for this request.

    A key reused with a different body, or whose first request is still running, is a
    :class:`ConflictError` (409). A key left in progress by a process that is gone is taken
    over (atomically: of two retries racing for it, one wins and the other gets 409).
    """
    now = utcnow()
    found = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.actor == actor, IdempotencyRecord.key == key
        )
    )
    running = ConflictError(
        t("app.idempotency_running", key=key), code="ingest.idempotency_in_progress"
    )
    if found is None:
        session.add(
            IdempotencyRecord(
                actor=actor,
                key=key,
                endpoint=endpoint,
                request_hash=digest,
                owner=current_owner(),
                lease_expires_at=now + LEASE,
            )
        )
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise running from None
        return None
    if found.request_hash != digest or found.endpoint != endpoint:
        raise ConflictError(
            t("app.idempotency_reused", key=key),
            hint=t("app.idempotency_reused_hint"),
            code="ingest.idempotency_reused",
        )
    if found.status_code is not None and found.response is not None:
        return found.status_code, json.loads(found.response)
    if not owner_is_gone(found.owner, found.lease_expires_at, now):
        raise running
    held_by = (
        IdempotencyRecord.owner.is_(None)
        if found.owner is None
        else IdempotencyRecord.owner == found.owner
    )
    taken = session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == found.id, IdempotencyRecord.status_code.is_(None), held_by)
        .values(owner=current_owner(), lease_expires_at=now + LEASE)
    )
    session.commit()
    assert isinstance(taken, CursorResult)
    if taken.rowcount != 1:
        raise running
    log.warning("idempotency key %r of %s taken over from %s", key, actor, found.owner)
    return None


def finish_idempotent(
    session: Session, *, actor: str, key: str, result: tuple[int, dict[str, Any]] | None
) -> None:
    """Store the answer for ``key``; with ``result=None`` release the key so a retry may run."""
    found = session.scalar(
        select(IdempotencyRecord)
        .where(IdempotencyRecord.actor == actor, IdempotencyRecord.key == key)
        .execution_options(populate_existing=True)
    )
    if found is None:
        return
    if result is None:
        if found.owner in (None, current_owner()):
            session.delete(found)
    else:
        found.status_code, body = result
        found.response = json.dumps(body, default=str)
    session.commit()


def _cell(value: Any) -> str | None:
    """A JSON scalar as the text a CSV file would hold (the loader parses and validates it)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _record_id(record: dict[str, Any], key: tuple[str, ...]) -> str | None:
    """The record's key as text: one column's value, or a compound key's parts joined by ``/``."""
    parts = [record.get(column) for column in key]
    if all(p is None for p in parts):
        return None
    return "/".join("" if p is None else str(p) for p in parts)


def _prepare(
    table: str, records: list[dict[str, Any]]
) -> tuple[list[dict[str, str | None]], list[int], list[dict[str, Any]]]:
    """Split records into loadable rows (all text) and per-record errors found before loading.

    Nested objects and lists are only meaningful in the JSON columns (``properties``,
    ``attributes``), where they are stored as JSON text; anywhere else they are an error.
    """
    spec = get_table(table)
    json_columns = {c.name for c in spec.columns if c.kind == "json"}
    rows: list[dict[str, str | None]] = []
    kept: list[int] = []
    errors: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        row: dict[str, str | None] = {}
        bad: str | None = None
        for column, value in record.items():
            if isinstance(value, dict | list):
                if column in json_columns:
                    row[column] = json.dumps(value, ensure_ascii=False)
                    continue
                bad = column
                break
            row[column] = _cell(value)
        if bad is None and not any(v is not None for v in row.values()):
            bad = ""
        if bad is not None:
            errors.append(
                {
                    "index": index,
                    "record_id": _record_id(record, spec.key),
                    "field": bad or None,
                    "rule": "nested_value" if bad else "empty_record",
                    "message": t("app.nested_value", column=bad) if bad else t("app.empty_record"),
                    "hint": t("app.nested_value_hint") if bad else None,
                }
            )
            continue
        rows.append(row)
        kept.append(index)
    return rows, kept, errors


def ingest_records(
    con: BaseBackend,
    table: str,
    records: list[dict[str, Any]],
    *,
    settings: Settings,
    session: Session,
    actor: Actor,
    on_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Load ``records`` into ``table``: valid ones kept, invalid ones quarantined and listed.

    The batch is audited as ``ingest.TABLE`` by ``actor`` (its id and counts, never the
    records) and committed on ``session``. ``on_step`` is told each phase of the load
    (``read``, ``validate``, ``write``, ``write:updated``, ``write:inserted``, ``done``) and
    ``audited`` at the end.
    """
    from retain.ingest import ingest

    key = get_table(table).key
    rows, kept, errors = _prepare(table, records)
    counts: dict[str, Any] = {
        "batch_id": "",
        "inserted": 0,
        "updated": 0,
        "unchanged": 0,
        "collapsed": 0,
    }
    rejected = len(errors)
    if rows:
        frame = pd.DataFrame.from_records(rows).astype(object)
        report = ingest(
            table,
            frame,
            con=con,
            settings=settings,
            on_error="quarantine",
            on_progress=(lambda p: on_step(p.phase)) if on_step else None,
        )
        counts = {
            "batch_id": report.batch_id,
            "inserted": report.rows_inserted,
            "updated": report.rows_updated,
            "unchanged": report.rows_unchanged,
            "collapsed": report.rows_collapsed,
        }
        rejected += report.rows_rejected
        for v in report.violations:
            index = kept[v.row] if isinstance(v.row, int) and 0 <= v.row < len(kept) else None
            errors.append(
                {
                    "index": index,
                    "record_id": _record_id(records[index], key) if index is not None else None,
                    "field": v.column,
                    "rule": v.rule,
                    "message": v.message,
                    "hint": v.hint,
                }
            )
    errors.sort(key=lambda e: (e["index"] is None, e["index"] or 0))
    result = {
        "table": table,
        "received": len(records),
        "rejected": rejected,
        "errors": errors,
        **counts,
    }
    audited = ("received", "inserted", "updated", "unchanged", "rejected")
    audit.record(
        session,
        actor,
        f"ingest.{table}",
        ("batch", result["batch_id"]),
        **{k: result[k] for k in audited},
    )
    if on_step:
        on_step("audited")
    return result
