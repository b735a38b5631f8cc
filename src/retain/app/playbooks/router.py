"""``/api/v1/playbooks``: the loaded playbooks, a dry run, and each playbook's lift.

A dry run and the results cover the whole book of customers, so they are for analysts and
admins (metrics readers), never agents; the dry run's CSV is a bulk export, audited with who
asked, for which date and how many rows left.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from retain.app.audit import service as audit
from retain.app.deps import AnalystOnly, CanExport, LockedWarehouseDep, SessionDep, SettingsDep
from retain.app.playbooks import edit, service
from retain.app.playbooks.schemas import (
    DryRunAnswer,
    DryRunDecision,
    PlaybookInfo,
    PlaybookList,
    ResultsAnswer,
    SummaryRow,
)
from retain.errors import InvalidParameterError
from retain.i18n import t
from retain.targeting.export import csv_cell

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["playbooks"])

AsOf = Annotated[
    str | None,
    Query(
        pattern=r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?$",
        description="Date (or date and UTC time) to decide or count at; default now.",
    ),
]
Name = Annotated[str | None, Query(max_length=200, description="Only this playbook.")]


def moment(value: str | None) -> dt.datetime:
    """The naive-UTC moment of ``value`` (``YYYY-MM-DD`` is midnight), now when absent."""
    if not value:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:  # the pattern checks the shape, not the calendar (2024-13-45 fits it)
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidParameterError(
            t("playbooks_edit.api_bad_as_of", value=repr(value)),
            hint=t("playbooks_edit.api_bad_as_of_hint"),
            code="parameter.as_of",
        ) from None


def _none(value: Any) -> Any:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _summary_rows(frame: pd.DataFrame) -> list[SummaryRow]:
    return [
        SummaryRow(
            playbook=str(r["playbook"]),
            found=int(r["found"]),
            send=int(r["send"]),
            delayed=int(r["delayed"]),
            holdout=int(r["holdout"]),
            skipped={why: int(r[why]) for why in service.reasons()},
        )
        for r in frame.to_dict("records")
    ]


@router.get("/playbooks", response_model=PlaybookList)
def list_playbooks(_: AnalystOnly, session: SessionDep) -> PlaybookList:
    """The playbooks the service runs, with triggers, holdouts and goals."""
    book = service.book(session)
    return PlaybookList(
        source=book.source,
        playbooks=[
            PlaybookInfo(**service.describe(p), version=book.version(p.name))
            for p in book.playbooks
        ],
    )


@router.get("/playbooks/dry-run", response_model=DryRunAnswer)
def dry_run(
    _: AnalystOnly,
    settings: SettingsDep,
    session: SessionDep,
    warehouse: LockedWarehouseDep,
    as_of: AsOf = None,
    name: Name = None,
    limit: Annotated[int, Query(ge=0, le=1000, description="Decisions returned.")] = 100,
) -> DryRunAnswer:
    """Who would get what as of ``as_of``, who is held out, who is skipped and why; no writes."""
    now = moment(as_of)
    summary, decisions, unavailable = service.dry_run(
        session, warehouse.con, settings, now=now, name=name
    )
    rows = [
        DryRunDecision(**{str(k): _none(v) for k, v in r.items()})
        for r in decisions.head(limit).to_dict("records")
    ]
    return DryRunAnswer(
        as_of=now,
        summary=_summary_rows(summary),
        decisions=rows,
        total_decisions=len(decisions),
        unavailable=unavailable,
    )


@router.get(
    "/playbooks/dry-run.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_dry_run(
    principal: CanExport,
    settings: SettingsDep,
    session: SessionDep,
    warehouse: LockedWarehouseDep,
    as_of: AsOf = None,
    name: Name = None,
) -> StreamingResponse:
    """Every decision of a dry run as CSV (audited)."""
    now = moment(as_of)
    _, decisions, _ = service.dry_run(session, warehouse.con, settings, now=now, name=name)
    audit.record(
        session,
        principal,
        "playbooks.export",
        ("playbooks", name or "all"),
        rows=len(decisions),
        as_of=now.isoformat(),
    )
    buffer = io.StringIO()
    decisions.map(csv_cell).to_csv(buffer, index=False)
    stamp = now.strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        iter([buffer.getvalue()]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="playbooks-{stamp}.csv"'},
    )


@router.get("/playbooks/{name}/results", response_model=ResultsAnswer)
def read_results(
    _: AnalystOnly,
    session: SessionDep,
    warehouse: LockedWarehouseDep,
    name: str,
    as_of: AsOf = None,
    window_days: Annotated[int | None, Query(ge=1, le=3650)] = None,
) -> ResultsAnswer:
    """Per variant, treated against holdout: rates, 95 % intervals, incremental profit, goal."""
    found = service.results(
        warehouse.con,
        name,
        as_of=moment(as_of),
        window_days=window_days,
        playbooks=service.book(session),
    )
    return ResultsAnswer.model_validate(found)


def _combined(reads: APIRouter) -> APIRouter:
    """The reads above, then editing (:mod:`retain.app.playbooks.edit`), wired with one line.

    The fixed paths (``/playbooks/dry-run``) come before ``/playbooks/{name}``.
    """
    both = APIRouter()
    both.include_router(reads)
    both.include_router(edit.router)
    return both


router = _combined(router)
