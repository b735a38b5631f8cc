"""The playbooks pages: ``/playbooks[?as_of=D]`` and ``/playbooks/{name}/results[?as_of=D]``.

Analysts and admins (the roles that read metrics; agents never see the whole book) see the
loaded playbooks and, for a chosen date, a dry run's who/what/why: per playbook how many were
found, sent, delayed, held out and skipped by reason, then the first decisions with the
rendered subject. The results page shows, per variant, treated against holdout with 95 %
intervals, the incremental profit and the goal's progress. The CSV of a dry run is the audited
``/api/v1/playbooks/dry-run.csv``.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from retain.app.auth.roles import Permission
from retain.app.deps import LockedWarehouseDep, Principal, SessionDep, SettingsDep
from retain.app.playbooks import service
from retain.app.playbooks.router import moment
from retain.app.web._page import page as _page
from retain.app.web._session import render, require_page
from retain.app.web.playbook_edit import router as edit_router
from retain.errors import InvalidParameterError
from retain.i18n import t

__all__ = ["SHOWN", "router"]

router = APIRouter(include_in_schema=False)
router.include_router(edit_router)  # /playbooks/new and /playbooks/{name}/edit

SHOWN = 200
"""Decisions listed on the page (the CSV has every one)."""

Reader = Annotated[Principal, Depends(require_page(Permission.metrics_read))]


def _date(text: str | None) -> str | None:
    """The date typed in the form, checked (``YYYY-MM-DD``), or None when empty."""
    if text is None or not text.strip():
        return None
    value = text.strip()
    try:
        moment(value)
    except ValueError:
        raise InvalidParameterError(
            t("playbooks_edit.web_bad_date", value=repr(value)),
            hint=t("playbooks_edit.web_bad_date_hint"),
        ) from None
    return value


@router.get("/playbooks", response_class=HTMLResponse)
def playbooks_page(
    request: Request,
    principal: Reader,
    settings: SettingsDep,
    session: SessionDep,
    warehouse: LockedWarehouseDep,
    as_of: str | None = None,
) -> HTMLResponse:
    """The loaded playbooks, and a dry run once a date is given."""

    def build() -> HTMLResponse:
        chosen = _date(as_of)
        book = service.book(session)
        context: dict[str, Any] = {
            "can_edit": principal.may(Permission.playbooks_write),
            "as_of": chosen or "",
            "source": book.source,
            "playbooks": [service.describe(p) for p in book.playbooks],
            "reasons": service.reasons(),
        }
        if chosen is not None:
            when = moment(chosen)
            summary, decisions, unavailable = service.dry_run(
                session, warehouse.con, settings, now=when, playbooks=book
            )
            context.update(
                when=when,
                summary=summary.to_dict("records"),
                decisions=decisions.head(SHOWN).to_dict("records"),
                total=len(decisions),
                unavailable=unavailable,
                csv_link="/api/v1/playbooks/dry-run.csv?" + urlencode({"as_of": chosen}),
                can_export=principal.may(Permission.export),
            )
        return render(
            request,
            "playbooks.html",
            principal=principal,
            title_key="engage_playbooks.page_title",
            **context,
        )

    return _page(request, principal, build)


@router.get("/playbooks/{name}/results", response_class=HTMLResponse)
def results_page(
    request: Request,
    principal: Reader,
    settings: SettingsDep,
    session: SessionDep,
    warehouse: LockedWarehouseDep,
    name: str,
    as_of: str | None = None,
) -> HTMLResponse:
    """Treated against holdout per variant: rates, 95 % intervals, profit, goal."""

    def build() -> HTMLResponse:
        chosen = _date(as_of)
        found = service.results(
            warehouse.con, name, as_of=moment(chosen), playbooks=service.book(session)
        )
        return render(
            request,
            "playbook_results.html",
            principal=principal,
            title_key="engage_playbooks.page_title",
            name=name,
            as_of=chosen or "",
            result=found,
            metrics=("conversion", "retention", "revenue"),
            currency=settings.currency,
        )

    return _page(request, principal, build)
