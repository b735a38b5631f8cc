"""``retain metrics periods | cohorts | lifecycle | mrr | survival``: print or export any metric.

Each command reads the warehouse named by the settings, runs one :mod:`retain.metrics`
function in the engine and prints a table, or writes CSV, Parquet or JSON (``-o FILE``).
Periods are cut in the configured ``time_zone``; lifecycle uses the first churn definition's
``horizon_days``. ``--by`` names a customer column or a key of its attributes (a name that does
not exist is an error listing what does); survival of a shop line measures time to churn under
the line's inactivity rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import ibis.expr.types as ir
import pandas as pd
import typer

import retain.warehouse as wh
from retain import metrics
from retain.cli._app import app, console, settings
from retain.cli._tables import choose_columns, parse_columns, print_frame
from retain.config import ChurnDefinition
from retain.errors import InvalidParameterError
from retain.i18n import t

__all__ = ["metrics_app"]

NARROW_PERIODS = (
    "period_start",
    "customers_end",
    "new_customers",
    "lost_customers",
    "churn_rate",
    "retention_rate",
    "strict_retention_rate",
)
"""What ``metrics periods`` shows on a narrow terminal (``--by`` columns are kept too)."""
NARROW_COHORTS = ("cohort", "period_index", "cohort_size", "active", "value")
NARROW_MRR = (
    "period_start",
    "mrr",
    "net_new_mrr",
    "churned_mrr",
    "logo_churn_rate",
    "net_revenue_retention",
)

metrics_app = typer.Typer(
    help="Retention analytics: period metrics, cohorts, lifecycle, MRR and survival curves.",
    no_args_is_help=True,
)
app.add_typer(metrics_app, name="metrics")


class OutputFormat(StrEnum):
    """How a metric is printed or exported."""

    table = "table"
    csv = "csv"
    parquet = "parquet"
    json = "json"


class PeriodName(StrEnum):
    """Period units on the command line."""

    day = "day"
    week = "week"
    month = "month"
    quarter = "quarter"
    year = "year"


class CohortKind(StrEnum):
    """Logo (customers) or revenue cohorts."""

    logo = "logo"
    revenue = "revenue"


class CohortMode(StrEnum):
    """Classic (active in period k) or unbounded (k or later)."""

    classic = "classic"
    unbounded = "unbounded"


FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table (default), csv, parquet or json.")
]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to this file instead of the terminal.")
]
PeriodOpt = Annotated[
    PeriodName, typer.Option("--period", help="day, week, month, quarter or year.")
]
ColumnsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--columns",
        "-c",
        help="Only these columns, comma-separated (repeatable), in every format. "
        "A table wider than the terminal otherwise shows a short default set.",
    ),
]
ActivityOpt = Annotated[
    str,
    typer.Option(
        "--activity",
        help="What counts as activity: orders (completed), events (any), event:NAME or "
        "subscriptions.",
    ),
]


def _activity(con: Any, spec: str) -> tuple[ir.Table | None, metrics.Activity | None]:
    """The orders table (when present) and the activity named by ``--activity``."""
    orders = wh.read_table(con, "orders") if wh.table_exists(con, "orders") else None
    if spec == "orders":
        return wh.read_table(con, "orders"), None
    if spec == "events":
        return orders, metrics.event_activity(wh.read_table(con, "events"))
    if spec.startswith("event:") and len(spec) > len("event:"):
        return orders, metrics.event_activity(wh.read_table(con, "events"), spec.split(":", 1)[1])
    if spec == "subscriptions":
        return orders, metrics.subscription_activity(wh.read_table(con, "subscriptions"))
    raise InvalidParameterError(
        t("metrics.cli_bad_activity", value=repr(spec)), hint=t("metrics.cli_bad_activity_hint")
    )


ByOpt = Annotated[
    list[str] | None,
    typer.Option("--by", help="Slice by a customer column or attributes key (repeatable)."),
]


def _customers(con: Any, by: Sequence[str] | None) -> ir.Table | None:
    """The customers table when ``--by`` needs it (the library says when it is missing)."""
    return wh.read_table(con, "customers") if by and wh.table_exists(con, "customers") else None


def emit(
    frame: pd.DataFrame,
    fmt: OutputFormat,
    output: Path | None,
    *,
    title: str,
    columns: list[str] | None = None,
    narrow: Sequence[str] = (),
) -> None:
    """Print ``frame`` as a table, or write it as CSV / Parquet / JSON to ``output`` or stdout.

    ``columns`` (``--columns``) keeps only those columns, in every format. A table wider than
    the terminal shows the ``narrow`` columns and names the others; files get every column.
    """
    if fmt is OutputFormat.parquet and output is None:
        raise InvalidParameterError(
            t("metrics.cli_parquet_needs_file"), hint=t("metrics.cli_parquet_hint")
        )
    frame = choose_columns(frame, columns)
    if fmt is OutputFormat.table:
        formatters = {"stage": _stage} if "stage" in frame.columns else {}
        if output is None:
            print_frame(
                console,
                frame,
                title=title,
                narrow=narrow,
                explicit=columns is not None,
                formatters=formatters,
            )
        else:
            with output.open("w", encoding="utf-8") as fh:
                from rich.console import Console

                print_frame(Console(file=fh, width=200), frame, title=title, formatters=formatters)
        return
    if fmt is OutputFormat.parquet:
        assert output is not None
        frame.to_parquet(output, index=False)
    else:
        # 299060.17, not the float sum's 299060.1699999903
        frame = frame.round(6)
        text = (
            frame.to_csv(index=False)
            if fmt is OutputFormat.csv
            else frame.to_json(orient="records", date_format="iso", force_ascii=False, indent=1)
        )
        if output is None:
            typer.echo(text, nl=fmt is OutputFormat.json)
            return
        output.write_text(text, encoding="utf-8")
    console.print(t("metrics.cli_written", path=str(output), rows=len(frame)), highlight=False)


def _stage(value: Any) -> str:
    """A lifecycle stage in the reader's language."""
    return t(f"report.stage_{value}")


@metrics_app.command("periods")
def periods(
    period: PeriodOpt = PeriodName.month,
    activity: ActivityOpt = "orders",
    by: ByOpt = None,
    start: Annotated[
        str | None, typer.Option("--start", help="First period to show (date).")
    ] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last period to show (date).")] = None,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    columns: ColumnsOpt = None,
) -> None:
    """Customers at start and end, new, lost, reactivated, churn, CRR and strict retention.

    CRR = (customers at end - new) / customers at start can pass 100 %: it counts customers
    back after a pause. Strict retention = customers of the start still active at the end.
    """
    conf = settings()
    con = wh.connect(settings=conf)
    orders, act = _activity(con, activity)
    customers = wh.read_table(con, "customers") if by else None
    frame = metrics.period_metrics(
        orders,
        period=period.value,
        activity=act,
        customers=customers,
        by=by,
        tz=conf.time_zone,
        start=start,
        end=end,
    ).to_pandas()
    emit(
        frame,
        fmt,
        output,
        title=t("metrics.cli_periods_title", period=period.value),
        columns=parse_columns(columns),
        narrow=(*(by or ()), *NARROW_PERIODS),
    )
    if fmt is OutputFormat.table:
        console.print(t("metrics.crr_note"), highlight=False)


@metrics_app.command("cohorts")
def cohorts(
    period: PeriodOpt = PeriodName.month,
    kind: Annotated[
        CohortKind, typer.Option("--kind", help="logo (percent retained) or revenue.")
    ] = CohortKind.logo,
    mode: Annotated[
        CohortMode,
        typer.Option("--mode", help="classic (active in period k) or unbounded (k or later)."),
    ] = CohortMode.classic,
    activity: ActivityOpt = "orders",
    by: ByOpt = None,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    columns: ColumnsOpt = None,
) -> None:
    """Acquisition cohorts by periods since acquisition: cohort, period_index, active, value."""
    conf = settings()
    con = wh.connect(settings=conf)
    orders, act = _activity(con, activity)
    frame = metrics.cohort_retention(
        orders,
        period=period.value,
        kind=kind.value,
        mode=mode.value,
        activity=act,
        tz=conf.time_zone,
        customers=_customers(con, by),
        by=by,
    ).to_pandas()
    narrow = (*(by or ()), *NARROW_COHORTS)
    emit(
        frame,
        fmt,
        output,
        title=t("metrics.cli_cohorts_title", kind=kind.value, period=period.value),
        columns=parse_columns(columns),
        narrow=narrow if kind is CohortKind.logo else (*narrow, "cumulative_revenue_per_customer"),
    )


@metrics_app.command("lifecycle")
def lifecycle(
    period: PeriodOpt = PeriodName.month,
    activity: ActivityOpt = "orders",
    definition: Annotated[
        str | None, typer.Option("--definition", help="Churn definition whose horizon_days to use.")
    ] = None,
    by: ByOpt = None,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    columns: ColumnsOpt = None,
) -> None:
    """New, returning, resurrected, dormant and churned customers per period."""
    conf = settings()
    con = wh.connect(settings=conf)
    orders, act = _activity(con, activity)
    horizon = conf.churn_definition(definition).horizon_days
    frame = metrics.lifecycle(
        orders,
        period=period.value,
        activity=act,
        horizon_days=horizon,
        tz=conf.time_zone,
        customers=_customers(con, by),
        by=by,
    ).to_pandas()
    emit(
        frame,
        fmt,
        output,
        title=t("metrics.cli_lifecycle_title", horizon=horizon),
        columns=parse_columns(columns),
    )


@metrics_app.command("mrr")
def mrr(
    period: PeriodOpt = PeriodName.month,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    columns: ColumnsOpt = None,
) -> None:
    """MRR with new, expansion, contraction, churned and reactivation MRR, GRR and NRR."""
    conf = settings()
    con = wh.connect(settings=conf)
    frame = metrics.mrr_movements(
        wh.read_table(con, "subscriptions"), period=period.value, tz=conf.time_zone
    ).to_pandas()
    emit(
        frame,
        fmt,
        output,
        title=t("metrics.cli_mrr_title"),
        columns=parse_columns(columns),
        narrow=NARROW_MRR,
    )


def _line_durations(
    con: Any,
    line: ChurnDefinition,
    spec: str | None,
    *,
    unit: str,
    as_of: str | None,
    by: str | None,
) -> tuple[ir.Table, str]:
    """Durations for ``survival`` and the title: subscriptions end, shop customers lapse.

    ``spec`` (``--activity``) wins; without it a contractual line's subscriptions (on its
    plans) or a shop line's orders (events with ``activity = "events"``) count.
    """
    if spec is None:
        if line.kind == "contractual":
            spec = "subscriptions"
        elif line.activity == "events":
            spec = "events"
        else:
            spec = "orders"
    if spec == "subscriptions":
        subs = wh.read_table(con, "subscriptions")
        if line.kind == "contractual" and line.plans:
            subs = subs.filter(subs.plan.isin(line.plans))
        durations = metrics.subscription_durations(
            subs,
            unit=unit,  # type: ignore[arg-type]  # checked by subscription_durations
            as_of=as_of,
            by=by,
        )
        return durations, t("metrics.cli_survival_title", unit=unit)
    orders, act = _activity(con, spec)
    if act is not None and act.kind == "events" and spec == "events" and line.event_names:
        act = metrics.event_activity(act.table, line.event_names)
    durations = metrics.inactivity_durations(
        orders,
        horizon_days=line.horizon_days,
        activity=act,
        unit=unit,  # type: ignore[arg-type]  # checked by inactivity_durations
        as_of=as_of,
        customers=_customers(con, [by] if by else None),
        by=by,
    )
    title = t(
        "metrics.cli_survival_shop_title", line=line.name, horizon=line.horizon_days, unit=unit
    )
    return durations, title


@metrics_app.command("survival")
def survival(
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="Subscriptions: a subscriptions column, e.g. plan. Shop customers: a customer "
            "column or attributes key.",
        ),
    ] = None,
    unit: Annotated[str, typer.Option("--unit", help="day, week or month.")] = "month",
    as_of: Annotated[str | None, typer.Option("--as-of", help="End of observation (date).")] = None,
    definition: Annotated[
        str | None,
        typer.Option(
            "--definition",
            help="Business line: a contractual line's subscriptions end; a shop line's "
            "customers churn after its horizon_days without activity.",
        ),
    ] = None,
    activity: Annotated[
        str | None,
        typer.Option(
            "--activity",
            help="subscriptions (the default without --definition), or orders, events, "
            "event:NAME: time to churn under the line's inactivity rule.",
        ),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    columns: ColumnsOpt = None,
) -> None:
    """Kaplan-Meier retention curves with 95% bands, median lifetimes and a log-rank test.

    Subscribers churn when their subscription ends. Shop customers (``--activity orders`` or a
    shop ``--definition``) churn after the line's horizon_days without activity; those active
    within that window before the end of the data are censored.
    """
    conf = settings()
    con = wh.connect(settings=conf)
    line = conf.churn_definition(definition)
    spec = activity if activity is not None or definition is not None else "subscriptions"
    table, title = _line_durations(con, line, spec, unit=unit, as_of=as_of, by=by)
    durations = table.to_pandas()
    curves = metrics.kaplan_meier(durations, by=by)
    for name in ("at_risk", "observed", "censored"):  # counts: 23,570, not 23,570.00
        values = curves[name]
        if len(values) and (values == values.round()).all():
            curves[name] = values.astype("int64")
    emit(curves, fmt, output, title=title, columns=parse_columns(columns))
    if fmt is OutputFormat.table:
        summary = metrics.survival_summary(durations, by=by)
        emit(summary, fmt, None, title=t("metrics.cli_survival_summary"))
        if by is not None and durations[by].astype("string").fillna("").nunique() > 1:
            test = metrics.logrank_test(durations, by=by)
            console.print(
                t(
                    "metrics.cli_logrank",
                    by=by,
                    stat=f"{test.statistic:.2f}",
                    p=f"{test.p_value:.3g}",
                    df=test.degrees_of_freedom,
                ),
                highlight=False,
            )
