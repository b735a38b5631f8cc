"""What a CLV fit tells the user: captured warnings in plain words, and degenerate parameters.

Fits run inside :func:`captured`, so a Python warning (with its source path) never reaches a
user: retain's own warnings keep their translated message, anything else (a NumPy overflow, a
SciPy optimiser note) becomes one sentence naming the model. :func:`degenerate_notes` turns a
parameter that ran off towards 0 or infinity into a warning that names it and suggests another
model (Pareto/NBD on the demo once returned s = 31,551 and beta = 1,588,815, silently).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from retain.errors import RetainWarning
from retain.i18n import t

__all__ = ["EXTREME", "LABELS", "captured", "degenerate_notes", "degenerate_params"]

EXTREME = (1e-4, 1e4)
"""Parameters outside this range describe a degenerate fit: the model collapsed to a corner."""

LABELS = {
    "BetaGeoModel": "BG/NBD",
    "ParetoNBDModel": "Pareto/NBD",
    "BetaGeoBetaBinomModel": "BG/BB",
    "GammaGammaModel": "Gamma-Gamma",
    "ShiftedBetaGeometricModel": "sBG",
}
_ALTERNATIVE = {
    "ParetoNBDModel": "bgnbd",
    "BetaGeoModel": "pareto-nbd",
    "BetaGeoBetaBinomModel": "bgnbd",
}


@contextmanager
def captured(notes: list[str], model: str) -> Iterator[None]:
    """Collect every warning raised inside into ``notes`` as plain text, once each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for item in caught:
        if issubclass(item.category, RetainWarning):
            text = str(item.message)
        else:
            text = t("clv.numeric_warning", model=model)
        if text not in notes:
            notes.append(text)


def degenerate_params(model: Any) -> dict[str, float]:
    """The fitted parameters outside :data:`EXTREME`, by name."""
    low, high = EXTREME
    params: dict[str, float] = getattr(model, "params_", {})
    return {k: float(v) for k, v in params.items() if not low <= float(v) <= high}


def degenerate_notes(model: Any) -> list[str]:
    """One warning per degenerate parameter, naming it and the model to try instead."""
    name = type(model).__name__
    other = _ALTERNATIVE.get(name, "bgnbd")
    return [
        t(
            "clv.degenerate",
            model=LABELS.get(name, name),
            param=param,
            value=f"{value:,.4g}",
            other=other,
        )
        for param, value in degenerate_params(model).items()
    ]
