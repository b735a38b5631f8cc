"""Honest model surfaces: the purchase model chosen by holdout fit, degenerate fits named,
Python warnings translated, and an evaluation saved only under the model it evaluated."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from retain.config import Settings
from retain.errors import ConvergenceWarning
from retain.models.clv import ParetoNBDModel, evaluate_clv, fit_clv
from retain.models.clv.checks import captured, degenerate_notes


@pytest.fixture
def conf(tmp_path: Path) -> Settings:
    return Settings(models_dir=tmp_path / "models", currency="USD")


@pytest.fixture
def shop(warehouse: Any, cdnow_sample_orders: pd.DataFrame, put_orders: Any) -> Any:
    put_orders(warehouse, cdnow_sample_orders)
    return warehouse


def test_a_degenerate_fit_names_the_parameter_and_another_model() -> None:
    model = ParetoNBDModel()
    model.params_ = {"r": 0.55, "alpha": 10.6, "s": 31_551.0, "beta": 1_588_815.0}
    notes = degenerate_notes(model)
    assert len(notes) == 2
    assert "Pareto/NBD: parameter s = 3.155e+04" in notes[0]
    assert "--model bgnbd" in notes[0] and "beta" in notes[1]
    model.params_ = {"r": 0.55, "alpha": 10.6, "s": 0.6, "beta": 11.7}
    assert degenerate_notes(model) == []


def test_python_warnings_never_reach_the_user_raw() -> None:
    notes: list[str] = []
    with captured(notes, "BG/NBD"):
        warnings.warn("overflow encountered in exp", RuntimeWarning, stacklevel=1)
        warnings.warn("overflow encountered in exp", RuntimeWarning, stacklevel=1)
        warnings.warn("BG/NBD: the Hessian is singular", ConvergenceWarning, stacklevel=1)
    assert notes == [
        "BG/NBD: the optimiser met a numerical problem (an overflow or a flat likelihood); "
        "check its parameters and compare with another model",
        "BG/NBD: the Hessian is singular",
    ]
    assert not any(".py" in note for note in notes)


def test_auto_chooses_by_holdout_fit_and_records_why(shop: Any, conf: Settings) -> None:
    stored = fit_clv(shop, settings=conf, model="auto", as_of="1998-06-30")
    selection = stored.meta["selection"]
    assert selection["chosen"] == stored.meta["model"]
    assert set(selection["candidates"]) == {"bgnbd", "pareto_nbd"}
    maes = {k: v["mae"] for k, v in selection["candidates"].items()}
    chosen, other = selection["chosen"], next(k for k in maes if k != selection["chosen"])
    assert maes[chosen] <= maes[other] * 1.01 or selection["candidates"][other]["degenerate"]
    assert selection["calibration_end"] < selection["holdout_end"]
    assert "chosen" in selection["reason"]
    saved = json.loads((conf.models_dir / "clv" / f"{stored.version}.json").read_text())
    assert saved["meta"]["selection"]["reason"] == selection["reason"]


def test_evaluate_saves_under_the_version_of_the_model_it_evaluated(
    shop: Any, conf: Settings
) -> None:
    bgnbd = fit_clv(shop, settings=conf, model="bgnbd", as_of="1997-09-30").version
    pareto = fit_clv(shop, settings=conf, model="pareto_nbd", as_of="1997-09-30").version
    assert pareto != bgnbd
    window = {"calibration_end": "1997-09-30", "holdout_end": "1998-06-30"}

    result = evaluate_clv(shop, settings=conf, model="bgnbd", **window)
    assert (result.version, result.model) == (bgnbd, "bgnbd")
    docs = {
        v: json.loads((conf.models_dir / "clv" / f"{v}.json").read_text())["meta"]
        for v in (bgnbd, pareto)
    }
    assert docs[bgnbd]["evaluation"]["model"] == "bgnbd"
    assert "evaluation" not in docs[pareto]

    # No model named: the latest version's own (Pareto/NBD) is evaluated and saved there.
    result = evaluate_clv(shop, settings=conf, **window)
    assert (result.version, result.model) == (pareto, "pareto_nbd")

    # A version of another model is never written to.
    result = evaluate_clv(shop, settings=conf, model="bgnbd", version=pareto, **window)
    assert result.version is None
