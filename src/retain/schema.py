"""The canonical data model: tables as data.

Each :class:`Table` lists its columns with type, whether required, key membership, PII marking and
allowed values. The same description drives validation (``retain.ingest``), DDL
(``retain.warehouse``) and the reference page ``docs/data-model.md``.

Conventions (the public contract, see ``docs/data-model.md``):

- Timestamps (``*_at``) are stored as naive UTC timestamps. Input with an offset is converted
  to UTC; naive input is read in the configured ``time_zone`` and converted.
- Amounts are ``decimal(18, 4)`` in the currency given by the row's ``currency`` column (an ISO
  4217 code), or the configured currency when the table has none.
- ``properties`` and ``attributes`` hold a JSON object as text, so every engine can store them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

import ibis.expr.datatypes as dt
import ibis.expr.schema as sch

__all__ = [
    "CANONICAL_TABLES",
    "DERIVED_TABLES",
    "FACT_TABLES",
    "TABLES",
    "Column",
    "Table",
    "get_table",
    "render_markdown",
]

Kind = Literal["string", "timestamp", "date", "decimal", "float", "integer", "boolean", "json"]

_DTYPES: dict[str, dt.DataType] = {
    "string": dt.String(),
    "timestamp": dt.Timestamp(),
    "date": dt.Date(),
    "decimal": dt.Decimal(18, 4),
    "float": dt.Float64(),
    "integer": dt.Int64(),
    "boolean": dt.Boolean(),
    "json": dt.String(),
}


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    kind: Kind
    description: str
    required: bool = False
    pii: bool = False
    allowed: tuple[str, ...] = ()
    """For string columns with a closed vocabulary: the allowed values."""
    minimum: float | None = None
    """For numeric columns: the smallest allowed value."""
    default: str | bool | int | None = None
    """Value used when an optional column is absent from the input."""
    future_allowed: bool = False
    """For timestamps that are plans, not facts (a renewal date, a trial end): may lie ahead."""
    vocabulary: Literal["country", "language", "time_zone"] | None = None
    """A standard the value must follow: ISO 3166-1 alpha-2, BCP 47 or an IANA zone name."""

    @property
    def dtype(self) -> dt.DataType:
        """The Ibis type the warehouse stores."""
        return _DTYPES[self.kind]


@dataclass(frozen=True)
class Table:
    """A canonical table: its columns, primary key and references."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    references: Mapping[str, str] = field(default_factory=dict)
    """``column -> table``: foreign keys checked on ingest (``customer_id -> customers``)."""
    time_column: str | None = None
    """The event time; rows later than now are rejected on ingest."""
    extra_columns: Literal["attributes", "properties", "reject"] = "reject"
    """Where unmapped input columns go: folded into a JSON column, or rejected."""

    def __iter__(self) -> Iterator[Column]:
        return iter(self.columns)

    @property
    def column_names(self) -> tuple[str, ...]:
        """Every column, in order."""
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        """Columns the input must have."""
        return tuple(c.name for c in self.columns if c.required)

    @property
    def pii_columns(self) -> tuple[str, ...]:
        """Personal data: hidden from roles that do not need it, never logged."""
        return tuple(c.name for c in self.columns if c.pii)

    def column(self, name: str) -> Column:
        """The column called ``name`` (KeyError when absent)."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def ibis_schema(self) -> sch.Schema:
        """The schema the warehouse creates for this table."""
        return sch.Schema({c.name: c.dtype for c in self.columns})


def _c(name: str, kind: Kind, description: str, **kw: object) -> Column:
    return Column(name, kind, description, **kw)  # type: ignore[arg-type]


CUSTOMERS = Table(
    "customers",
    "One row per customer: who they are, when and how they were acquired, and their consent.",
    (
        _c("customer_id", "string", "The company's own customer identifier.", required=True),
        _c(
            "acquired_at",
            "timestamp",
            "When the customer was won (first order or sign-up). "
            "Empty means unknown: the first recorded activity is used.",
        ),
        _c(
            "country",
            "string",
            "ISO 3166-1 alpha-2 country code, e.g. JP, KR, US.",
            vocabulary="country",
        ),
        _c(
            "language",
            "string",
            "Preferred language (BCP 47), e.g. ja, ko, en, pt-BR.",
            vocabulary="language",
        ),
        _c(
            "time_zone",
            "string",
            "IANA time zone name, e.g. Asia/Tokyo.",
            vocabulary="time_zone",
        ),
        _c(
            "acquisition_channel",
            "string",
            "Where the customer came from (search, referral, store...).",
        ),
        _c("email", "string", "E-mail address.", pii=True),
        _c("phone", "string", "Phone number.", pii=True),
        _c(
            "email_opt_in",
            "boolean",
            "Consent to marketing e-mail; missing means no consent.",
            default=False,
        ),
        _c(
            "sms_opt_in",
            "boolean",
            "Consent to marketing SMS; missing means no consent.",
            default=False,
        ),
        _c(
            "attributes",
            "json",
            "Free attributes (segment, plan, gender...) as a JSON object; "
            "unmapped input columns land here.",
        ),
    ),
    key=("customer_id",),
    time_column="acquired_at",
    extra_columns="attributes",
)

ORDERS = Table(
    "orders",
    "One row per order (purchase, invoice).",
    (
        _c("order_id", "string", "The order's identifier.", required=True),
        _c("customer_id", "string", "Who ordered.", required=True),
        _c("ordered_at", "timestamp", "When the order was placed.", required=True),
        _c(
            "amount",
            "decimal",
            "Order total, in currency. Negative only for returns.",
            required=True,
        ),
        _c("currency", "string", "ISO 4217 code; defaults to the configured currency."),
        _c(
            "status",
            "string",
            "completed, cancelled or returned.",
            allowed=("completed", "cancelled", "returned"),
            default="completed",
        ),
        _c("channel", "string", "Where the order was placed (web, app, store, phone...)."),
        _c("discount_amount", "decimal", "Discount granted on the order, in currency.", minimum=0),
    ),
    key=("order_id",),
    references={"customer_id": "customers"},
    time_column="ordered_at",
)

ORDER_LINES = Table(
    "order_lines",
    "The products in each order.",
    (
        _c("order_id", "string", "The order this line belongs to.", required=True),
        _c("line_no", "integer", "Line number within the order, from 1.", required=True, minimum=1),
        _c("product_id", "string", "The product (SKU) identifier.", required=True),
        _c("quantity", "integer", "Units; negative for returned units.", required=True),
        _c(
            "unit_price",
            "decimal",
            "Price per unit, in the order's currency.",
            required=True,
            minimum=0,
        ),
        _c("product_name", "string", "Product description."),
        _c("category", "string", "Product category."),
    ),
    key=("order_id", "line_no"),
    references={"order_id": "orders"},
)

EVENTS = Table(
    "events",
    "Behavioural events: logins, page views, app sessions, plays, feature use.",
    (
        _c("event_id", "string", "The event's identifier (unique).", required=True),
        _c("customer_id", "string", "Whose event.", required=True),
        _c("occurred_at", "timestamp", "When it happened.", required=True),
        _c(
            "name",
            "string",
            "What happened, e.g. login, page_view, cancel_page_view, payment_failed.",
            required=True,
        ),
        _c("channel", "string", "web, app, email, store, phone..."),
        _c("properties", "json", "Details as a JSON object."),
    ),
    key=("event_id",),
    references={"customer_id": "customers"},
    time_column="occurred_at",
    extra_columns="properties",
)

SUBSCRIPTIONS = Table(
    "subscriptions",
    "Contracts: one row per subscription, open (ended_at empty) or ended.",
    (
        _c("subscription_id", "string", "The subscription's identifier.", required=True),
        _c("customer_id", "string", "The subscriber.", required=True),
        _c("plan", "string", "Plan or product name.", required=True),
        _c("started_at", "timestamp", "Start of the contract (after any trial).", required=True),
        _c(
            "ended_at",
            "timestamp",
            "End of the contract; empty while active. May lie ahead (a cancellation effective "
            "at the end of the paid period).",
            future_allowed=True,
        ),
        _c(
            "billing_period",
            "string",
            "day, week, month or year.",
            allowed=("day", "week", "month", "year"),
            default="month",
        ),
        _c("amount", "decimal", "Price per billing period, in currency.", required=True, minimum=0),
        _c("currency", "string", "ISO 4217 code; defaults to the configured currency."),
        _c("cancel_reason", "string", "Why the customer cancelled (exit-survey code or text)."),
        _c(
            "trial_ends_at",
            "timestamp",
            "End of a free trial, if any; revenue counts from started_at.",
            future_allowed=True,
        ),
        _c(
            "contract_ends_at",
            "timestamp",
            "End of the committed term (renewal date); may lie ahead.",
            future_allowed=True,
        ),
    ),
    key=("subscription_id",),
    references={"customer_id": "customers"},
    time_column="started_at",
)

EXCHANGE_RATES = Table(
    "exchange_rates",
    "Exchange rates into the reporting currency, loaded by the user when amounts come in more "
    "than one currency (``retain ingest exchange_rates FILE``).",
    (
        _c(
            "currency", "string", "ISO 4217 code of the amounts converted, e.g. JPY.", required=True
        ),
        _c(
            "reporting_currency",
            "string",
            "ISO 4217 code the rate converts into; only rows for the configured reporting "
            "``currency`` are used.",
            required=True,
        ),
        _c(
            "valid_from",
            "date",
            "First day (UTC) the rate applies; it holds until the currency's next rate. The "
            "earliest rate of a currency also covers amounts dated before it.",
            required=True,
        ),
        _c(
            "rate",
            "float",
            "Units of reporting_currency per one unit of currency (JPY into USD: about 0.0067).",
            required=True,
            minimum=1e-12,
        ),
    ),
    key=("currency", "reporting_currency", "valid_from"),
)

INTERACTIONS = Table(
    "interactions",
    "Everything between company and customer: messages, tickets, complaints, survey answers.",
    (
        _c("interaction_id", "string", "The interaction's identifier.", required=True),
        _c("customer_id", "string", "The customer concerned.", required=True),
        _c("occurred_at", "timestamp", "When it happened.", required=True),
        _c(
            "kind",
            "string",
            "message_sent, message_opened, message_clicked, ticket_opened, "
            "ticket_resolved, complaint, survey_answer, call, chat, ...",
            required=True,
        ),
        _c("channel", "string", "email, sms, phone, chat, web, store, social..."),
        _c("campaign_id", "string", "The campaign that sent a message, if any."),
        _c("properties", "json", "Details as a JSON object (ticket_id, score, reason, text...)."),
    ),
    key=("interaction_id",),
    references={"customer_id": "customers"},
    time_column="occurred_at",
    extra_columns="properties",
)

INGEST_BATCHES = Table(
    "ingest_batches",
    "One row per ingestion run: what was loaded from where, and what happened.",
    (
        _c("batch_id", "string", "Identifier of the load.", required=True),
        _c("table_name", "string", "The canonical table loaded.", required=True),
        _c("source", "string", "Files or frame loaded."),
        _c("started_at", "timestamp", "Start of the load (UTC).", required=True),
        _c("finished_at", "timestamp", "End of the load (UTC)."),
        _c("rows_read", "integer", "Rows read from the source."),
        _c("rows_inserted", "integer", "New keys written."),
        _c("rows_updated", "integer", "Existing keys whose values changed (last write wins)."),
        _c("rows_unchanged", "integer", "Rows identical to what was stored."),
        _c("rows_rejected", "integer", "Rows quarantined."),
        _c("policy", "string", "reject or quarantine."),
    ),
    key=("batch_id",),
)

REJECTS = Table(
    "rejects",
    "Rows quarantined by ``--on-error quarantine``, each with the rule it broke.",
    (
        _c("batch_id", "string", "The load that rejected the row.", required=True),
        _c("table_name", "string", "The canonical table.", required=True),
        _c("file", "string", "Source file."),
        _c("row", "integer", "Line in the source file (or record index)."),
        _c("column", "string", "Column at fault."),
        _c("rule", "string", "Rule broken.", required=True),
        _c("value", "string", "The offending value, as text."),
        _c("message", "string", "What is wrong.", required=True),
        _c("hint", "string", "How to fix it."),
        _c("record", "json", "The whole source row as a JSON object."),
    ),
    key=("batch_id", "row", "column", "rule"),
)

CLV_SCORES = Table(
    "clv_scores",
    "Per-customer lifetime value, written by ``retain clv predict``.",
    (
        _c("customer_id", "string", "The customer.", required=True),
        _c("as_of", "timestamp", "End of the data the model saw.", required=True),
        _c("model_version", "string", "Registry version of the models used.", required=True),
        _c("frequency", "float", "Repeat purchases in the window."),
        _c("recency", "float", "Age at last purchase, in the model's time unit."),
        _c("T", "float", "Age at as_of, in the model's time unit (Fader et al.'s T)."),
        _c("monetary_value", "float", "Average repeat spend."),
        _c("probability_alive", "float", "P(alive) from the purchase model."),
        _c("expected_purchases", "float", "Expected purchases over the horizon."),
        _c("expected_spend", "float", "Expected spend per purchase (Gamma-Gamma)."),
        _c("clv", "float", "Discounted expected margin over the horizon, in currency."),
        _c("currency", "string", "ISO 4217 code."),
        _c("horizon_months", "integer", "Horizon of the CLV."),
        _c(
            "probability_order_30d",
            "float",
            "P(at least one order in the 30 days after as_of), P(alive) included.",
        ),
        _c("probability_order_60d", "float", "The same within 60 days."),
        _c("probability_order_90d", "float", "The same within 90 days."),
        _c(
            "next_order_at",
            "timestamp",
            "Expected day of the next order (median wait if still active); empty when the "
            "customer is more likely gone (P(alive) below 0.5).",
        ),
    ),
    key=("customer_id", "as_of", "model_version"),
)

CHURN_SCORES = Table(
    "churn_scores",
    "Per-customer churn risk with reasons, written by ``retain churn score``.",
    (
        _c("customer_id", "string", "The customer.", required=True),
        _c("as_of", "timestamp", "Reference date of the features.", required=True),
        _c("definition", "string", "Name of the churn definition (business line).", required=True),
        _c(
            "probability",
            "float",
            "Calibrated probability of churn within the horizon.",
            required=True,
        ),
        _c("risk_band", "string", "high, medium or low.", allowed=("high", "medium", "low")),
        _c(
            "reasons",
            "json",
            "Top drivers: a JSON list of {key, params, contribution}; render with retain.i18n.t.",
        ),
        _c("model_version", "string", "Registry version of the model.", required=True),
        _c("scored_at", "timestamp", "When the score was computed."),
    ),
    key=("customer_id", "as_of", "definition", "model_version"),
)

SEGMENT_MEMBERSHIPS = Table(
    "segment_memberships",
    "Each customer's segment in a scheme as of a date, written by ``retain segments rfm``, "
    "``frequency`` and ``value-risk``; one date per run, so the history shows who moved.",
    (
        _c("customer_id", "string", "The customer.", required=True),
        _c(
            "scheme",
            "string",
            "The segmentation: rfm, frequency or value_risk.",
            required=True,
            allowed=("rfm", "frequency", "value_risk"),
        ),
        _c("segment", "string", "The segment's stable name, e.g. loyal, at_risk.", required=True),
        _c("as_of", "timestamp", "The date the membership holds on.", required=True),
    ),
    key=("customer_id", "scheme", "as_of"),
)

UPLIFT_SCORES = Table(
    "uplift_scores",
    "Per-customer uplift of a planner action learned from a past randomized campaign, written "
    "by ``retain uplift score --store`` and the demo pipeline; read by the offer planner.",
    (
        _c("customer_id", "string", "The customer.", required=True),
        _c(
            "action", "string", "The planner action the campaign's offer stands for.", required=True
        ),
        _c("uplift", "float", "Rise in P(stay) from one half's model: chooses.", required=True),
        _c(
            "uplift_honest",
            "float",
            "Uplift the campaign measured for the customer's score group on the other half: "
            "values the choice.",
            required=True,
        ),
        _c("honest_group", "string", "Which measurement values it (action/half/group)."),
        _c("honest_variance", "float", "That measurement's variance: the plan's interval."),
        _c("campaign_id", "string", "The campaign it was learned from.", required=True),
        _c("model_version", "string", "Version of the scoring run.", required=True),
        _c("as_of", "timestamp", "Date of the customers' features."),
        _c("scored_at", "timestamp", "When the uplift was computed."),
    ),
    key=("customer_id", "action", "campaign_id"),
)

UPLIFT_EVALUATIONS = Table(
    "uplift_evaluations",
    "A held-out evaluation of an uplift model on one past randomized campaign (Qini curves, "
    "AUUC with intervals, uplift by decile), written by ``retain uplift evaluate --store`` and "
    "the demo pipeline so the dashboard and API do not train at page load.",
    (
        _c("campaign_id", "string", "The campaign.", required=True),
        _c("outcome", "string", "retention, conversion or revenue.", required=True),
        _c("learner", "string", "The learner's class."),
        _c("started_at", "timestamp", "The campaign's first assignment."),
        _c("n_train", "integer", "Customers the model was fitted on."),
        _c("n_test", "integer", "Held-out customers it was judged on."),
        _c("effects", "json", "Measured effect per arm with its interval (JSON records)."),
        _c("policies", "json", "Qini, AUUC, uplift at 30 % per arm and policy, with intervals."),
        _c("deciles", "json", "Measured uplift per decile of the prediction, with intervals."),
        _c("curves", "json", "Qini curve points per arm and policy (share, qini)."),
        _c("evaluated_at", "timestamp", "When it was computed.", required=True),
    ),
    key=("campaign_id", "outcome"),
)

FACT_TABLES: dict[str, Table] = {
    t.name: t for t in (CUSTOMERS, ORDERS, ORDER_LINES, EVENTS, SUBSCRIPTIONS, INTERACTIONS)
}
"""The business's facts: what happened, to whom and when (the demo generates each of them)."""

CANONICAL_TABLES: dict[str, Table] = {**FACT_TABLES, EXCHANGE_RATES.name: EXCHANGE_RATES}
"""The tables users load (``retain ingest TABLE``): the facts and the exchange rates."""

DERIVED_TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        INGEST_BATCHES,
        REJECTS,
        CLV_SCORES,
        CHURN_SCORES,
        SEGMENT_MEMBERSHIPS,
        UPLIFT_SCORES,
        UPLIFT_EVALUATIONS,
    )
}
"""Tables retain writes itself."""

TABLES: dict[str, Table] = {**CANONICAL_TABLES, **DERIVED_TABLES}


def get_table(name: str) -> Table:
    """The table called ``name``, or a :class:`~retain.errors.NotFoundError` naming the choices."""
    from retain.errors import NotFoundError

    try:
        return TABLES[name]
    except KeyError:
        known = ", ".join(CANONICAL_TABLES)
        raise NotFoundError(
            f"unknown table {name!r}", hint=f"the canonical tables are: {known}"
        ) from None


def _kind_text(column: Column) -> str:
    text = {"decimal": "decimal(18, 4)", "json": "JSON text"}.get(column.kind, column.kind)
    return text


def _notes(column: Column) -> str:
    notes: list[str] = []
    if column.pii:
        notes.append("PII")
    if column.allowed:
        notes.append("one of " + ", ".join(f"`{a}`" for a in column.allowed))
    if column.minimum is not None:
        notes.append(f"≥ {column.minimum:g}")
    if column.vocabulary is not None:
        notes.append(
            {"country": "ISO 3166-1 alpha-2", "language": "BCP 47", "time_zone": "IANA zone"}[
                column.vocabulary
            ]
        )
    if column.default is not None:
        value = column.default
        notes.append(f"default `{str(value).lower() if isinstance(value, bool) else value}`")
    return "; ".join(notes)


def _table_markdown(table: Table) -> list[str]:
    lines = [f"### `{table.name}`", "", table.description, ""]
    facts = [f"- Key: {', '.join(f'`{k}`' for k in table.key)}"]
    for column, target in table.references.items():
        facts.append(f"- `{column}` refers to `{target}`")
    if table.time_column:
        facts.append(f"- Event time: `{table.time_column}` (later than now is rejected on ingest)")
    if table.extra_columns != "reject":
        facts.append(f"- Unmapped input columns go to `{table.extra_columns}`")
    lines += [
        *facts,
        "",
        "| column | type | required | notes | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in table.columns:
        description = c.description.replace("|", "\\|").replace("``", "`")
        lines.append(
            f"| `{c.name}` | {_kind_text(c)} | {'yes' if c.required else ''} | "
            f"{_notes(c)} | {description} |"
        )
    return [*lines, ""]


def render_markdown() -> str:
    """The reference page ``docs/data-model.md``, generated from the tables above.

    ``tests/ingest/test_data_model_docs.py`` fails when the committed page differs, so the page
    and the code cannot drift apart; its failure message gives the command that regenerates it.
    """
    lines = [
        "# Data model",
        "",
        "<!-- Generated by retain.schema.render_markdown(); do not edit by hand. -->",
        "",
        "retain keeps the facts of a business in six canonical tables, plus the exchange rates",
        "that convert amounts in other currencies. Their table and column names are the public",
        "contract: other tools, the models and the tests rely on them. Load them with",
        "`retain ingest TABLE FILE` (see [ingestion](ingestion.md)).",
        "",
        "## Conventions",
        "",
        "- **Timestamps** (`*_at`) are stored as naive UTC timestamps. Input with an offset",
        "  (`2024-01-31T09:30:00+09:00`, `... -0800`, `...Z`) is converted to UTC; input without",
        "  one is read in the configured `time_zone` (retain.toml) and converted.",
        "- **Amounts** are `decimal(18, 4)` in the row's `currency` (ISO 4217), or the configured",
        "  `currency` when the table has none. Negative order amounts are allowed only for",
        "  returns and cancellations.",
        "- **Currencies**: retain never adds amounts in different currencies. Orders,",
        "  subscriptions and lifetime values are summed in the reporting `currency` (retain.toml,",
        "  default `USD`); a row without a `currency` is in it. When rows carry another currency,",
        "  each amount is converted with the `exchange_rates` row of its currency valid on the",
        "  row's date (orders: `ordered_at`; subscriptions: `started_at`; lifetime values:",
        "  `as_of`). A currency without a rate into the reporting currency stops the computation",
        "  with an error naming every currency found and its row count; load rates with",
        "  `retain ingest exchange_rates FILE` or set `currency` to the data's one currency.",
        "  Data in one currency is read as it is, with no conversion.",
        "- **JSON columns** (`attributes`, `properties`, `reasons`) hold a JSON object (or list)",
        "  as text, so every engine can store them.",
        "- **Consent** flags (`email_opt_in`, `sms_opt_in`): missing means no consent.",
        "- **PII** columns are marked below; exports and logs should treat them with care.",
        "",
        "## Canonical tables",
        "",
    ]
    for table in CANONICAL_TABLES.values():
        lines += _table_markdown(table)
    lines += ["## Tables retain writes", ""]
    for table in DERIVED_TABLES.values():
        lines += _table_markdown(table)
    return "\n".join(lines).rstrip() + "\n"
