"""What an amount is worth: one reporting currency, never a silent sum of several.

Orders, subscriptions and lifetime values carry a ``currency`` column (ISO 4217; empty means the
configured ``currency``, which is also the **reporting currency**). Every sum of amounts reads
its table through :func:`in_reporting_currency` first, so a JPY order is never counted as USD:

- Data in one currency (every row empty or equal to the reporting currency) is returned as it
  is, the same expression, so single-currency results and plans do not change.
- Other currencies are converted with the ``exchange_rates`` table (``retain ingest
  exchange_rates FILE``): the rate of the row's currency into the reporting currency valid on
  the row's date. A rate holds from its ``valid_from`` day until the currency's next rate; the
  earliest rate of a currency also covers amounts dated before it, and rows without a date use
  the latest rate.
- A currency with no rate into the reporting currency stops the computation with a
  :class:`~retain.errors.DataValidationError` naming every currency found with its row count,
  and a hint: load rates, or set ``currency`` to the data's one currency.

Rates are read from the ``rates`` argument, else from the ``exchange_rates`` table of the
warehouse the data comes from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.types as ir
from ibis.common.exceptions import IbisError

from retain.errors import DataValidationError, Violation
from retain.i18n import t

__all__ = [
    "RATES_TABLE",
    "currency_code",
    "currency_counts",
    "in_reporting_currency",
    "mixed_currencies_error",
    "reporting_currency",
]

RATES_TABLE = "exchange_rates"
"""The canonical table of exchange rates (``retain.schema``)."""

_PREFIX = "_fx_"


def reporting_currency(currency: str | None = None) -> str:
    """``currency`` upper-cased, or the configured ``currency`` (retain.toml) when not given."""
    if currency is None:
        from retain.config import get_settings

        currency = get_settings().currency
    return currency.strip().upper()


def currency_code(value: ir.StringValue) -> ir.StringValue:
    """A currency code as compared: trimmed, upper case, empty as null (null: the reporting one)."""
    code = value.cast("string").strip().upper()
    return ibis.ifelse(code == "", ibis.null("string"), code)


def currency_counts(table: ir.Table) -> dict[str | None, int]:
    """Rows per currency code of ``table`` (``None``: rows without one); runs one query."""
    if "currency" not in table.columns:
        return {}
    codes = table.select(code=currency_code(table.currency))
    counted = codes.group_by("code").agg(n=codes.count()).to_pyarrow().to_pylist()
    return {row["code"]: int(row["n"]) for row in counted}


def _present_codes(table: ir.Table) -> set[str | None]:
    """The currency codes of ``table`` (``None``: rows without one); one cheap distinct query."""
    raw = table.select("currency").distinct().to_pyarrow().column("currency").to_pylist()
    return {(str(v).strip().upper() or None) if v is not None else None for v in raw}


def mixed_currencies_error(
    name: str, counts: Mapping[str | None, int], missing: Sequence[str], reporting: str
) -> DataValidationError:
    """The refusal: ``name`` holds ``missing`` currencies no rate converts into ``reporting``."""
    found = ", ".join(
        t("facts.currency_rows", currency=code, rows=n)
        if code is not None
        else t("facts.currency_rows_empty", currency=reporting, rows=n)
        for code, n in sorted(counts.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
    )
    message = t(
        "facts.mixed_currencies",
        table=name,
        found=found,
        missing=", ".join(missing),
        reporting=reporting,
    )
    hint = t("facts.mixed_currencies_hint", reporting=reporting, table=RATES_TABLE)
    return DataValidationError(
        [
            Violation(
                rule="no_exchange_rate",
                message=message,
                file=name,
                column="currency",
                value=code,
                hint=hint,
            )
            for code in missing
        ],
        message=message,
        hint=hint,
        code="data.mixed_currencies",
    )


def _stored_rates(table: ir.Table) -> ir.Table | None:
    """The ``exchange_rates`` table of the backend ``table`` reads from, if it has one."""
    try:
        con = table._find_backend(use_default=True)
        if RATES_TABLE not in con.list_tables():
            return None
        return con.table(RATES_TABLE)
    except (IbisError, AttributeError, RuntimeError):  # RuntimeError: backends without a catalog
        return None


def _rate_codes(rates: ir.Table, reporting: str, wanted: Sequence[str]) -> ir.Table:
    """Rates into ``reporting`` for the ``wanted`` codes: one row per (code, valid_from)."""
    usable = rates.filter(
        (currency_code(rates.reporting_currency) == reporting)
        & currency_code(rates.currency).isin(list(wanted))
    )
    per_day = usable.group_by(
        code=currency_code(usable.currency), valid_from=usable.valid_from.cast("timestamp")
    ).agg(rate=usable.rate.cast("float64").max())
    return per_day.filter(per_day.rate.notnull() & per_day.valid_from.notnull())


def in_reporting_currency(
    table: ir.Table,
    *,
    name: str,
    date: str,
    amounts: Sequence[str] = ("amount",),
    currency: str | None = None,
    rates: ir.Table | None = None,
) -> ir.Table:
    """``table`` with its ``amounts`` in the reporting currency (see the module docstring).

    Parameters
    ----------
    table
        Rows with a ``currency`` column (a table without one is returned unchanged).
    name
        The table's name in messages (``orders``, ``subscriptions``, ``clv_scores``).
    date
        The column whose day picks the rate (``ordered_at``, ``started_at``, ``as_of``).
    amounts
        The money columns to convert; those absent from ``table`` are skipped.
    currency
        The reporting currency; default the configured ``currency``.
    rates
        An ``exchange_rates`` table; default the one stored beside ``table``.

    Returns
    -------
    ibis.Table
        The same columns; converted amounts are ``float64`` and ``currency`` is the reporting
        currency. Single-currency data comes back as the very same expression.

    Raises
    ------
    DataValidationError
        Some rows are in a currency that no rate converts into the reporting currency.
    """
    if "currency" not in table.columns:
        return table
    reporting = reporting_currency(currency)
    foreign = sorted(c for c in _present_codes(table) if c is not None and c != reporting)
    if not foreign:
        return table
    rates = rates if rates is not None else _stored_rates(table)
    usable = None if rates is None else _rate_codes(rates, reporting, foreign)
    covered: set[str] = set()
    if usable is not None:
        covered = set(usable.select("code").distinct().to_pyarrow().column("code").to_pylist())
    missing = [c for c in foreign if c not in covered]
    if missing or usable is None:
        counts = currency_counts(table)
        raise mixed_currencies_error(name, counts, missing or foreign, reporting)
    return _convert(table, usable, reporting=reporting, date=date, amounts=amounts)


def _convert(
    table: ir.Table, usable: ir.Table, *, reporting: str, date: str, amounts: Sequence[str]
) -> ir.Table:
    """Join each row to the rate valid on its date and multiply its amounts by it."""
    w = ibis.window(group_by="code", order_by="valid_from")
    spans = usable.select(
        **{
            f"{_PREFIX}code": usable.code,
            # the earliest rate reaches back; each rate ends where the next one starts
            f"{_PREFIX}start": ibis.ifelse(
                ibis.row_number().over(w) == 0, ibis.null("timestamp"), usable.valid_from
            ),
            f"{_PREFIX}end": usable.valid_from.lead().over(w),
            f"{_PREFIX}rate": usable.rate,
        }
    )
    rows = table.mutate(**{f"{_PREFIX}row_code": currency_code(table.currency)})
    when = rows[date].cast("timestamp")
    start, end = spans[f"{_PREFIX}start"], spans[f"{_PREFIX}end"]
    joined = rows.left_join(
        spans,
        [
            rows[f"{_PREFIX}row_code"] == spans[f"{_PREFIX}code"],
            (when.isnull() & end.isnull())
            | ((start.isnull() | (start <= when)) & (end.isnull() | (when < end))),
        ],
    )
    code = joined[f"{_PREFIX}row_code"]
    factor = ibis.ifelse(
        code.isnull() | (code == reporting),
        ibis.literal(1.0, "float64"),
        joined[f"{_PREFIX}rate"],
    )
    converted = {
        c: joined[c].cast("float64") * factor if c in amounts else joined[c] for c in table.columns
    }
    converted["currency"] = ibis.literal(reporting, "string")
    return joined.select(**converted)
