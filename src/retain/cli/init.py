"""``retain init``: write a commented retain.toml, generated from the settings' own fields."""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path, PurePath
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from retain.cli._app import app, console
from retain.config import DEFAULT_CONFIG, ChurnDefinition, Settings
from retain.errors import ConflictError
from retain.i18n import t

__all__ = ["CONTRACTUAL", "Kind", "init", "template"]


_HEADER = (
    "retain configuration. Every setting can also be set with a RETAIN_* variable, "
    'e.g. RETAIN_WAREHOUSE_URL, RETAIN_CLV__MARGIN (sections joined with "__").'
)
_WIDTH = 98


class Kind(StrEnum):
    """The kind of business line the ``[[churn]]`` section describes."""

    non_contractual = "non_contractual"
    contractual = "contractual"


CONTRACTUAL = ChurnDefinition(name="default", kind="contractual", horizon_days=30)
"""``retain init --kind contractual``'s line: churn = the subscription ends within 30 days."""

_CONTRACTUAL_NOTE = (
    "A contractual line (subscriptions): a customer churns when their subscription ends within "
    "horizon_days of the reference date. A snapshot export (one date, e.g. IBM Telco) is "
    "trained and scored at that date: retain churn train --as-of DATE."
)


def template(churn: Sequence[ChurnDefinition] | None = None, *, churn_note: str = "") -> str:
    """The commented retain.toml that ``retain init`` writes: every setting with its default.

    Generated from the fields of :class:`~retain.config.Settings` and its sections (their
    names, defaults and descriptions), so the file cannot drift from the settings.

    Parameters
    ----------
    churn
        ``[[churn]]`` sections to write instead of the default one (``retain demo`` writes its
        two business lines).
    churn_note
        One more comment line under the ``[[churn]]`` description.
    """
    lines = [*_comment(_HEADER), ""]
    tables: list[str] = []
    for name, field in Settings.model_fields.items():
        value = field.get_default(call_default_factory=True, validated_data={})
        if name == "churn" and churn is not None:
            value = list(churn)
        note = churn_note if name == "churn" else ""
        if isinstance(value, BaseModel):
            tables += [
                "",
                *_comment(field.description),
                f"[{name}]",
                *_table_lines(value, table=name),
            ]
        elif isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):
            tables += ["", *_comment(field.description), *_comment(note)]
            for index, item in enumerate(value):
                if index:
                    tables.append("")
                tables += [f"[[{name}]]", *_table_lines(item, comments=index == 0)]
        else:
            lines += [*_comment(field.description), f"{name} = {_toml_value(value)}"]
    return "\n".join([*lines, *tables]) + "\n"


def _table_lines(model: BaseModel, *, comments: bool = True, table: str = "") -> list[str]:
    """``key = value`` lines of one section, each below its description when ``comments``.

    An empty mapping in section ``table`` is written as its own empty ``[table.name]`` header
    (after the section's values), so that users add ``[table.name.KEY]`` tables below it.
    """
    lines: list[str] = []
    tables: list[str] = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if table and isinstance(value, dict) and not value:
            tables += ["", *(_comment(field.description) if comments else []), f"[{table}.{name}]"]
            continue
        if comments:
            lines += _comment(field.description)
        lines.append(f"{name} = {_toml_value(value)}")
    return lines + tables


def _comment(text: str | None) -> list[str]:
    """``text`` as ``# `` lines no wider than the file's width."""
    if not text:
        return []
    return ["# " + line for line in textwrap.wrap(text, _WIDTH - 2, break_on_hyphens=False)]


def _toml_key(key: Any) -> str:
    """A key of an inline table: bare when TOML allows it, else a quoted string."""
    text = str(key)
    bare = text and all(c.isascii() and (c.isalnum() or c in "-_") for c in text)
    return text if bare else _toml_value(text)


def _toml_value(value: Any) -> str:
    """A default as a TOML value; a type the file cannot hold is an error, not a guess."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, PurePath):
        value = value.as_posix()
    if isinstance(value, str):
        # A JSON string is a TOML basic string, once DEL (which JSON leaves raw) is escaped.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table: {agent = 50, analyst = 300}
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"retain init cannot write a {type(value).__name__} setting as TOML")


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the file.")] = Path(DEFAULT_CONFIG),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    kind: Annotated[
        Kind,
        typer.Option(
            "--kind",
            help="The [[churn]] section to write: non_contractual (a shop: churn = no order "
            "within 90 days) or contractual (subscriptions: churn = the subscription ends "
            "within 30 days).",
        ),
    ] = Kind.non_contractual,
) -> None:
    """Write a commented retain.toml with every setting and its default."""
    if path.exists() and not force:
        raise ConflictError(t("cli.init_exists", path=str(path)), hint=t("cli.init_exists_hint"))
    text = (
        template([CONTRACTUAL], churn_note=_CONTRACTUAL_NOTE)
        if kind is Kind.contractual
        else template()
    )
    path.write_text(text, encoding="utf-8")
    console.print(t("cli.init_written", path=str(path)))
