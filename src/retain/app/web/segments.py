"""The segments page: RFM sizes, movement between the two latest dates, value x risk, sources.

``/segments`` reads what ``retain segments rfm`` stored (:mod:`retain.targeting.segments`): the
RFM segment sizes on the latest stored date and the movement matrix from the date before it,
each non-empty cell linking to ``/segments/movement/START/END/FROM/TO``, the customers of that
transition (each linked to their customer 360; e-mail and phone only for roles that may see
personal data, as on the at-risk list). The value x risk grid and the acquisition-source table
are computed from the latest scores and the orders. Every role that sees the at-risk list sees
this page; a part whose data is missing says which command fills it, so the page renders on
any warehouse.

``/segments/saved`` lists the saved segments (analysts and admins) with the builder's form: a
rule written as JSON, checked when saved (a mistake is shown above the form, naming its path,
with what was typed kept). ``/segments/saved/{id}`` shows one: its rule or filters, its size at
month ends, its first customers (linked to their 360) and links to its CSV (an audited export)
and to the at-risk list narrowed to it.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlencode

import pandas as pd
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from retain.app.auth.roles import Permission
from retain.app.customers import access
from retain.app.deps import IdPath, LockedWarehouseDep, Principal, SessionDep, SettingsDep
from retain.app.metrics.service import has_rows
from retain.app.segments import members as saved_members
from retain.app.segments import service as saved
from retain.app.segments.schemas import SegmentPublic
from retain.app.web._page import page as _page
from retain.app.web._session import check_csrf, render, require_page
from retain.errors import NotFoundError, RetainError
from retain.i18n import t
from retain.targeting import AtRiskQuery
from retain.targeting.segments import (
    SEGMENT_NAMES,
    check_segment,
    membership_dates,
    memberships,
    movement_matrix,
    movers,
    require_stored,
    segment_label,
    source_label,
    source_quality,
    value_risk_grid,
)

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = ["LARGE_PCT", "PAGE_SIZE", "movers_path", "router"]

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100
"""Customers per page of a transition's list."""
LARGE_PCT = 20
"""A first-order discount of this percent of the price is large (the library's default)."""
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIERS = ("high", "medium", "low")

AtRiskReader = Annotated[Principal, Depends(require_page(Permission.at_risk_read))]
SegmentReader = Annotated[Principal, Depends(require_page(Permission.segments_read))]
SegmentWriter = Annotated[Principal, Depends(require_page(Permission.segments_write))]
Exporter = Annotated[Principal, Depends(require_page(Permission.export))]


def movers_path(start: str, end: str, source: str, target: str) -> str:
    """The page of one transition's customers (dates as YYYY-MM-DD, segment names)."""
    return f"/segments/movement/{start}/{end}/{quote(source)}/{quote(target)}"


def _day(stamp: pd.Timestamp) -> str:
    return stamp.date().isoformat()


def _sizes(con: BaseBackend, stamp: pd.Timestamp) -> dict[str, Any]:
    counts = memberships(con, "rfm", stamp).segment.value_counts().to_pandas()
    found = dict(zip(counts.iloc[:, 0], counts.iloc[:, 1], strict=True))
    total = int(sum(found.values()))
    rows = [
        {
            "segment": name,
            "label": segment_label(name),
            "customers": int(found.get(name, 0)),
            "share": float(found.get(name, 0)) / total if total else 0.0,
        }
        for name in SEGMENT_NAMES["rfm"]
    ]
    return {"date": stamp, "total": total, "rows": rows}


def _movement(con: BaseBackend, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, Any]:
    matrix = movement_matrix(con, "rfm", start, end)
    names = list(matrix.index)
    base = {"start": _day(start), "end": _day(end)}
    rows = []
    for source in names:
        cells = []
        for target in names:
            count = int(matrix.loc[source, target])
            link = None
            if count:
                link = movers_path(base["start"], base["end"], source, target)
            cells.append({"count": count, "link": link, "stay": source == target})
        rows.append({"segment": source, "label": segment_label(source), "cells": cells})
    return {
        "start": start,
        "end": end,
        "total": int(matrix.to_numpy().sum()),
        "columns": [segment_label(n) for n in names],
        "rows": rows,
    }


def _grid(con: BaseBackend) -> dict[str, Any] | None:
    """Customers per CLV tier x risk band, or ``None`` before both scores exist."""
    if not (has_rows(con, "clv_scores") and has_rows(con, "churn_scores")):
        return None
    counts = (
        value_risk_grid(con)
        .group_by(["value_tier", "risk_band"])
        .aggregate(customers=lambda s: s.count())
        .to_pandas()
    )
    found = {(r.value_tier, r.risk_band): int(r.customers) for r in counts.itertuples()}
    if not found:
        return None
    return {
        "bands": list(_TIERS),
        "rows": [
            {"tier": tier, "cells": [found.get((tier, band), 0) for band in _TIERS]}
            for tier in _TIERS
        ],
        "total": sum(found.values()),
    }


def _sources(con: BaseBackend) -> list[dict[str, Any]]:
    """The acquisition-source table, labelled; empty before any completed order."""
    if not has_rows(con, "orders"):
        return []
    frame = source_quality(con, large_pct=LARGE_PCT).to_pandas()
    rows = []
    for row in frame.to_dict("records"):
        clean = {k: (None if _missing(v) else v) for k, v in row.items()}
        clean["dimension_label"] = t(f"segments.dimension_{row['dimension']}")
        clean["label"] = source_label(str(row["dimension"]), str(row["source"]))
        rows.append(clean)
    return rows


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _part(build: Any) -> tuple[Any, str | None]:
    """Run one part of the page; a retain error becomes that part's message, not the page's."""
    try:
        return build(), None
    except RetainError as exc:
        return None, exc.message


@router.get("/segments", response_class=HTMLResponse)
def segments_page(
    request: Request, principal: AtRiskReader, settings: SettingsDep, warehouse: LockedWarehouseDep
) -> HTMLResponse:
    """RFM sizes, movement, the value x risk grid and acquisition-source quality."""

    def build() -> HTMLResponse:
        con = warehouse.con
        dates = membership_dates(con, "rfm")
        sizes = _sizes(con, dates[-1]) if dates else None
        movement = _movement(con, dates[-2], dates[-1]) if len(dates) > 1 else None
        grid, grid_error = _part(lambda: _grid(con))
        sources, sources_error = _part(lambda: _sources(con))
        return render(
            request,
            "segments.html",
            principal=principal,
            title_key="segments.page_title",
            dates=dates,
            sizes=sizes,
            movement=movement,
            grid=grid,
            grid_error=grid_error,
            sources=sources,
            sources_error=sources_error,
            large_pct=LARGE_PCT,
            currency=settings.currency,
            can_read_saved=principal.may(Permission.segments_read),
        )

    return _page(request, principal, build)


def _bad() -> RetainError:
    return RetainError(t("web.bad_picker"), code="parameter.invalid")


def _contacts(con: BaseBackend, ids: list[str]) -> dict[str, dict[str, Any]]:
    """E-mail and phone of ``ids`` (for roles that may see personal data)."""
    if not ids or not has_rows(con, "customers"):
        return {}
    table = con.table("customers")
    found = table.filter(table.customer_id.isin(ids)).select("customer_id", "email", "phone")
    return {
        str(r["customer_id"]): {k: (None if _missing(v) else v) for k, v in r.items()}
        for r in found.to_pandas().to_dict("records")
    }


@router.get(
    "/segments/movement/{start}/{end}/{from_segment}/{to_segment}", response_class=HTMLResponse
)
def movers_page(
    request: Request,
    principal: AtRiskReader,
    warehouse: LockedWarehouseDep,
    start: str,
    end: str,
    from_segment: str,
    to_segment: str,
) -> HTMLResponse:
    """The customers of one transition between two stored dates, each linked to their 360.

    Malformed parameters are a 400; dates with nothing stored render the page with a notice
    naming the command that stores them, as every page whose data is missing does.
    """

    def build() -> HTMLResponse:
        access.deny_limited(principal)  # an agent opens the customers of their queue only
        source, target = from_segment, to_segment
        raw = request.query_params.get("page", "1")
        if not (
            _DATE.match(start)
            and _DATE.match(end)
            and raw.isdigit()
            and 0 < int(raw) < 1_000_000
            and source in SEGMENT_NAMES["rfm"]
            and target in SEGMENT_NAMES["rfm"]
        ):
            raise _bad()
        check_segment("rfm", source)
        con = warehouse.con
        try:
            first = require_stored(con, "rfm", start)
            last = require_stored(con, "rfm", end)
        except NotFoundError as exc:
            # Not stored yet is no error of the reader's: say so and name the command.
            return render(
                request,
                "segments_movers.html",
                principal=principal,
                title_key="segments.page_title",
                source=segment_label(source),
                target=segment_label(target),
                missing=exc.message,
                hint=exc.hint,
            )
        found = movers(con, "rfm", first, last, from_segment=source, to_segment=target)
        total = int(found.count().to_pandas())
        number = int(raw)
        rows = found.limit(PAGE_SIZE, offset=(number - 1) * PAGE_SIZE).to_pandas()
        ids = [str(v) for v in rows["customer_id"]]
        pii = principal.may(Permission.customers_pii)
        contacts = _contacts(con, ids) if pii else {}
        here = movers_path(start, end, source, target)
        return render(
            request,
            "segments_movers.html",
            principal=principal,
            title_key="segments.page_title",
            source=segment_label(source),
            target=segment_label(target),
            start=first,
            end=last,
            total=total,
            customers=[{"customer_id": i, **contacts.get(i, {})} for i in ids],
            pii=pii,
            can_open=principal.may(Permission.customers_read),
            page_number=number,
            pages=max(1, -(-total // PAGE_SIZE)),
            here=here,
        )

    return _page(request, principal, build)


# -- saved segments: list, builder form, one segment ---------------------------------------------


def _saved_list(
    request: Request,
    principal: Principal,
    session: Any,
    *,
    form: dict[str, str] | None = None,
    error: RetainError | None = None,
) -> HTMLResponse:
    from retain.app.errors import status_for

    views = [SegmentPublic.of(s) for s in saved.list_all(session)]
    return render(
        request,
        "segments_saved.html",
        principal=principal,
        status_code=status_for(error) if error is not None else 200,
        title_key="segments.page_saved_title",
        segments=views,
        can_write=principal.may(Permission.segments_write),
        form=form or {"name": "", "description": "", "rule": ""},
        error=error,
    )


@router.get("/segments/saved", response_class=HTMLResponse)
def saved_segments_page(
    request: Request, principal: SegmentReader, session: SessionDep
) -> HTMLResponse:
    """Every saved segment, and the builder's form for roles that may save one."""
    return _page(request, principal, lambda: _saved_list(request, principal, session))


@router.post("/segments/saved", response_model=None)
def create_saved_segment(
    request: Request,
    principal: SegmentWriter,
    session: SessionDep,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    rule: Annotated[str, Form(max_length=100_000)],
    description: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Save the builder's rule (form with CSRF token); a mistake re-shows the form with it."""

    def build() -> Any:
        check_csrf(principal, csrf)
        try:
            query = AtRiskQuery(rule=rule)  # type: ignore[arg-type]
            segment = saved.create(
                session,
                name=name.strip(),
                description=description.strip(),
                query=query,
                actor=principal,
            )
        except RetainError as exc:
            session.rollback()
            form = {"name": name, "description": description, "rule": rule}
            return _saved_list(request, principal, session, form=form, error=exc)
        return RedirectResponse(f"/segments/saved/{segment.id}", status_code=303)

    return _page(request, principal, build)


SHOWN_MEMBERS = 100
"""Customers a segment's page lists (the CSV holds them all)."""


@router.get("/segments/saved/{segment_id}", response_class=HTMLResponse)
def saved_segment_page(
    request: Request,
    principal: SegmentReader,
    session: SessionDep,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    segment_id: IdPath,
) -> HTMLResponse:
    """One saved segment: rule or filters, size at month ends, its first customers."""

    def build() -> HTMLResponse:
        segment = saved.get(session, segment_id=segment_id)
        view = SegmentPublic.of(segment)
        found, members_error = _part(
            lambda: saved_members.members(
                segment, warehouse, settings=settings, limit=SHOWN_MEMBERS
            )
        )
        sizes, sizes_error = None, None
        if view.kind == "rule":
            sizes, sizes_error = _part(
                lambda: saved_members.sizes(segment, warehouse, settings=settings)
            )
        filters = {k: v for k, v in view.filters.model_dump().items() if v not in (None, [])}
        return render(
            request,
            "segments_saved_one.html",
            principal=principal,
            title_key="segments.page_saved_title",
            segment=view,
            rule_text=json.dumps(view.rule, ensure_ascii=False, indent=2) if view.rule else "",
            filters=filters,
            members=found,
            members_error=members_error,
            shown=SHOWN_MEMBERS,
            sizes=sizes.to_dict("records") if sizes is not None else None,
            sizes_error=sizes_error,
            can_open=principal.may(Permission.customers_read),
            can_export=principal.may(Permission.export),
            at_risk_link="/at-risk?" + urlencode({"segment": view.name}),
        )

    return _page(request, principal, build)


@router.get("/segments/saved/{segment_id}/members.csv", response_model=None)
def saved_segment_csv(
    request: Request,
    principal: Exporter,
    session: SessionDep,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    segment_id: IdPath,
) -> Response:
    """Every customer id of the segment as CSV (an audited export: analysts and admins)."""

    def build() -> Any:
        segment = saved.get(session, segment_id=segment_id)
        chunks = saved_members.export_csv(
            session, segment, warehouse, settings=settings, actor=principal
        )
        name = f"segment-{segment.id}-members.csv"
        return StreamingResponse(
            chunks,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    return _page(request, principal, build)
