"""Broken model inputs: each rule names the table, row, column and rule, with a hint."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from retain.errors import DataValidationError, MissingColumnError, SchemaError
from retain.models.clv import BetaGeoBetaBinomModel, BetaGeoModel, ParetoNBDModel

GOOD = {"frequency": [0.0, 2.0, 1.0], "recency": [0.0, 5.0, 3.0], "T": [10.0, 10.0, 8.0]}


@pytest.mark.parametrize(
    ("column", "row", "value", "rule"),
    [
        ("frequency", 1, -1.0, "negative"),
        ("frequency", 2, 1.5, "not_integer"),
        ("recency", 1, 11.0, "recency_after_T"),
        ("recency", 0, 2.0, "recency_without_repeat"),
        ("T", 2, np.nan, "not_finite"),
        ("T", 0, np.inf, "not_finite"),
    ],
)
def test_rule_violations(column: str, row: int, value: float, rule: str) -> None:
    data = pd.DataFrame(GOOD)
    data.loc[row, column] = value
    with pytest.raises(DataValidationError) as info:
        BetaGeoModel().fit(data)
    found = info.value.violations[0]
    assert (found.rule, found.row, found.column, found.file) == (rule, row, column, "rfm")
    assert found.hint
    assert f"line {row}, column {column}" in str(info.value)


def test_all_violations_are_collected() -> None:
    data = pd.DataFrame({"frequency": [-1.0] * 8, "recency": [0.0] * 8, "T": [1.0] * 8})
    with pytest.raises(DataValidationError) as info:
        ParetoNBDModel().fit(data)
    assert info.value.total == 8
    assert "... and 3 more" in info.value.message


def test_missing_column_and_wrong_type() -> None:
    with pytest.raises(MissingColumnError) as info:
        BetaGeoModel().fit(pd.DataFrame({"frequency": [1.0], "recency": [1.0]}))
    assert info.value.violations[0].column == "T"
    assert "rfm has no column 'T'" in info.value.message
    with pytest.raises(SchemaError, match="must be numbers"):
        BetaGeoModel().fit(pd.DataFrame({**GOOD, "T": ["10", "10", "8"]}))
    with pytest.raises(SchemaError, match="expected a pandas or polars DataFrame"):
        BetaGeoModel().fit([1, 2, 3])


def test_weight_must_be_positive() -> None:
    with pytest.raises(DataValidationError) as info:
        BetaGeoModel().fit(pd.DataFrame({**GOOD, "weight": [1.0, 0.0, 2.0]}))
    assert info.value.violations[0].rule == "weight_not_positive"


def test_bgbb_rules() -> None:
    data = pd.DataFrame({"frequency": [3.0], "recency": [2.0], "n_periods": [6.0]})
    with pytest.raises(DataValidationError) as info:
        BetaGeoBetaBinomModel().fit(data)
    assert info.value.violations[0].rule == "frequency_after_recency"
    data = pd.DataFrame({"frequency": [1.0], "recency": [7.0], "n_periods": [6.0]})
    with pytest.raises(DataValidationError, match="recency_after_T"):
        BetaGeoBetaBinomModel().fit(data)


def test_polars_input(cdnow_summary: pd.DataFrame) -> None:
    model = BetaGeoModel().fit(pl.from_pandas(cdnow_summary))
    assert model.params_["r"] == pytest.approx(0.2426, abs=1e-4)


def test_messages_are_translated() -> None:
    from retain.i18n import language

    data = pd.DataFrame({**GOOD, "frequency": [0.0, -2.0, 1.0]})
    with language("ja"), pytest.raises(DataValidationError) as info:
        BetaGeoModel().fit(data)
    assert "0 未満" in info.value.message


def test_no_repeat_buyers_is_a_convergence_error_with_a_checklist() -> None:
    from retain.errors import ConvergenceError
    from retain.models.clv import GammaGammaModel

    data = pd.DataFrame({"frequency": [0.0] * 50, "recency": [0.0] * 50, "T": [10.0] * 50})
    with pytest.raises(ConvergenceError) as info:
        BetaGeoModel().fit(data)
    assert info.value.message == (
        "BetaGeoModel did not converge: no customer made a repeat purchase, so nothing "
        "identifies the parameters"
    )
    assert info.value.hint is not None
    assert info.value.hint.startswith("check: 1) ")
    with pytest.raises(ConvergenceError, match="no customers the model can use"):
        GammaGammaModel().fit(pd.DataFrame({"frequency": [0.0], "monetary_value": [0.0]}))
