"""Checks at the boundary of every computation: the argument is a table with the columns needed.

One error for every caller (metrics, features, lifetime value, churn): a
:class:`~retain.errors.MissingColumnError` with one violation per missing column, naming the
table and the column, with a hint listing what the table has and how to load it properly.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis.expr.types as ir
import pandas as pd

from retain.errors import InvalidParameterError, MissingColumnError, Violation
from retain.i18n import t

__all__ = ["missing_columns_error", "require_columns", "require_table"]


def require_columns(
    table: ir.Table | pd.DataFrame,
    *,
    name: str,
    columns: Sequence[str],
    purpose: str | None = None,
) -> None:
    """Raise :class:`MissingColumnError` naming every one of ``columns`` absent from ``table``.

    ``table`` is an Ibis table or a pandas frame (models fitted on frames check them too).
    ``purpose`` says what needs them (a translated phrase such as "churn features"), so the
    message tells the user which command wanted the column.
    """
    present = [str(c) for c in table.columns]
    missing = [c for c in columns if c not in present]
    if missing:
        raise missing_columns_error(name, missing, present=present, purpose=purpose)


def missing_columns_error(
    name: str,
    missing: Sequence[str],
    *,
    present: Sequence[str],
    purpose: str | None = None,
    hint: str | None = None,
) -> MissingColumnError:
    """The error for ``missing`` columns of table ``name``: one violation per column.

    The hint lists the ``present`` columns and how to load the table, unless ``hint`` replaces
    it (a model fed a summary frame says which function produces the columns).
    """
    listed = ", ".join(present) or "-"
    return MissingColumnError(
        [
            Violation(
                rule="missing_column",
                message=(
                    t("facts.missing_column_for", table=name, column=c, purpose=purpose)
                    if purpose
                    else t("facts.missing_column", table=name, column=c)
                ),
                file=name,
                column=c,
                hint=hint or t("facts.missing_column_hint", table=name, present=listed),
            )
            for c in missing
        ]
    )


def require_table(table: object, *, name: str) -> ir.Table:
    """``table`` if it is an Ibis table, else an :class:`InvalidParameterError` naming ``name``."""
    if not isinstance(table, ir.Table):
        raise InvalidParameterError(
            t("facts.not_a_table", name=name, kind=type(table).__name__),
            hint=t("facts.not_a_table_hint"),
        )
    return table
