"""The at-risk list and its CSV export, as the service offers them.

A request's parameters become one :class:`~retain.targeting.AtRiskQuery` (with the configured
churn definition and page-size cap, and a saved segment applied), which
:mod:`retain.targeting` runs for the query's business line as configured (so customers who
have already churned are left out); the export is audited here. Nothing about who is at risk or
what they are worth is decided in the service.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from retain import targeting
from retain.app._lines import line_named
from retain.app.audit import service as audit
from retain.app.auth import caps
from retain.app.auth.roles import Permission
from retain.app.customers import access
from retain.app.customers.schemas import AtRiskPage
from retain.app.segments import service as segments
from retain.i18n import get_language
from retain.schema import CUSTOMERS
from retain.targeting import AtRiskQuery
from retain.targeting.query import DEFAULT_LIMIT, FILTER_FIELDS
from retain.targeting.segments import rule_to_dict

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from retain.app.deps import LockedWarehouse, Principal
    from retain.config import ChurnDefinition, Settings

__all__ = ["export", "line_of", "list_page", "page", "resolve"]


def line_of(settings: Settings, query: AtRiskQuery) -> ChurnDefinition:
    """The configured business line the query lists; an unknown one is a parameter error."""
    return line_named(settings, query.definition)


def resolve(
    params: Mapping[str, Any] | Iterable[tuple[str, Any]],
    *,
    settings: Settings,
    session: Session,
    max_limit: int | None = None,
) -> AtRiskQuery:
    """The query request ``params`` ask for, ready to run.

    The configured churn definition fills in a missing ``definition`` (one that is not
    configured is refused, naming the lines), ``max_limit`` (default ``settings.service``'s)
    caps the page size, and a named saved segment (404 when unknown) fills the filters the
    request leaves unset.
    """
    query = AtRiskQuery.from_params(
        params,
        default_definition=settings.churn_definition().name,
        max_limit=settings.service.max_page_size if max_limit is None else max_limit,
    )
    line_of(settings, query)
    if query.segment is not None:
        saved = segments.get_by_name_or_id(session, ref=query.segment)
        query = query.narrowed_by(segments.stored_query(saved))
    return query


def page(
    warehouse: LockedWarehouse,
    query: AtRiskQuery,
    *,
    settings: Settings,
    pii: bool,
    lang: str | None,
) -> AtRiskPage:
    """One page of the list as the API's body (contact details only when ``pii``)."""
    found = targeting.at_risk(
        warehouse.con,
        query,
        pii=pii,
        lang=lang,
        tables=warehouse.reads.tables(),
        line=line_of(settings, query),
    )
    return AtRiskPage.from_page(found)


MAX_BODIES = 1024
"""Rendered pages kept (as many as :data:`retain.targeting._frames.MAX_PAGES`)."""


class _Rendered:
    """Pages in the API's form by the identity of the library's page, while that page lives.

    The list keeps the pages it answered (:class:`retain.targeting.JoinedFrames`) and hands the
    same object back for the same request, so its response model is built once, not per request
    (building 50 rows through the model costs a few milliseconds; serialising it, a tenth).
    Each entry holds the page and the contact fields its rows show (what the audit records).
    """

    def __init__(self, size: int = MAX_BODIES) -> None:
        self._lock = threading.Lock()
        self._size = size
        self._kept: OrderedDict[
            int, tuple[weakref.ref[targeting.AtRiskPage], AtRiskPage, list[str]]
        ] = OrderedDict()

    def get(self, found: targeting.AtRiskPage) -> tuple[AtRiskPage, list[str]]:
        """``found`` in the API's form and its contact fields (made once per library page)."""
        with self._lock:
            kept = self._kept.get(id(found))
            if kept is not None and kept[0]() is found:
                return kept[1], kept[2]
        made = AtRiskPage.from_page(found)
        fields = contact_fields(vars(row) for row in found.rows)
        with self._lock:
            self._kept[id(found)] = (weakref.ref(found), made, fields)
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return made, fields


_RENDERED = _Rendered()


class _OneAtATime:
    """Concurrent requests for the same page share one computation of it.

    The list keeps each page it answered for :data:`retain.targeting.FRAME_TTL_S` (60 s), and
    the pages of a busy list expire together. Every request that found its page expired
    computed it again (two queries over the joined frame, 30-40 ms of CPU on a quiet machine):
    in the mixed-read benchmark (40 list pages a second over a dozen pages) each page was
    computed two or three times as they expired, about half a second of CPU within a few
    seconds, every minute, that every other read queued behind. Now the first request
    computes, those asking for the same page meanwhile wait for its answer, and when its
    computation fails the waiters compute their own.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[Hashable, _Pending] = {}

    def run(
        self, key: Hashable, compute: Callable[[], targeting.AtRiskPage]
    ) -> targeting.AtRiskPage:
        """``compute()``, or the page a concurrent call with the same ``key`` is computing."""
        with self._lock:
            pending = self._running.get(key)
            leader = pending is None
            if pending is None:
                pending = self._running[key] = _Pending()
        if not leader:
            pending.done.wait()
            return pending.page if pending.page is not None else compute()
        try:
            pending.page = compute()
            return pending.page
        finally:
            with self._lock:
                del self._running[key]
            pending.done.set()


class _Pending:
    """A page being computed: set once done (``page`` is None when the computation failed)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.page: targeting.AtRiskPage | None = None


_ONE_AT_A_TIME = _OneAtATime()


def _page_key(
    warehouse: LockedWarehouse, query: AtRiskQuery, pii: bool, lang: str, line: ChurnDefinition
) -> Hashable | None:
    """What the page depends on (the warehouse's writes included); None when not hashable."""
    key = (query, pii, lang, line.model_dump_json(), warehouse.reads.tables(), warehouse.generation)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def list_page(
    session: Session,
    warehouse: LockedWarehouse,
    params: Mapping[str, Any] | Iterable[tuple[str, Any]],
    *,
    settings: Settings,
    principal: Principal,
) -> AtRiskPage:
    """One JSON page for ``principal``: capped and rate-counted for its role, audited with PII.

    The page size is capped by :func:`retain.app.auth.caps.max_page_size` (422 above it; a
    request without ``limit`` gets the default or the cap, whichever is smaller) and the
    page counts against the caller's pages per minute (429 with ``Retry-After`` past them). A
    page that returns contact details (:attr:`retain.schema.CUSTOMERS` marks them) is audited
    like an export: how many rows and which contact fields; a page without them is not. The
    same request gets the same page object while the list keeps it (do not change it).
    """
    service = settings.service
    cap = caps.max_page_size(service, principal.role)
    values = dict(params)
    values.setdefault("limit", min(DEFAULT_LIMIT, cap))
    query = access.narrow(
        session, principal, resolve(values, settings=settings, session=session, max_limit=cap)
    )
    caps.count_list_page(session, principal, principal.role, service, ident=principal.id)
    pii = principal.may(Permission.customers_pii)
    lang = get_language()
    line = line_of(settings, query)

    def compute() -> targeting.AtRiskPage:
        return targeting.at_risk(
            warehouse.con, query, pii=pii, lang=lang, tables=warehouse.reads.tables(), line=line
        )

    key = _page_key(warehouse, query, pii, lang, line)
    found = compute() if key is None else _ONE_AT_A_TIME.run(key, compute)
    made, fields = _RENDERED.get(found)
    if fields:
        audit.record_read(
            session,
            principal,
            "at_risk.read",
            ("at_risk", ""),
            rows=len(made.data),
            fields=fields,
            definition=made.definition,
        )
    return made


def contact_fields(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The contact-detail fields (PII of the customers table) that hold a value in any row."""
    held = {name for row in rows for name in CUSTOMERS.pii_columns if row.get(name) is not None}
    return [name for name in CUSTOMERS.pii_columns if name in held]


def export(
    session: Session,
    warehouse: LockedWarehouse,
    params: Mapping[str, Any] | Iterable[tuple[str, Any]],
    *,
    settings: Settings,
    principal: Principal,
) -> targeting.AtRiskExport:
    """Every row the request ``params`` ask for as CSV, audited (who exported what, how many).

    Contact details only for roles that may see them; words in the request's language.
    """
    query = access.narrow(session, principal, resolve(params, settings=settings, session=session))
    found = targeting.export_at_risk(
        warehouse.con,
        query,
        pii=principal.may(Permission.customers_pii),
        lang=get_language(),
        tables=warehouse.reads.tables(),
        line=line_of(settings, query),
    )
    filters = {name: getattr(query, name) for name in FILTER_FIELDS}
    filters["risk_bands"] = list(query.risk_bands)
    # the rule as run (saved-segment references expanded) and the segment the request named:
    # the audit says which customers left, not only the plain filters around them
    filters["rule"] = rule_to_dict(query.rule) if query.rule is not None else None
    filters["segment"] = _named_segment(params)
    audit.record(
        session,
        principal,
        "at_risk.export",
        ("at_risk", ""),
        rows=found.total,
        definition=found.definition,
        **filters,
    )
    return found


def _named_segment(params: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> str | None:
    """The saved segment the request named (``segment=``), if any."""
    items = params.items() if isinstance(params, Mapping) else params
    named = [str(value) for key, value in items if key == "segment" and value]
    return named[-1] if named else None
