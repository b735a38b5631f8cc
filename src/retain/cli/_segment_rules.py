"""``retain segments create | list | show | size | fields``: saved segments built as rules.

Saved segments live in the app database (the same ones the API and the dashboard save), reached
only through :mod:`retain.app`'s names; their members and sizes are evaluated in the warehouse
by :mod:`retain.targeting.segments`. ``retain segments members NAME`` lists a saved segment's
customers too (:func:`saved_members`, called by :mod:`retain.cli.segments`). Imported by
:mod:`retain.cli.segments`, whose command group these commands join.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

import retain.warehouse as wh
from retain.cli._app import console, settings
from retain.cli.metrics import FormatOpt, OutputFormat, OutputOpt, emit
from retain.errors import InvalidParameterError, NotFoundError
from retain.i18n import format_date, format_number, t
from retain.targeting import AtRiskQuery
from retain.targeting.segments import FIELDS
from retain.targeting.segments.saved import members_of, size_history

__all__ = ["find_saved", "register", "saved_members"]

DefinitionOpt = Annotated[
    str | None,
    typer.Option(
        "--definition", help="Business line whose scores the rule reads (default: first)."
    ),
]


def _rule_text(value: str) -> str:
    """``--rule``'s JSON: the text itself, or a file's content when it starts with ``@``."""
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidParameterError(
                t("segments.rule_bad_json", path="--rule", error=str(exc))
            ) from None
    return value


def find_saved(ref: str) -> tuple[dict[str, Any], AtRiskQuery] | None:
    """The saved segment named ``ref`` (or with that id) and its query; None if there is none."""
    from retain.app import find_segment, open_session

    with open_session(settings().database_url) as session:
        try:
            return find_segment(session, ref)
        except NotFoundError:
            return None


def _date(value: str | None) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(value)
    except ValueError:
        raise InvalidParameterError(
            t("segments.bad_date", name="--as-of", value=repr(value)),
            hint=t("segments.bad_date_hint"),
        ) from None


def saved_members(
    view: dict[str, Any],
    query: AtRiskQuery,
    *,
    as_of: str | None,
    definition: str | None,
    fmt: OutputFormat,
    output: Path | None,
) -> None:
    """Print a saved segment's customer ids on a date (a rule) or in the latest run (filters)."""
    con = wh.connect(settings=settings(), read_only=True)
    line = settings().churn_definition(definition)
    table, stamp = members_of(con, query, line=line, as_of=_date(as_of))
    frame = table.order_by("customer_id").to_pandas()
    title = t(
        "segments.saved_title_members",
        name=view["name"],
        date=format_date(stamp) if stamp is not None else "-",
        customers=format_number(len(frame)),
    )
    emit(frame, fmt, output, title=title)


def _require(ref: str) -> tuple[dict[str, Any], AtRiskQuery]:
    found = find_saved(ref)
    if found is None:
        raise NotFoundError(
            t("app.segment_not_found", ref=ref), hint=t("app.segment_not_found_hint")
        )
    return found


def create(
    name: Annotated[str, typer.Argument(help="The segment's name (unique).")],
    rule: Annotated[
        str | None,
        typer.Option("--rule", help="The rule as JSON, or @file.json (docs/segments.md)."),
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="What the segment is for.")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the rule of an existing segment.")
    ] = False,
) -> None:
    """Save a segment built as a rule; it is checked first (mistakes name their path)."""
    from retain.app import open_session, save_segment

    if rule is None:
        raise InvalidParameterError(
            t("segments.saved_needs_rule"), hint=t("segments.saved_needs_rule_hint")
        )
    text = _rule_text(rule)
    with open_session(settings().database_url) as session:
        view, created = save_segment(
            session, name=name, description=description, rule=text, replace=replace
        )
    key = "segments.saved_created" if created else "segments.saved_replaced"
    console.print(t(key, name=view["name"], id=view["id"]), highlight=False)


def list_saved(fmt: FormatOpt = OutputFormat.table, output: OutputOpt = None) -> None:
    """Every saved segment: name, kind (rule or at-risk filters), description, creator."""
    from retain.app import list_segments, open_session

    with open_session(settings().database_url) as session:
        rows = list_segments(session)
    frame = pd.DataFrame(
        [
            {
                "id": r["id"],
                "name": r["name"],
                "kind": r["kind"],
                "description": r["description"],
                "created_by": r["created_by"],
                "rule": json.dumps(r["rule"], ensure_ascii=False) if r["rule"] else "",
            }
            for r in rows
        ],
        columns=["id", "name", "kind", "description", "created_by", "rule"],
    )
    title = t("segments.saved_title_list", count=format_number(len(frame)))
    if fmt is OutputFormat.table:
        frame["kind"] = [t(f"segments.saved_kind_{k}") for k in frame["kind"]]
        frame = frame.rename(columns={c: t(f"segments.col_{c}") for c in frame.columns[1:5]})
    emit(frame, fmt, output, title=title)


def show(
    name: Annotated[str, typer.Argument(help="The segment's name or id.")],
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
) -> None:
    """One saved segment: its rule (JSON) or filters, description and who made it."""
    view, _ = _require(name)
    if fmt is OutputFormat.table:
        console.print(t("segments.saved_title_show", name=view["name"]), highlight=False)
        kind = t(f"segments.saved_kind_{view['kind']}")
        console.print(f"{t('segments.col_kind')}: {kind}", highlight=False)
        if view["description"]:
            console.print(view["description"], highlight=False, markup=False)
        if view["rule"]:
            console.print_json(json.dumps(view["rule"], ensure_ascii=False))
        filters = {k: v for k, v in view["filters"].items() if v not in (None, [])}
        if filters:
            console.print_json(json.dumps(filters, ensure_ascii=False))
        return
    row = {
        k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v for k, v in view.items()
    }
    if fmt is OutputFormat.json and output is None:
        console.print_json(json.dumps(view, ensure_ascii=False))
        return
    emit(pd.DataFrame([row]), fmt, output, title=view["name"])


def size(
    name: Annotated[str, typer.Argument(help="The segment's name or id.")],
    months: Annotated[int, typer.Option("--months", help="How many month ends.")] = 12,
    end: Annotated[
        str | None,
        typer.Option("--end", help="Last date, YYYY-MM-DD (default: the latest scoring run)."),
    ] = None,
    definition: DefinitionOpt = None,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
) -> None:
    """A saved rule's size at month ends, the rule evaluated point in time at each."""
    view, query = _require(name)
    line = settings().churn_definition(definition)
    con = wh.connect(settings=settings(), read_only=True)
    frame = size_history(con, query, name=view["name"], line=line, months=months, end=_date(end))
    title = t("segments.saved_title_size", name=view["name"], line=line.name)
    if fmt is OutputFormat.table:
        frame = pd.DataFrame(
            {
                t("segments.col_as_of"): [format_date(d) for d in frame["as_of"]],
                t("segments.col_customers"): [format_number(int(n)) for n in frame["customers"]],
            }
        )
    emit(frame, fmt, output, title=title)


def fields(fmt: FormatOpt = OutputFormat.table, output: OutputOpt = None) -> None:
    """Every field a segment rule may name, what values it takes and where it comes from."""
    rows = [
        {
            "field": s.name,
            "field_kind": s.kind,
            "field_source": s.source,
            "values": ", ".join(s.choices),
        }
        for s in FIELDS.values()
    ]
    rows.append(
        {
            "field": "attributes.<key>",
            "field_kind": "attribute",
            "field_source": "customer",
            "values": "",
        }
    )
    frame = pd.DataFrame(rows)
    if fmt is OutputFormat.table:
        frame = frame.rename(columns={c: t(f"segments.col_{c}") for c in frame.columns[:3]})
    emit(frame, fmt, output, title=t("segments.saved_title_fields"))


def register(group: typer.Typer) -> None:
    """Add these commands to ``retain segments``."""
    group.command("create")(create)
    group.command("list")(list_saved)
    group.command("show")(show)
    group.command("size")(size)
    group.command("fields")(fields)
