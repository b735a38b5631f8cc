"""A seeded demo company with a shop and a subscription line, and its known ground truth.

:func:`generate` builds the whole business in memory (pandas frames in the canonical columns of
:mod:`retain.schema`); :func:`write_demo` streams the same business to files chunk by chunk, so a
million customers fit in bounded memory. Customers are generated in chunks of
:data:`CHUNK_CUSTOMERS`, each from its own random stream ``SeedSequence([seed, chunk])``, so the
same seed and size always give the same data, whichever of the two functions made it.

The data are generated FROM the latent truth (``docs/demo.md`` tells the whole process): each
customer's death is drawn from a hazard that the four planted drivers multiply while they act,
and every row in the tables is a consequence of the latent state. :class:`DemoTruth` holds that
state so that models fitted on the demo can be checked against it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from retain.demo._activity import session_events
from retain.demo._campaigns import (
    CampaignTally,
    campaign_dates,
    campaign_interactions,
    month_start,
)
from retain.demo._customers import customers_table, truth_customers_table, truth_spells_table
from retain.demo._files import TRUTH_FILES, append, write_file, write_small_truth
from retain.demo._log import Log
from retain.demo._orders import base_purchases, order_tables
from retain.demo._params import DRIVERS, DemoParameters
from retain.demo._subscriptions import subscriptions_table
from retain.demo._voice import voice_interactions
from retain.demo._world import World, build_world
from retain.errors import InvalidParameterError
from retain.i18n import t
from retain.schema import CANONICAL_TABLES

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import Settings

__all__ = [
    "CHUNK_CUSTOMERS",
    "LOAD_ORDER",
    "DemoBusiness",
    "DemoSummary",
    "DemoTruth",
    "generate",
    "validate_options",
    "write_demo",
]

CHUNK_CUSTOMERS = 20_000
"""Customers per chunk; each chunk has its own random stream."""
MAX_CUSTOMERS = 50_000_000
LOAD_ORDER: tuple[str, ...] = (
    "customers",
    "orders",
    "order_lines",
    "subscriptions",
    "events",
    "interactions",
)
"""Canonical tables in the order they are loaded (customers first: the others refer to them)."""

_ARROW_TYPES = {
    "string": pa.string(),
    "json": pa.string(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "decimal": pa.float64(),
    "float": pa.float64(),
    "integer": pa.int64(),
    "boolean": pa.bool_(),
}
Format = Literal["csv", "parquet"]
Progress = Callable[[str, int, int], None]
"""``on_progress(step, done, total)``: step ``"generate"``; counts are customers."""


@dataclass
class DemoTruth:
    """What the generator knows and the data only show indirectly.

    Attributes
    ----------
    customers : pandas.DataFrame
        One row per customer: ``customer_id``, ``line`` (``shop`` or ``subscription``),
        ``acquired_at``, ``death_at`` (latent churn time, NaT when alive at the end),
        ``alive_at_end``, ``drivers`` (comma-separated drivers that acted during the customer's
        life), ``drivers_at_death``, ``purchase_rate`` (true Pareto/NBD ``lambda`` per week,
        shop only), ``dropout_rate`` (baseline ``mu`` per week), ``sessions_per_week``,
        ``discount_seeker``, ``reactivated_at`` and ``reactivation_ended_at`` (subscribers who
        came back after churning), ``paying_started_at`` and ``subscription_ended_at``
        (subscribers: a subscriber's ``death_at`` is the decision to leave, which takes effect
        at the next billing date or, on an annual plan, at the renewal date; that end may lie
        after the window).
    drivers : list of (str, float)
        The planted churn drivers, strongest first, with their hazard ratios.
    campaigns : pandas.DataFrame
        One row per past campaign: ``campaign_id``, ``name``, ``started_at``, ``channel``,
        ``offer``, ``n_treatment``, ``n_holdout``, ``true_effect`` (absolute lift in the
        60-day purchase probability over the targeted customers), ``redemption``,
        ``holdout_share``.
    campaign_customers : pandas.DataFrame
        Every targeted customer with ``group`` and both potential outcomes ``y0`` and ``y1``
        (an order within 60 days without / with the campaign), for uplift evaluation.
    spells : pandas.DataFrame
        When each driver acted: ``customer_id``, ``driver``, ``hazard_ratio``, ``started_at``,
        ``ended_at`` (NaT while still active at the end).
    params : dict
        Every parameter of the process (``truth_params.json``), among them ``early_life``:
        the onboarding risk of new paying subscribers as ``until_day`` / ``hazard_ratio``
        steps.
    """

    customers: pd.DataFrame
    drivers: list[tuple[str, float]]
    campaigns: pd.DataFrame
    campaign_customers: pd.DataFrame
    spells: pd.DataFrame
    params: dict[str, Any]


@dataclass
class DemoSummary:
    """What a demo run produced: rows per table, customers alive and churned, campaigns."""

    rows: dict[str, int]
    customers_alive: int
    customers_churned: int
    campaigns: int
    files: list[Path] = field(default_factory=list)


@dataclass
class DemoBusiness:
    """The demo company: its canonical tables and the truth they were generated from.

    Attributes
    ----------
    tables : dict of str to pandas.DataFrame
        Canonical table name -> frame with exactly the canonical columns, timestamps naive UTC,
        amounts as float64 (dollars and cents), JSON columns as text.
    truth : DemoTruth
    """

    tables: dict[str, pd.DataFrame]
    truth: DemoTruth

    def summary(self) -> DemoSummary:
        """Row counts and the customers alive and churned at the end."""
        alive = int(self.truth.customers["alive_at_end"].sum())
        return DemoSummary(
            rows={name: len(self.tables[name]) for name in LOAD_ORDER},
            customers_alive=alive,
            customers_churned=len(self.truth.customers) - alive,
            campaigns=len(self.truth.campaigns),
        )

    def write(self, folder: str | Path, *, format: Format = "csv") -> list[Path]:
        """Write one file per canonical table plus the truth files into ``folder``.

        CSV files are UTF-8 with a header row; timestamps are ISO 8601 in UTC without an offset.
        Returns the paths written.
        """
        fmt = _check_format(format)
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for name in LOAD_ORDER:
            table = pa.Table.from_pandas(self.tables[name], preserve_index=False)
            path = out / f"{name}.{fmt}"
            write_file(conform(name, table), path, fmt)
            paths.append(path)
        return paths + _write_truth(out, self.truth)

    def load(
        self,
        con: BaseBackend | None = None,
        *,
        settings: Settings | None = None,
        on_progress: Callable[..., Any] | None = None,
        replace: bool = False,
    ) -> list[Any]:
        """Ingest the tables through :func:`retain.ingest.ingest` and store the truth tables.

        The truth goes to ``demo_truth_customers`` and ``demo_truth_campaigns`` (plain tables,
        not canonical). An earlier demo in the warehouse is replaced; other data is refused
        with a :class:`~retain.errors.ConflictError` unless ``replace`` is true. Returns the
        ingestion reports (:class:`retain.ingest.IngestReport`), in :data:`LOAD_ORDER`.
        """
        from retain.demo._load import load_sources

        return load_sources(
            {name: self.tables[name] for name in LOAD_ORDER},
            self.truth.customers,
            self.truth.campaigns,
            con=con,
            settings=settings,
            on_progress=on_progress,
            replace=replace,
        )


def conform(name: str, table: pa.Table) -> pa.Table:
    """``table`` with exactly the canonical columns of ``name``, in order and types."""
    spec = CANONICAL_TABLES[name]
    return pa.table({c.name: table.column(c.name).cast(_ARROW_TYPES[c.kind]) for c in spec.columns})


def _check_format(value: str) -> Format:
    if value not in ("csv", "parquet"):
        raise InvalidParameterError(
            t("demo.bad_format", value=value), hint=t("demo.parameter_hint")
        )
    return value  # type: ignore[return-value]


def _window_end(begin: dt.datetime, months: int) -> dt.datetime:
    """``months`` calendar months after ``begin`` (the window is ``[begin, end)``)."""
    return month_start(begin, months) + (begin - month_start(begin, 0))


def _whole(value: object, low: int, high: int | None) -> bool:
    """Whether ``value`` is an integer (not a bool) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        return False
    return low <= int(value) and (high is None or int(value) <= high)


def validate_options(customers: int, seed: int, start: str | dt.date, months: int) -> dt.datetime:
    """Check the options of :func:`generate`; return the window's start as a naive datetime.

    Raises
    ------
    InvalidParameterError
        A count out of range, a start that is not a date, or a window ending after today.
    """
    if not _whole(customers, 1, MAX_CUSTOMERS):
        raise InvalidParameterError(
            t("demo.bad_customers", value=customers, maximum=MAX_CUSTOMERS),
            hint=t("demo.parameter_hint"),
        )
    if not _whole(seed, 0, None):
        raise InvalidParameterError(t("demo.bad_seed", value=seed), hint=t("demo.parameter_hint"))
    if not _whole(months, 1, 120):
        raise InvalidParameterError(
            t("demo.bad_months", value=months), hint=t("demo.parameter_hint")
        )
    try:
        day = start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start))
    except ValueError:
        raise InvalidParameterError(
            t("demo.bad_start", value=start), hint=t("demo.parameter_hint")
        ) from None
    begin = dt.datetime(day.year, day.month, day.day)
    end = _window_end(begin, months)
    today = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if end > today:
        raise InvalidParameterError(
            t(
                "demo.future_window",
                start=f"{begin:%Y-%m-%d}",
                end=f"{end:%Y-%m-%d}",
                today=f"{today:%Y-%m-%d}",
            ),
            hint=t("demo.future_window_hint"),
        )
    return begin


@dataclass
class _Run:
    customers: int
    seed: int
    start: dt.datetime
    months: int
    params: DemoParameters

    @property
    def end(self) -> dt.datetime:
        return _window_end(self.start, self.months)

    @property
    def horizon(self) -> float:
        return (self.end - self.start).total_seconds() / 86_400.0


def _chunk(
    run: _Run, k: int, counters: dict[str, int], tally: CampaignTally
) -> dict[str, pa.Table]:
    """Tables and truth of the ``k``-th chunk of customers."""
    n = min(CHUNK_CUSTOMERS, run.customers - k * CHUNK_CUSTOMERS)
    rng = np.random.default_rng(np.random.SeedSequence([run.seed, k]))
    w: World = build_world(
        rng,
        n=n,
        offset=k * CHUNK_CUSTOMERS,
        start=run.start,
        horizon=run.horizon,
        params=run.params,
    )
    w.counters = counters
    events = Log("event_id", "E", ("name", "channel", "properties"))
    interactions = Log("interaction_id", "I", ("kind", "channel", "campaign_id", "properties"))
    out = {"customers": customers_table(w)}
    purchases = campaign_interactions(w, interactions, base_purchases(w), run.months, tally)
    out["orders"], out["order_lines"], store_orders = order_tables(w, purchases)
    out["subscriptions"] = subscriptions_table(w, events)
    session_events(w, events, store_orders)
    for owner, time, campaign in w.email_landings:
        keep = w.alive_at(owner, time) & (time < w.horizon)
        props = f'{{"page": "/", "utm_campaign": "{campaign}"}}'
        events.add(owner[keep], time[keep], name="page_view", channel="email", properties=props)
    voice_interactions(w, interactions)
    out["events"] = events.table(w)
    out["interactions"] = interactions.table(w)
    tables = {name: conform(name, table) for name, table in out.items()}
    tables["truth_customers"] = truth_customers_table(w)
    tables["truth_spells"] = truth_spells_table(w)
    return tables


def _chunks(run: _Run, tally: CampaignTally) -> Iterator[tuple[int, dict[str, pa.Table]]]:
    counters: dict[str, int] = {}
    for k in range(-(-run.customers // CHUNK_CUSTOMERS)):
        yield min((k + 1) * CHUNK_CUSTOMERS, run.customers), _chunk(run, k, counters, tally)


def _campaign_truth(run: _Run, tally: CampaignTally) -> pa.Table:
    dates = campaign_dates(run.params, run.start, run.months, run.horizon)
    plans = [plan for plan in run.params.campaigns if plan.campaign_id in dates]
    rows: dict[str, list[Any]] = {
        key: []
        for key in (
            "campaign_id",
            "name",
            "started_at",
            "channel",
            "offer",
            "n_treatment",
            "n_holdout",
            "true_effect",
            "redemption",
            "holdout_share",
        )
    }
    for plan in plans:
        cid = plan.campaign_id
        n_t, n_h = tally.n_treatment.get(cid, 0), tally.n_holdout.get(cid, 0)
        targeted = n_t + n_h
        rows["campaign_id"].append(cid)
        rows["name"].append(plan.name)
        rows["started_at"].append(dates[cid])
        rows["channel"].append(plan.channel)
        rows["offer"].append(plan.offer)
        rows["n_treatment"].append(n_t)
        rows["n_holdout"].append(n_h)
        rows["true_effect"].append(tally.effect_sum.get(cid, 0.0) / targeted if targeted else 0.0)
        rows["redemption"].append(plan.redemption)
        rows["holdout_share"].append(plan.holdout_share)
    schema = pa.schema(
        [
            ("campaign_id", pa.string()),
            ("name", pa.string()),
            ("started_at", pa.timestamp("us")),
            ("channel", pa.string()),
            ("offer", pa.string()),
            ("n_treatment", pa.int64()),
            ("n_holdout", pa.int64()),
            ("true_effect", pa.float64()),
            ("redemption", pa.float64()),
            ("holdout_share", pa.float64()),
        ]
    )
    return pa.table(rows, schema=schema)


def _params(run: _Run) -> dict[str, Any]:
    data = run.params.as_dict()
    data.update(
        seed=run.seed,
        customers=run.customers,
        start=f"{run.start:%Y-%m-%d}",
        end=f"{run.end:%Y-%m-%d}",
        months=run.months,
        chunk_customers=CHUNK_CUSTOMERS,
    )
    return data


def _empty_campaign_customers() -> pa.Table:
    return pa.table(
        {
            "campaign_id": pa.array([], pa.string()),
            "customer_id": pa.array([], pa.string()),
            "group": pa.array([], pa.string()),
            "y0": pa.array([], pa.bool_()),
            "y1": pa.array([], pa.bool_()),
        }
    )


def generate(
    *,
    customers: int = 20_000,
    seed: int = 7,
    start: str | dt.date = "2024-01-01",
    months: int = 24,
    on_progress: Progress | None = None,
) -> DemoBusiness:
    """Generate the demo business in memory.

    Parameters
    ----------
    customers
        Number of customers acquired over the window (shop and subscription lines together).
    seed
        Seed of the random streams: the same seed and sizes give identical frames.
    start
        First day of the window (ISO date); acquisitions and every fact fall in
        ``[start, start + months)``.
    months
        Length of the window. It must end before today.
    on_progress
        Called as ``on_progress("generate", customers_done, customers_total)`` after each chunk.

    Returns
    -------
    DemoBusiness
        The canonical tables as pandas frames and the :class:`DemoTruth`.

    Examples
    --------
    >>> from retain.demo import generate
    >>> demo = generate(customers=500, seed=1)
    >>> sorted(demo.tables)
    ['customers', 'events', 'interactions', 'order_lines', 'orders', 'subscriptions']
    >>> demo.truth.drivers[0]
    ('unresolved_complaint', 4.0)
    """
    run = _Run(
        customers, seed, validate_options(customers, seed, start, months), months, DemoParameters()
    )
    tally = CampaignTally()
    parts: dict[str, list[pa.Table]] = {}
    for done, tables in _chunks(run, tally):
        for name, table in tables.items():
            parts.setdefault(name, []).append(table)
        if on_progress is not None:
            on_progress("generate", done, run.customers)
    frames = {name: pa.concat_tables(parts[name]).to_pandas() for name in LOAD_ORDER}
    campaign_customers = (
        pa.concat_tables(tally.customers) if tally.customers else _empty_campaign_customers()
    )
    truth = DemoTruth(
        customers=pa.concat_tables(parts["truth_customers"]).to_pandas(),
        drivers=list(DRIVERS),
        campaigns=_campaign_truth(run, tally).to_pandas(),
        campaign_customers=campaign_customers.to_pandas(),
        spells=pa.concat_tables(parts["truth_spells"]).to_pandas(),
        params=_params(run),
    )
    return DemoBusiness(tables=frames, truth=truth)


def write_demo(
    folder: str | Path,
    *,
    customers: int = 20_000,
    seed: int = 7,
    start: str | dt.date = "2024-01-01",
    months: int = 24,
    format: Format = "csv",
    on_progress: Progress | None = None,
) -> DemoSummary:
    """Generate the demo business chunk by chunk straight into files (bounded memory).

    Writes the same data as ``generate(...).write(folder, format=format)`` for the same
    arguments, but holds one chunk of :data:`CHUNK_CUSTOMERS` customers at a time, so it is the
    way to build large demos (``retain demo --customers 1000000``).
    """
    fmt = _check_format(format)
    run = _Run(
        customers, seed, validate_options(customers, seed, start, months), months, DemoParameters()
    )
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    tally = CampaignTally()
    writers: dict[str, Any] = {}
    rows = dict.fromkeys(LOAD_ORDER, 0)
    truth_writers: dict[str, Any] = {}
    alive = total = 0
    try:
        for done, tables in _chunks(run, tally):
            for name in LOAD_ORDER:
                rows[name] += tables[name].num_rows
                append(writers, out / f"{name}.{fmt}", tables[name], fmt)
            for name in ("truth_customers", "truth_spells"):
                append(truth_writers, out / f"{name}.csv", tables[name], "csv")
            alive_flags = tables["truth_customers"].column("alive_at_end").to_numpy()
            alive += int(alive_flags.sum())
            total += alive_flags.size
            if on_progress is not None:
                on_progress("generate", done, run.customers)
    finally:
        for writer in [*writers.values(), *truth_writers.values()]:
            writer.close()
    campaigns = _campaign_truth(run, tally)
    campaign_customers = (
        pa.concat_tables(tally.customers) if tally.customers else _empty_campaign_customers()
    )
    write_file(campaigns, out / "truth_campaigns.csv", "csv")
    write_file(campaign_customers, out / "truth_campaign_customers.csv", "csv")
    write_small_truth(out, _params(run))
    files = [out / f"{name}.{fmt}" for name in LOAD_ORDER] + [out / f for f in TRUTH_FILES]
    return DemoSummary(
        rows=rows,
        customers_alive=alive,
        customers_churned=total - alive,
        campaigns=campaigns.num_rows,
        files=files,
    )


def _write_truth(out: Path, truth: DemoTruth) -> list[Path]:
    frames = {
        "truth_customers": truth.customers,
        "truth_campaigns": truth.campaigns,
        "truth_campaign_customers": truth.campaign_customers,
        "truth_spells": truth.spells,
    }
    for name, frame in frames.items():
        write_file(pa.Table.from_pandas(frame, preserve_index=False), out / f"{name}.csv", "csv")
    write_small_truth(out, truth.params)
    return [out / f for f in TRUTH_FILES]
