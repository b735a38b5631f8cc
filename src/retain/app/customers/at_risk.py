"""The at-risk list and its CSV export, as the service offers them.

A request's parameters become one :class:`~retain.targeting.AtRiskQuery` (with the configured
churn definition and page-size cap, and a saved segment applied), which
:mod:`retain.targeting` runs for the query's business line as configured (so customers who
have already churned are left out); the export is audited here. Nothing about who is at risk or
what they are worth is decided in the service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from retain import targeting
from retain.app.audit import service as audit
from retain.app.auth.roles import Permission
from retain.app.customers.schemas import AtRiskPage
from retain.app.segments import service as segments
from retain.errors import InvalidParameterError
from retain.i18n import get_language, t
from retain.targeting import AtRiskQuery
from retain.targeting.query import FILTER_FIELDS

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from retain.app.deps import LockedWarehouse, Principal
    from retain.config import ChurnDefinition, Settings

__all__ = ["export", "line_of", "page", "resolve"]


def line_of(settings: Settings, query: AtRiskQuery) -> ChurnDefinition:
    """The configured business line the query lists; an unknown one is a parameter error."""
    names = [line.name for line in settings.churn]
    if query.definition not in names:
        raise InvalidParameterError(
            t("targeting.unknown_line", value=query.definition, choices=", ".join(names)),
            hint=t("targeting.unknown_line_hint"),
            code="parameter.definition",
        )
    return settings.churn_definition(query.definition)


def resolve(
    params: Mapping[str, Any] | Iterable[tuple[str, Any]],
    *,
    settings: Settings,
    session: Session,
) -> AtRiskQuery:
    """The query request ``params`` ask for, ready to run.

    The configured churn definition fills in a missing ``definition`` (one that is not
    configured is refused, naming the lines), ``settings.service`` caps the page size, and a
    named saved segment (404 when unknown) fills the filters the request leaves unset.
    """
    query = AtRiskQuery.from_params(
        params,
        default_definition=settings.churn_definition().name,
        max_limit=settings.service.max_page_size,
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
    query = resolve(params, settings=settings, session=session)
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
