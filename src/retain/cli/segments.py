"""``retain segments``: stored segments (RFM, frequency, value x risk) and saved rules.

``rfm | frequency | value-risk | movement | members | sources`` and the segment builder's
``create | list | show | size | fields``. The first three compute a scheme's memberships as of
a date in the warehouse's engine, store them with that date (``segment_memberships``) and print
each segment's size; ``movement`` and ``members`` read what was stored. ``members NAME`` lists a
stored scheme segment (``--scheme``, or an RFM segment's name) or else the saved segment named
NAME (:mod:`retain.cli._segment_rules` holds the saved-segment commands). Segment names are
printed with their label in the reader's language; csv and json keep the stable names.
``sources`` reports acquisition-source quality (retention, CLV and discount dependence by
channel and by first-order discount).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, cast

import pandas as pd
import typer

import retain.warehouse as wh
from retain.cli._app import app, console, settings
from retain.cli._segment_rules import DefinitionOpt, find_saved, register, saved_members
from retain.cli.metrics import FormatOpt, OutputFormat, OutputOpt, emit
from retain.errors import InvalidParameterError
from retain.i18n import format_date, format_number, format_percent, t
from retain.targeting.segments import (
    SEGMENT_NAMES,
    FrequencyThresholds,
    SourceDimension,
    check_segment,
    default_as_of,
    frequency_segments,
    membership_dates,
    memberships,
    movement_matrix,
    movers,
    require_stored,
    rfm_scores,
    segment_label,
    source_label,
    source_quality,
    store_memberships,
    value_risk_grid,
)

__all__ = ["segments_app"]

segments_app = typer.Typer(
    help="Customer segments: RFM, purchase frequency and value x risk, stored by date, with the "
    "movement between two dates.",
    no_args_is_help=True,
)
app.add_typer(segments_app, name="segments")
register(segments_app)

AsOfOpt = Annotated[
    str, typer.Option("--as-of", help="Date of the segments, YYYY-MM-DD (orders before it count).")
]
CustomersOpt = Annotated[
    bool,
    typer.Option("--customers", help="Print every customer's row instead of the segment sizes."),
]
SchemeOpt = Annotated[str, typer.Option("--scheme", help="rfm (default), frequency or value_risk.")]


def _date(value: str, option: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(dt.date.fromisoformat(value))
    except ValueError:
        raise InvalidParameterError(
            t("segments.bad_date", name=option, value=repr(value)),
            hint=t("segments.bad_date_hint"),
        ) from None


label = segment_label
"""A segment's name in the reader's language (kept for the CLI's callers)."""


def sizes(frame: pd.DataFrame, scheme: str) -> pd.DataFrame:
    """``segment, label, customers, share`` of ``frame``'s ``segment`` column, in scheme order."""
    counts = frame["segment"].value_counts()
    names = list(SEGMENT_NAMES[scheme])
    total = int(counts.sum())
    rows = [
        {
            "segment": name,
            "label": label(name),
            "customers": int(counts.get(name, 0)),
            "share": round(float(counts.get(name, 0)) / total, 4) if total else 0.0,
        }
        for name in names
    ]
    return pd.DataFrame(rows, columns=["segment", "label", "customers", "share"])


def _readable(frame: pd.DataFrame) -> pd.DataFrame:
    """The terminal's copy of a size or transition table: translated headers, percent shares."""
    out = frame.copy()
    for col in ("share", "share_of_from"):
        if col in out.columns:
            out[col] = [format_percent(v, digits=1) for v in out[col]]
    return out.rename(columns={c: t(f"segments.col_{c}") for c in out.columns})


def transitions(matrix: pd.DataFrame) -> pd.DataFrame:
    """The movement matrix's non-empty cells, largest first: from, to, customers, share of from."""
    cells = pd.DataFrame(matrix.stack()).reset_index()
    cells.columns = pd.Index(["from_segment", "to_segment", "customers"])
    totals = cells.groupby("from_segment")["customers"].transform("sum")
    cells["share_of_from"] = (cells["customers"] / totals).round(4)
    cells = cells[cells["customers"] > 0]
    cells["from_segment"] = [label(v) for v in cells["from_segment"]]
    cells["to_segment"] = [label(v) for v in cells["to_segment"]]
    return cells.sort_values("customers", ascending=False, kind="stable", ignore_index=True)


def _store_and_show(
    con: Any,
    scheme: str,
    stamp: pd.Timestamp,
    frame: pd.DataFrame,
    *,
    title_key: str,
    fmt: OutputFormat,
    output: Path | None,
    customers: bool,
) -> None:
    frame = frame.sort_values("customer_id", ignore_index=True)
    rows = store_memberships(con, scheme, stamp, frame)
    title = t(title_key, date=format_date(stamp), customers=format_number(len(frame)))
    if customers:
        emit(frame, fmt, output, title=title)
    elif fmt is OutputFormat.table:
        emit(_readable(sizes(frame, scheme)), fmt, output, title=title)
    else:
        emit(sizes(frame, scheme), fmt, output, title=title)
    if fmt is OutputFormat.table:
        console.print(
            t(
                "segments.stored",
                rows=format_number(rows),
                scheme=scheme,
                date=format_date(stamp),
            ),
            highlight=False,
        )


@segments_app.command("rfm")
def rfm(
    as_of: AsOfOpt,
    bins: Annotated[int, typer.Option("--bins", help="Score bins (5: quintiles).")] = 5,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    customers: CustomersOpt = False,
) -> None:
    """Score recency, frequency and monetary value, name each customer's RFM segment, store it."""
    stamp = _date(as_of, "--as-of")
    con = wh.connect(settings=settings())
    frame = rfm_scores(wh.read_table(con, "orders"), stamp, bins=bins).to_pandas()
    _store_and_show(
        con,
        "rfm",
        stamp,
        frame,
        title_key="segments.title_rfm",
        fmt=fmt,
        output=output,
        customers=customers,
    )


@segments_app.command("frequency")
def frequency(
    as_of: AsOfOpt,
    frequent: Annotated[
        int, typer.Option("--frequent", help="Completed orders that make a customer frequent.")
    ] = 4,
    occasional: Annotated[
        int, typer.Option("--occasional", help="Completed orders that make one occasional.")
    ] = 2,
    window_days: Annotated[
        int | None,
        typer.Option("--window-days", help="Count only orders in these days before --as-of."),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    customers: CustomersOpt = False,
) -> None:
    """Split buyers into frequent, occasional and one-time as of a date, and store it."""
    stamp = _date(as_of, "--as-of")
    limits = FrequencyThresholds(frequent=frequent, occasional=occasional, window_days=window_days)
    con = wh.connect(settings=settings())
    orders = wh.read_table(con, "orders")
    frame = frequency_segments(orders, stamp, thresholds=limits).to_pandas()
    _store_and_show(
        con,
        "frequency",
        stamp,
        frame,
        title_key="segments.title_frequency",
        fmt=fmt,
        output=output,
        customers=customers,
    )


@segments_app.command("value-risk")
def value_risk(
    as_of: AsOfOpt,
    definition: Annotated[
        str | None,
        typer.Option("--definition", help="Churn line (default: each customer's riskiest line)."),
    ] = None,
    high_pct: Annotated[
        int, typer.Option("--high-pct", help="Top percent of CLV that is high value.")
    ] = 20,
    medium_pct: Annotated[
        int, typer.Option("--medium-pct", help="Top percent of CLV that is at least medium.")
    ] = 50,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    customers: CustomersOpt = False,
) -> None:
    """Cross CLV tiers with churn risk bands from the latest scores known on a date; store it."""
    stamp = _date(as_of, "--as-of")
    con = wh.connect(settings=settings())
    grid = value_risk_grid(
        con, stamp, definition=definition, high_pct=high_pct, medium_pct=medium_pct
    )
    frame = grid.to_pandas()
    _store_and_show(
        con,
        "value_risk",
        stamp,
        frame,
        title_key="segments.title_grid",
        fmt=fmt,
        output=output,
        customers=customers,
    )


@segments_app.command("movement")
def movement(
    start: Annotated[str, typer.Option("--from", help="The earlier stored date, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="The later stored date, YYYY-MM-DD.")],
    scheme: SchemeOpt = "rfm",
    source: Annotated[
        str | None,
        typer.Option("--from-segment", help="List the customers who left this segment."),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--to-segment", help="List the customers who arrived in this segment."),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
) -> None:
    """Customers moving between segments from one stored date to another: matrix or list."""
    first, last = _date(start, "--from"), _date(end, "--to")
    con = wh.connect(settings=settings(), read_only=True)
    require_stored(con, scheme, first)
    require_stored(con, scheme, last)
    dates = {"start": format_date(first), "end": format_date(last)}
    if source is not None or target is not None:
        frame = movers(con, scheme, first, last, from_segment=source, to_segment=target)
        rows = frame.to_pandas()
        title = t(
            "segments.title_movers",
            source=label(source) if source else "*",
            target=label(target) if target else "*",
            customers=format_number(len(rows)),
            **dates,
        )
        emit(rows, fmt, output, title=title)
        return
    matrix = movement_matrix(con, scheme, first, last)
    total = format_number(int(matrix.to_numpy().sum()))
    title = t("segments.title_movement", scheme=scheme, customers=total, **dates)
    if fmt is OutputFormat.table:
        # Eleven columns do not fit a terminal: the matrix's non-empty cells, one per line.
        emit(_readable(transitions(matrix)), fmt, output, title=title)
    else:
        emit(matrix.reset_index(), fmt, output, title=title)


@segments_app.command("members")
def members(
    segment: Annotated[
        str,
        typer.Argument(help="A stored segment (at_risk, champions...) or a saved segment's name."),
    ],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Date, YYYY-MM-DD (stored segments: default the latest stored; saved rules: "
            "default the latest scoring run).",
        ),
    ] = None,
    scheme: Annotated[
        str | None,
        typer.Option("--scheme", help="rfm, frequency or value_risk: a stored segment."),
    ] = None,
    definition: DefinitionOpt = None,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
) -> None:
    """The customers of a stored segment on a date, or of a saved segment.

    NAME is a stored segment with ``--scheme`` or when it is an RFM segment's name; otherwise
    the saved segment of that name (or id).
    """
    if scheme is None and segment not in SEGMENT_NAMES["rfm"]:
        found = find_saved(segment)
        if found is not None:
            view, query = found
            saved_members(view, query, as_of=as_of, definition=definition, fmt=fmt, output=output)
            return
    scheme = scheme or "rfm"
    check_segment(scheme, segment)
    con = wh.connect(settings=settings(), read_only=True)
    if as_of is None:
        dates = membership_dates(con, scheme)
        stamp = dates[-1] if dates else pd.Timestamp.now().normalize()
    else:
        stamp = _date(as_of, "--as-of")
    require_stored(con, scheme, stamp)
    frame = memberships(con, scheme, stamp, segment).order_by("customer_id").to_pandas()
    title = t(
        "segments.title_members",
        segment=label(segment),
        date=format_date(stamp),
        customers=format_number(len(frame)),
    )
    emit(frame, fmt, output, title=title)


def _readable_sources(frame: pd.DataFrame) -> pd.DataFrame:
    """The terminal's copy of the source table: labels, percentages, translated headers."""
    out = pd.DataFrame(
        {
            "dimension": [t(f"segments.dimension_{d}") for d in frame["dimension"]],
            "source": [
                source_label(d, s) for d, s in zip(frame["dimension"], frame["source"], strict=True)
            ],
            "customers": [format_number(int(v)) for v in frame["customers"]],
        }
    )
    for col in ("retention_90d", "retention_180d", "discount_dependence"):
        out[col] = ["-" if pd.isna(v) else format_percent(float(v), digits=1) for v in frame[col]]
    out["mean_clv"] = [
        "-" if pd.isna(v) else format_number(float(v), digits=2) for v in frame["mean_clv"]
    ]
    order = ["dimension", "source", "customers", "retention_90d", "retention_180d"]
    out = out[[*order, "mean_clv", "discount_dependence"]]
    return out.rename(columns={c: t(f"segments.col_{c}") for c in out.columns})


@segments_app.command("sources")
def sources(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Date, YYYY-MM-DD (default: the day after the last order)."),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help="channel or first_discount (default: both)."),
    ] = None,
    large_pct: Annotated[
        float,
        typer.Option("--large-pct", help="A first-order discount of this percent is large."),
    ] = 20,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
) -> None:
    """Retention, CLV and discount dependence by acquisition channel and first-order discount."""
    con = wh.connect(settings=settings(), read_only=True)
    stamp = _date(as_of, "--as-of") if as_of is not None else default_as_of(con)
    # source_quality names the groupings when ``by`` is none of them.
    grouping = cast("SourceDimension | None", by)
    frame = source_quality(con, stamp, by=grouping, large_pct=large_pct).to_pandas()
    first = frame[frame["dimension"] == frame["dimension"].iloc[0]] if len(frame) else frame
    title = t(
        "segments.title_sources",
        date=format_date(stamp) if stamp is not None else "-",
        customers=format_number(int(first["customers"].sum())),
    )
    if fmt is OutputFormat.table:
        emit(_readable_sources(frame), fmt, output, title=title)
    else:
        emit(frame, fmt, output, title=title)
