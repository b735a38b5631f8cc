"""Conformance checks every CLV estimator passes (STYLE.md §6.7, sklearn "rolling your own").

clone round-trip, keyword-only constructor, fit returns self, refit is idempotent, the
not-fitted message is scikit-learn's, bad hyper-parameters get scikit-learn's message shape,
and every fitted attribute is documented in the class docstring.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from retain.errors import InvalidParameterError, NotFittedError
from retain.models.clv import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ParetoNBDModel,
    ShiftedBetaGeometricModel,
)
from retain.models.clv.bgnbd import simulate


def _rfm() -> pd.DataFrame:
    data = simulate({"r": 0.3, "alpha": 4.0, "a": 0.8, "b": 2.5}, 3000, T=39.0, random_state=0)
    rng = np.random.default_rng(1)
    data["monetary_value"] = np.where(data["frequency"] > 0, rng.gamma(6.0, 6.0, len(data)), 0.0)
    return data


def _bgbb() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "frequency": [0, 1, 1, 2, 3, 2, 6],
            "recency": [0, 1, 3, 4, 5, 6, 6],
            "n_periods": [6] * 7,
            "weight": [300, 90, 40, 50, 30, 40, 25],
        }
    )


CASES: list[tuple[Callable[[], Any], Callable[[], Any], str]] = [
    (BetaGeoModel, _rfm, "probability_alive"),
    (ParetoNBDModel, _rfm, "probability_alive"),
    (BetaGeoBetaBinomModel, _bgbb, "probability_alive"),
    (GammaGammaModel, _rfm, "expected_customer_spend"),
    (
        ShiftedBetaGeometricModel,
        lambda: [1000, 631, 468, 380, 326, 289, 262, 241],
        "survival_function",
    ),
]
IDS = [c[0].__name__ for c in CASES]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("cls", "data", "method"), CASES, ids=IDS)
def test_estimator_contract(cls: Any, data: Callable[[], Any], method: str) -> None:
    signature = inspect.signature(cls.__init__)
    assert all(
        p.kind is p.KEYWORD_ONLY for name, p in signature.parameters.items() if name != "self"
    )
    estimator = cls(penalizer=0.0)
    with pytest.raises(TypeError):
        cls(0.0)
    copy = clone(estimator)
    assert copy.get_params() == estimator.get_params()
    assert copy is not estimator

    with pytest.raises(NotFittedError) as info:
        getattr(estimator, method)(data() if method != "survival_function" else 3)
    assert str(info.value).startswith(
        f"This {cls.__name__} instance is not fitted yet. Call 'fit' with appropriate arguments "
        "before using this estimator."
    )

    frame = data()
    assert estimator.fit(frame) is estimator
    first = dict(estimator.params_)
    estimator.fit(frame)
    assert estimator.params_ == pytest.approx(first, rel=1e-12)
    assert not hasattr(clone(estimator), "params_")

    doc = inspect.getdoc(cls) or ""
    fitted = [k for k in vars(estimator) if k.endswith("_") and not k.startswith("_")]
    for name in fitted:
        assert re.search(rf"^{re.escape(name)} :", doc, re.MULTILINE), f"{name} undocumented"
    for name in signature.parameters:
        if name != "self":
            assert re.search(rf"^{name} :", doc, re.MULTILINE), f"parameter {name} undocumented"


@pytest.mark.parametrize(("cls", "data", "method"), CASES, ids=IDS)
def test_bad_hyper_parameter_message(cls: Any, data: Callable[[], Any], method: str) -> None:
    del method
    with pytest.raises(InvalidParameterError) as info:
        cls(penalizer=-1).fit(data())
    assert info.value.message == (
        f"The 'penalizer' parameter of {cls.__name__} must be a float in the range [0, inf). "
        "Got -1 instead."
    )
    with pytest.raises(InvalidParameterError):
        cls(penalizer="high").fit(data())
