"""The configured business line a request names: one rule and one error for every route."""

from __future__ import annotations

from typing import TYPE_CHECKING

from retain.errors import InvalidParameterError
from retain.i18n import t

if TYPE_CHECKING:
    from retain.config import ChurnDefinition, Settings

__all__ = ["line_named"]


def line_named(settings: Settings, name: str | None) -> ChurnDefinition:
    """The configured line called ``name`` (the first when None); an unknown name is a 422.

    The error names the configured lines, so the caller can pick one.
    """
    names = [line.name for line in settings.churn]
    if name is not None and name not in names:
        raise InvalidParameterError(
            t("targeting.unknown_line", value=name, choices=", ".join(names)),
            hint=t("targeting.unknown_line_hint"),
            code="parameter.definition",
        )
    return settings.churn_definition(name)
