"""The reasons page: ``/reasons?since=D``, why customers say they leave and what they write.

Analysts and admins (the roles that read metrics) see the stated exit reasons (each customer's
latest ``exit_survey`` answer: customers, share, revenue lost in the year before), the same
customers' reasons beside the churn model's top reason, and the themes in the newest free text
customers wrote, each with representative quotes. Customers' words are escaped like every value
the templates print. ``/reasons.csv`` (the export permission, audited) lists each answer with
its comment; a comment a spreadsheet would read as a formula gets a leading ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from retain.app.audit import service as audit
from retain.app.auth.roles import Permission
from retain.app.deps import LockedWarehouseDep, Principal, SessionDep
from retain.app.web._page import page as _page
from retain.app.web._session import render, require_page
from retain.errors import InvalidParameterError
from retain.i18n import t
from retain.models.churn.reasons.labels import humanise
from retain.targeting.export import csv_cell
from retain.voice.reasons import reason_summary, stated_beside_model, stated_reasons
from retain.voice.texts import customer_texts
from retain.voice.themes import find_themes

__all__ = ["THEME_TEXTS", "router"]

router = APIRouter(include_in_schema=False)

THEME_TEXTS = 5000
"""The newest texts grouped into themes on the page, so that it answers in a few seconds."""

Reader = Annotated[Principal, Depends(require_page(Permission.metrics_read))]
Exporter = Annotated[Principal, Depends(require_page(Permission.export))]


def _since(text: str | None) -> pd.Timestamp | None:
    if text is None or not text.strip():
        return None
    try:
        return pd.Timestamp(text.strip()).normalize()
    except ValueError:
        raise InvalidParameterError(
            t("voice.bad_since", value=text), hint=t("voice.bad_since_hint")
        ) from None


def reason_label(code: str) -> str:
    """The reason code's name in the reader's language (the code itself if it has none)."""
    label = t(f"voice.reason_{code}")
    return code if label == f"voice.reason_{code}" else label


@router.get("/reasons", response_class=HTMLResponse)
def reasons_page(
    request: Request,
    principal: Reader,
    warehouse: LockedWarehouseDep,
    since: str | None = None,
) -> HTMLResponse:
    """Stated reasons, beside the model's reasons, and themes with quotes."""

    def build() -> HTMLResponse:
        start = _since(since)
        con = warehouse.con
        summary = reason_summary(con, since=start)
        rows = summary.to_dict("records")
        for row in rows:
            row["label"] = reason_label(str(row["reason"]))
        beside = stated_beside_model(con, since=start).to_dict("records")
        for row in beside:
            row["label"] = reason_label(str(row["reason"]))
            key = str(row["model_reason"])  # a message key; its words need one customer's numbers
            row["model_label"] = "-" if key == "none" else humanise(key.rsplit(".", 1)[-1])
        texts = customer_texts(con, since=start, limit=THEME_TEXTS)
        themes = find_themes(list(texts["text"]), quotes=3).themes
        params = {"since": start.date().isoformat()} if start is not None else {}
        return render(
            request,
            "voice_reasons.html",
            principal=principal,
            title_key="voice.page_title",
            since=start.date().isoformat() if start is not None else "",
            reasons=rows,
            answered=int(summary["customers"].sum()),
            beside=beside,
            themes=themes,
            texts=len(texts),
            csv_link="/reasons.csv" + ("?" + urlencode(params) if params else ""),
            can_export=principal.may(Permission.export),
        )

    return _page(request, principal, build)


def _csv(frame: pd.DataFrame) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["customer_id", "answered_at", "reason", "comment"])
    answered = pd.to_datetime(frame["occurred_at"])
    for customer, at, reason, comment in zip(
        frame["customer_id"], answered, frame["reason"], frame["comment"], strict=True
    ):
        writer.writerow(
            [csv_cell(str(customer)), at.isoformat(), csv_cell(str(reason)), csv_cell(str(comment))]
        )
    yield buffer.getvalue()


@router.get("/reasons.csv", response_model=None)
def reasons_csv(
    request: Request,
    principal: Exporter,
    session: SessionDep,
    warehouse: LockedWarehouseDep,
    since: str | None = None,
) -> Any:
    """Each customer's latest exit answer with its comment, as CSV (an audited export)."""

    def build() -> Any:
        start = _since(since)
        frame = stated_reasons(warehouse.con, since=start)
        audit.record(session, principal, "voice.reasons_export", None, rows=len(frame))
        return StreamingResponse(
            _csv(frame),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="exit-reasons.csv"'},
        )

    return _page(request, principal, build)
