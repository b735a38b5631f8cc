"""Settings: ``retain.toml`` in the working folder, overridden by ``RETAIN_*`` variables.

Nothing is built at import time: call :func:`get_settings` (the CLI and the service do it once,
tests pass their own :class:`Settings`). Nested sections use ``__`` in variable names, e.g.
``RETAIN_CLV__MARGIN=0.3``.
"""

from __future__ import annotations

import math
import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from retain.errors import ConfigError

__all__ = [
    "ChurnDefinition",
    "ClvSettings",
    "EngageSettings",
    "IngestSettings",
    "LabelSettings",
    "OfferAction",
    "OfferSettings",
    "SaveDeskSettings",
    "ScheduledJob",
    "ServiceSettings",
    "Settings",
    "SmsSettings",
    "get_settings",
]

CONFIG_ENV = "RETAIN_CONFIG"
DEFAULT_CONFIG = "retain.toml"


class IngestSettings(BaseModel):
    """How ingestion treats doubtful input."""

    unknown_customers: Literal["reject", "create"] = Field(
        "reject",
        description='A row that names a customer not in `customers`: "reject" the batch or '
        '"create" a bare customer',
    )
    on_error: Literal["reject", "quarantine"] = Field(
        "reject",
        description='Bad rows: "reject" the whole batch (nothing written) or "quarantine" them to '
        "the rejects table and load the good ones",
    )
    max_amount: float = Field(
        1_000_000.0, description="Amounts above this are rejected as absurd (rule absurd_amount)"
    )
    future_tolerance_hours: float = Field(
        24.0,
        description="Timestamps later than now + this many hours are rejected "
        "(rule future_timestamp)",
    )
    earliest_timestamp: str = Field(
        "1900-01-01",
        description="Timestamps and dates before this are rejected as implausible "
        "(rule early_timestamp)",
    )
    max_field_bytes: int = Field(
        32_768,
        gt=0,
        description="Longest value accepted in one field, in bytes (rule field_too_large)",
    )
    chunk_rows: int = Field(500_000, description="Rows per chunk when streaming large files")
    memory_limit: str = Field(
        "1GB",
        description="DuckDB memory limit while staging and validating a load; larger inputs "
        "spill to disk",
    )


class ChurnDefinition(BaseModel):
    """What churn means for one business line ("churn indicators differ by company", seed 003)."""

    name: str = Field(
        "default", description="The business line's name (retain churn train --definition NAME)"
    )
    kind: Literal["contractual", "non_contractual"] = Field(
        "non_contractual",
        description='"non_contractual" (shops: churn = no activity within the horizon) or '
        '"contractual" (subscriptions: churn = the subscription ends within the horizon)',
    )
    horizon_days: int = Field(
        90,
        gt=0,
        description="H, in days: churn happens if the customer cancels / stops within H days "
        "after the reference date",
    )
    activity: Literal["orders", "events", "any"] = Field(
        "orders",
        description='non_contractual: what counts as activity: "orders", "events" or "any"',
    )
    event_names: list[str] = Field(
        default_factory=list,
        description='with activity = "events": only these event names count (empty = all)',
    )
    plans: list[str] = Field(
        default_factory=list,
        description="contractual: only subscriptions on these plans (empty = all)",
    )
    attributes: Literal["auto"] | list[str] = Field(
        "auto",
        description='keys of customers.attributes used as features: "auto" (numbers and '
        "categories found in a sample of customers, see retain.features.attributes), a list "
        "of keys, or [] for none",
    )
    exclude_attributes: list[str] = Field(
        default_factory=list,
        description="keys never used as features (a status that records the churn itself, "
        "personal data)",
    )
    champion_metric: Literal["roc_auc", "pr_auc", "brier"] = Field(
        "roc_auc",
        description="pooled backtest metric that picks the model retain churn train ships "
        "(the trees, the logistic regression or their average); a tie within the best one's "
        "bootstrap 95% interval goes to the simpler model (logistic < average < trees)",
    )


class ClvSettings(BaseModel):
    """Lifetime value: margin, discounting and horizon."""

    margin: float = Field(0.3, gt=0, le=1, description="Share of revenue that is profit")
    annual_discount_rate: float = Field(
        0.10,
        ge=0,
        lt=1,
        description="Yearly discount rate for future margin (applied monthly)",
    )
    horizon_months: int = Field(12, gt=0, description="CLV horizon in months")
    time_unit: Literal["day", "week"] = Field(
        "week",
        description='Time unit of frequency / recency / T for the purchase models: "week" '
        '(as in CDNOW) or "day"',
    )


class ServiceSettings(BaseModel):
    """The web service."""

    host: str = Field("127.0.0.1", description="Interface retain serve listens on")
    port: int = Field(8000, description="Port retain serve listens on")
    secret_key: str = Field(
        "",
        description="Signs login cookies; generated and stored in the app database when empty",
    )
    max_request_bytes: int = Field(
        10 * 1024 * 1024, description="Request bodies above this many bytes get 413"
    )
    max_page_size: int = Field(500, description="Most rows one API page returns")
    max_page_size_by_role: dict[str, int] = Field(
        default_factory=lambda: {"agent": 50},
        description="A lower page-size cap per role for the JSON at-risk list (agents work a "
        "list, they do not copy it); roles not named get max_page_size",
    )
    list_pages_per_minute_by_role: dict[str, int] = Field(
        default_factory=lambda: {"agent": 30},
        description="JSON at-risk list pages one caller (user or API key) of a role may read per "
        "minute before 429 with Retry-After; roles not named are not limited (analysts and "
        "admins may export the whole list anyway)",
    )
    login_window_seconds: int = Field(
        900,
        ge=1,
        description="Failed logins are counted over windows of this many seconds; a throttled "
        "login may try again when its window ends",
    )
    login_max_failures_per_email: int = Field(
        5,
        ge=1,
        description="Failed logins for one e-mail within a window before further tries get 429",
    )
    login_max_failures_per_address: int = Field(
        50,
        ge=1,
        description="Failed logins from one client address within a window before further "
        "tries get 429 (higher: offices share an address)",
    )


class SmsSettings(BaseModel):
    """An HTTP SMS gateway (Twilio-style: one POST per message); SMS waits queued while unset."""

    gateway_url: str = Field("", description="The gateway's send URL (https://...)")
    format: Literal["json", "form"] = Field(
        "json", description="Body of the POST: a JSON object, or an HTML form (Twilio)"
    )
    auth_header: str = Field("Authorization", description="Header carrying the credential")
    auth_value: str = Field(
        "",
        description="The header's value, e.g. 'Bearer KEY' or 'Basic BASE64' (secret: set "
        "RETAIN_SMS__AUTH_VALUE)",
    )
    sender: str = Field("", description="The sending number or sender id")
    to_field: str = Field("to", description="Body field of the recipient's number (Twilio: To)")
    from_field: str = Field("from", description="Body field of the sender (Twilio: From)")
    text_field: str = Field("text", description="Body field of the message (Twilio: Body)")
    extra_fields: dict[str, str] = Field(
        default_factory=dict, description="More fields sent as they are, e.g. a channel id"
    )
    optout_number: str = Field(
        "",
        description="Free opt-out number printed in advertising SMS (Korea requires one, "
        "e.g. 080-123-4567)",
    )
    max_segments: int = Field(10, ge=1, description="Longer messages fail instead of being sent")
    timeout_seconds: float = Field(10.0, gt=0, description="Per gateway request")
    allow_private: list[str] = Field(
        default_factory=list,
        description="Networks (CIDR) or host names the gateway may be at although private",
    )
    inbound_secret: str = Field(
        "",
        description="Shared secret of the gateway's replies to POST /api/v1/engage/sms/inbound "
        "(X-Retain-Token header or X-Retain-Signature HMAC); replies are refused while empty "
        "(secret: set RETAIN_SMS__INBOUND_SECRET)",
    )


class EngageSettings(BaseModel):
    """Delivery of messages from the outbox (``retain worker``): sender, legal footer, webhooks."""

    sender: str = Field("", description="From address of e-mail, e.g. news@shop.example")
    sender_name: str = Field("", description="Sender's name shown in From and in the footer")
    postal_address: str = Field(
        "",
        description="Sender's postal address, printed in the footer (Japan's Act on Specified "
        "Electronic Mail requires it)",
    )
    contact: str = Field(
        "", description="Where recipients send questions and complaints (an address or a URL)"
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Base URL of retain serve as recipients reach it (unsubscribe links)",
    )
    signing_secret: str = Field(
        "",
        description="Signs unsubscribe links; generated and kept in the app database when empty",
    )
    webhook_secret: str = Field(
        "", description="HMAC-SHA256 key of the X-Retain-Signature header on webhooks"
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="Per webhook request")
    webhook_allow_private: list[str] = Field(
        default_factory=list,
        description="Networks (CIDR) or host names webhooks may reach although private, loopback "
        "or link-local; empty: only public addresses",
    )
    max_attempts: int = Field(8, ge=1, description="Tries before a message is dead")
    backoff_seconds: float = Field(
        30.0, gt=0, description="First retry delay; doubles each try, with random jitter"
    )
    backoff_max_seconds: float = Field(3600.0, gt=0, description="Longest retry delay")
    lease_seconds: float = Field(
        120.0,
        gt=0,
        description="How long a worker holds a claimed message; a crashed worker's messages are "
        "taken over after it",
    )
    batch_size: int = Field(50, ge=1, description="Messages a worker claims at once")
    poll_seconds: float = Field(5.0, gt=0, description="Pause of retain worker when idle")
    consent_recheck_minutes: float = Field(
        30.0,
        ge=0,
        description="A message queued longer than this has its customer's consent read again "
        "from the warehouse before it is sent (0: every message)",
    )


class ScheduledJob(BaseModel):
    """A recurring job ``retain worker`` runs ([[schedule]]): a retain command at a local time."""

    name: str = Field(min_length=1, max_length=100, description="Stable name, e.g. nightly-scores")
    command: list[str] = Field(
        default_factory=list,
        description='The retain command and its arguments, e.g. ["churn", "score"]; with '
        "email_report_to and no command: the report",
    )
    time: str = Field(
        "06:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="Local time HH:MM of each run"
    )
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=list, description="Weekdays it runs on; every day when empty"
    )
    zone: str = Field("", description="IANA zone of `time` (default: time_zone)")
    email_report_to: list[str] = Field(
        default_factory=list,
        description="E-mail the report (retain report) to these addresses after the command",
    )
    retries: int = Field(3, ge=0, description="Tries after a failure before the run is given up")
    retry_minutes: float = Field(10.0, gt=0, description="Wait between tries")
    timeout_minutes: float = Field(60.0, gt=0, description="A run taking longer fails")


class LabelSettings(BaseModel):
    """Words for the customer attributes that churn reasons name, in en / ja / ko."""

    file: str = Field(
        "",
        description="A TOML file of more labels, shaped like this section without `file` "
        '([attributes.KEY], [values.KEY."VALUE"]); this section\'s own labels win',
    )
    attributes: dict[str, dict[Literal["en", "ja", "ko"], str]] = Field(
        default_factory=dict,
        description="An attribute key's label per language: [labels.attributes.Contract] with "
        'en = "Contract type", ja = "契約形態"',
    )
    values: dict[str, dict[str, dict[Literal["en", "ja", "ko"], str]]] = Field(
        default_factory=dict,
        description='A value\'s label per language: [labels.values.Contract."Month-to-month"] '
        'with ja = "月単位"; the key "*" labels a value of every attribute',
    )


class OfferAction(BaseModel):
    """One retention action the offer planner may give a customer ([[offers.actions]])."""

    name: str = Field(min_length=1, description="Stable name, e.g. coupon_10")
    kind: Literal["discount", "shipping", "message", "call"] = Field(
        "message", description="discount, shipping, message or call"
    )
    cost_per_contact: float = Field(
        0.0, ge=0, description="Cost of reaching one customer, in the reporting currency"
    )
    discount_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of an order given away; paid on every redeemed order, also by "
        "customers who would have stayed anyway",
    )
    capacity_per_week: int | None = Field(
        None, ge=0, description="Most customers this action can reach per week (none: no limit)"
    )
    assumed_response_rate: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Without campaign history: the share of at-risk customers it keeps "
        "(the heuristic uplift is risk x this rate)",
    )


DEFAULT_OFFER_ACTIONS = (
    OfferAction(name="reminder", kind="message", cost_per_contact=0.02, assumed_response_rate=0.01),
    OfferAction(
        name="free_shipping",
        kind="shipping",
        cost_per_contact=0.05,
        discount_share=0.05,
        assumed_response_rate=0.03,
    ),
    OfferAction(
        name="coupon_10",
        kind="discount",
        cost_per_contact=0.05,
        discount_share=0.10,
        assumed_response_rate=0.05,
    ),
    OfferAction(
        name="coupon_20",
        kind="discount",
        cost_per_contact=0.05,
        discount_share=0.20,
        assumed_response_rate=0.08,
    ),
)
"""The planner's actions when retain.toml names none (the demo's four offers)."""


class OfferSettings(BaseModel):
    """The offer planner: candidate actions and how a plan is cut."""

    actions: list[OfferAction] = Field(
        default_factory=list,
        description="Candidate actions, one [[offers.actions]] each (name, kind, "
        "cost_per_contact, discount_share, capacity_per_week, assumed_response_rate); none "
        "configured uses the built-in reminder, free_shipping, coupon_10 and coupon_20. Doing "
        "nothing is always a choice",
    )
    weeks: int = Field(4, gt=0, description="Weeks a plan covers (capacity = per week x weeks)")
    holdout_share: float = Field(
        0.1, ge=0, lt=1, description="Share of the chosen customers held out to measure the plan"
    )
    stay_probability: float = Field(
        0.9,
        gt=0,
        le=1,
        description='Customers at least this likely to stay are left out as "would stay anyway"',
    )
    min_uplift: float = Field(
        0.005,
        ge=0,
        description='Below this uplift a customer is left out as "unlikely to respond"',
    )
    what_if_points: float = Field(
        5.0, gt=0, le=100, description="The what-if line: retention raised by this many points"
    )

    def candidate_actions(self) -> list[OfferAction]:
        """The configured actions, or :data:`DEFAULT_OFFER_ACTIONS` when none is configured."""
        return list(self.actions) if self.actions else list(DEFAULT_OFFER_ACTIONS)

    @field_validator("actions")
    @classmethod
    def _distinct(cls, value: list[OfferAction]) -> list[OfferAction]:
        names = [a.name for a in value]
        if len(set(names)) != len(names) or "nothing" in names:
            raise ValueError(f"action names must be distinct and not 'nothing': {names}")
        return value


class SaveDeskSettings(BaseModel):
    """What the save desk's offer plan may spend ([savedesk]).

    The hosted cancellation page, the API's intake without a budget, the dashboard's **Route
    open cases** button and ``retain savedesk intake`` without ``--budget`` all plan with it.
    """

    budget: float = Field(
        0.0,
        description="Money the save desk's offer plan (cancellation page and intake) may spend "
        "per plan, in the reporting currency; a plan covers offers.weeks weeks (4 by default, "
        "about a month). 0 plans with budget_share of the value at risk instead",
    )
    budget_share: float = Field(
        0.05,
        description="With budget = 0: the plan's budget as this share of the cancellation "
        "line's value at risk (churn probability x CLV, summed), so it follows the book",
    )

    @field_validator("budget")
    @classmethod
    def _money(cls, value: float) -> float:
        if not math.isfinite(value) or value < 0:
            raise ValueError(
                "the save desk's budget is money per plan in the reporting currency, 0 or more "
                f"(0: budget_share of the value at risk), e.g. budget = 5000; got {value}"
            )
        return value

    @field_validator("budget_share")
    @classmethod
    def _share(cls, value: float) -> float:
        if not math.isfinite(value) or not 0 < value <= 1:
            raise ValueError(
                "the save desk's budget_share is a share of the value at risk above 0 and at "
                f"most 1, e.g. budget_share = 0.05 for 5 %; got {value}"
            )
        return value


class Settings(BaseSettings):
    """All of retain's configuration. Paths are relative to the working folder."""

    model_config = SettingsConfigDict(
        env_prefix="RETAIN_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    warehouse_url: str = Field(
        "duckdb:///retain.duckdb",
        description="Where the facts live: duckdb:///file.duckdb (default), "
        "postgres://user@host/db, pyspark://local (Spark in this process) or sc://host:15002 "
        "(a Spark cluster through Spark Connect)",
    )
    spark_warehouse_dir: Path = Field(
        Path("spark-warehouse"),
        description="pyspark://local: the folder that holds the Spark tables and their catalog "
        "(a Derby metastore in metastore_db/), so that tables last between commands; one "
        "process opens it at a time. A sc:// server keeps its own catalog",
    )
    database_url: str = Field(
        "sqlite:///retain-app.db",
        description="The service's own database (users, API keys, audit log): SQLite or PostgreSQL",
    )
    time_zone: str = Field(
        "UTC",
        description="IANA zone used to read timestamps without an offset and to cut days/months "
        "in reports",
    )
    currency: str = Field(
        "USD",
        description="ISO 4217 reporting currency: amounts that carry none are in it, and sums "
        "convert other currencies into it with the exchange_rates table (never added as is)",
    )
    language: Literal["en", "ja", "ko"] = Field(
        "en", description="Language of messages and reports: en, ja or ko"
    )
    models_dir: Path = Field(Path(".retain/models"), description="Where trained models are kept")
    reports_dir: Path = Field(
        Path("."), description="Folder where retain report writes report.html when -o is not given"
    )
    ingest: IngestSettings = Field(
        default_factory=lambda: IngestSettings(), description="How ingestion treats doubtful input"
    )
    churn: list[ChurnDefinition] = Field(
        default_factory=lambda: [ChurnDefinition(name="default", horizon_days=90)],
        description="What churn means. One [[churn]] section per business line; the first is "
        "the default.",
    )
    clv: ClvSettings = Field(
        default_factory=lambda: ClvSettings(),
        description="Lifetime value: margin, discounting and horizon",
    )
    service: ServiceSettings = Field(
        default_factory=lambda: ServiceSettings(), description="The web service (retain serve)"
    )
    offers: OfferSettings = Field(
        default_factory=lambda: OfferSettings(), description="The offer planner (retain plan)"
    )
    savedesk: SaveDeskSettings = Field(
        default_factory=lambda: SaveDeskSettings(),
        description="The save desk's offer plan: what the cancellation page and the intake "
        "may spend",
    )
    smtp_host: str = Field("", description="SMTP server for e-mail (RETAIN_SMTP_HOST)")
    smtp_port: int = Field(587, description="SMTP port (RETAIN_SMTP_PORT)")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS")
    smtp_ssl: bool = Field(False, description="Connect with implicit TLS (port 465)")
    smtp_username: str = Field("", description="SMTP login; no authentication when empty")
    smtp_password: str = Field("", description="SMTP password")
    smtp_timeout_seconds: float = Field(30.0, gt=0, description="SMTP socket timeout")
    engage: EngageSettings = Field(
        default_factory=lambda: EngageSettings(),
        description="Delivery from the outbox: sender, footer, webhooks, retries",
    )
    sms: SmsSettings = Field(
        default_factory=lambda: SmsSettings(),
        description="SMS from the outbox through an HTTP gateway (retain worker)",
    )
    schedule: list[ScheduledJob] = Field(
        default_factory=list,
        description="Recurring jobs retain worker runs ([[schedule]]: refresh scores, run "
        "playbooks, e-mail the report), each run recorded with its outcome",
    )
    labels: LabelSettings = Field(
        default_factory=lambda: LabelSettings(),
        description="Labels of customer attributes in churn reasons (recipes ship their own)",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. 'Asia/Tokyo')") from exc
        return value

    def churn_definition(self, name: str | None = None) -> ChurnDefinition:
        """The named churn definition, or the first one."""
        if name is None:
            return self.churn[0]
        for definition in self.churn:
            if definition.name == name:
                return definition
        known = ", ".join(d.name for d in self.churn)
        raise ConfigError(
            f"no churn definition named {name!r} (known: {known})",
            hint="add a [[churn]] section with that name to retain.toml",
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Constructor arguments win, then RETAIN_* variables, then the TOML file."""
        return (init_settings, env_settings, _FileSource(settings_cls, _file_data.get() or {}))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML ({exc})", hint="check quotes and [section] headers"
        ) from exc


class _FileSource(PydanticBaseSettingsSource):
    """Values read from retain.toml, below RETAIN_* variables and constructor arguments."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # noqa: ARG002
        """The file's value for one field (pydantic-settings protocol)."""
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


_file_data: ContextVar[dict[str, Any] | None] = ContextVar("_file_data", default=None)


def get_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Build settings from ``path`` (or ``$RETAIN_CONFIG``, or ``./retain.toml`` when present).

    Precedence, highest first: keyword ``overrides``, ``RETAIN_*`` variables, the TOML file,
    the defaults.
    """
    explicit = path is not None or CONFIG_ENV in os.environ
    config_path = Path(path or os.environ.get(CONFIG_ENV, DEFAULT_CONFIG))
    data: dict[str, Any] = {}
    if config_path.exists():
        data = _read_toml(config_path)
    elif explicit:
        raise ConfigError(
            f"configuration file {config_path} does not exist",
            hint="run 'retain init' to write a commented retain.toml",
        )
    token = _file_data.set(data)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        source = str(config_path) if config_path.exists() else "settings"
        raise ConfigError(
            f"{source}: {where}: {first['msg']}",
            hint="see 'retain init' for a commented example of every setting",
        ) from exc
    finally:
        _file_data.reset(token)
