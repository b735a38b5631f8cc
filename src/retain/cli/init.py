"""``retain init``: write a commented retain.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retain.cli._app import app, console
from retain.config import DEFAULT_CONFIG
from retain.errors import ConflictError
from retain.i18n import t

__all__ = ["init", "template"]


def template() -> str:
    """The commented retain.toml that ``retain init`` writes (every setting, with its default)."""
    return """# retain configuration. Every setting can also be set with a RETAIN_* variable,
# e.g. RETAIN_WAREHOUSE_URL, RETAIN_CLV__MARGIN (sections joined with "__").

# Where the facts live: duckdb:///file.duckdb (default), postgres://user@host/db, pyspark://local
warehouse_url = "duckdb:///retain.duckdb"
# The service's own database (users, API keys, audit log): SQLite or PostgreSQL
database_url = "sqlite:///retain-app.db"
# IANA zone used to read timestamps without an offset and to cut days/months in reports
time_zone = "UTC"
# ISO 4217 currency of amounts that carry none
currency = "USD"
# Language of messages and reports: en, ja or ko
language = "en"
# Where trained models are kept
models_dir = ".retain/models"

[ingest]
# A row that names a customer not in `customers`: "reject" the batch or "create" the customer
unknown_customers = "reject"
# Bad rows: "reject" the whole batch (nothing written) or "quarantine" them to the rejects table
on_error = "reject"
# Amounts above this are rejected as absurd
max_amount = 1000000.0
# Timestamps later than now + this many hours are rejected
future_tolerance_hours = 24.0
# Rows per chunk when streaming large files
chunk_rows = 500000
# DuckDB memory limit while staging and validating a load; larger inputs spill to disk
memory_limit = "1GB"

# What churn means. One [[churn]] section per business line; the first is the default.
[[churn]]
name = "default"
# "non_contractual" (shops: churn = no activity within the horizon) or
# "contractual" (subscriptions: churn = the subscription ends within the horizon)
kind = "non_contractual"
# H, in days after the reference date
horizon_days = 90
# non_contractual: what counts as activity: "orders", "events" or "any"
activity = "orders"
# with activity = "events": only these event names count (empty = all)
event_names = []
# contractual: only subscriptions on these plans (empty = all)
plans = []
# keys of customers.attributes used as features: "auto" (numbers and categories found in a
# sample of customers), a list of keys, or [] for none
attributes = "auto"
# keys never used as features (a status that records the churn itself, personal data)
exclude_attributes = []

[clv]
# Share of revenue that is profit
margin = 0.3
# Yearly discount rate for future margin (applied monthly)
annual_discount_rate = 0.10
# CLV horizon in months
horizon_months = 12
# Time unit of frequency / recency / T for the purchase models: "week" or "day"
time_unit = "week"

[service]
host = "127.0.0.1"
port = 8000
# Signs login cookies; generated and stored next to the app database when empty
secret_key = ""
max_request_bytes = 10485760
max_page_size = 500
"""


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the file.")] = Path(DEFAULT_CONFIG),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented retain.toml with every setting and its default."""
    if path.exists() and not force:
        raise ConflictError(t("cli.init_exists", path=str(path)), hint=t("cli.init_exists_hint"))
    path.write_text(template(), encoding="utf-8")
    console.print(t("cli.init_written", path=str(path)))
