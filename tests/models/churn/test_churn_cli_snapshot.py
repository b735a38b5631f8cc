"""``retain churn train --as-of`` on a snapshot export: IBM Telco through its ingest recipe.

IBM Telco is one export (every churn falls on one date), so there is nothing to split by time:
``--as-of`` trains on that one reference date and evaluates by repeated cross-validation.
Source: ``telco-churn/README.md`` (7,043 customers, 1,869 churned; Apache-2.0). The recipe
starts each subscription ``tenure`` months before 2019-09-30 and ends it there on churn.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from _cli_runner import make_invoker


@pytest.fixture
def telco(tmp_path: Path, datasets: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    (tmp_path / "retain.toml").write_text(
        f'warehouse_url = "duckdb:///{tmp_path / "telco.duckdb"}"\n'
        f'models_dir = "{tmp_path / "models"}"\n'
        '[[churn]]\nname = "telco"\nkind = "contractual"\nhorizon_days = 30\n'
    )
    invoke = make_invoker(tmp_path / "retain.toml", monkeypatch)
    path = datasets / "telco-churn" / "Telco-Customer-Churn.csv.gz"
    loaded = invoke("ingest", "--recipe", "telco", str(path))
    assert loaded.exit_code == 0, loaded.output
    return invoke


@pytest.mark.slow
def test_snapshot_training_is_cross_validated_and_scores_have_reasons(
    telco: Any, tmp_path: Path
) -> None:
    train = telco("churn", "train", "--as-of", "2019-09-01", "--linear-base")
    assert train.exit_code == 0, train.output
    # 7,043 customers less the 11 with tenure 0 (they start on the snapshot date itself).
    assert "7,032 rows from 1 reference dates" in train.stdout
    assert "Cross-validated evaluation" in train.stdout

    evaluate = telco("churn", "evaluate", "--format", "json")
    payload = json.loads(evaluate.stdout)
    assert "cross-validation" in payload["protocol"]
    auc = {m["model"]: m["roc_auc"] for m in payload["metrics"]}
    # Measured 2026-12-04: 0.849 (logistic 0.850), in the honest published band 0.84-0.85
    # (issue 7; telco-churn/README.md). The recipe's unmapped columns (contract, internet
    # service, payment method, charges...) reach the model as customers.attributes features;
    # from the subscription features alone it was 0.835.
    assert auc["model"] == pytest.approx(0.849, abs=0.008), auc
    assert abs(auc["model"] - auc["logistic"]) < 0.005, auc
    (card,) = [json.loads(p.read_text()) for p in (tmp_path / "models").rglob("card.json")]
    keys = {a["key"] for a in card["attributes"]}
    assert {"Contract", "InternetService", "PaymentMethod", "MonthlyCharges"} <= keys
    assert "Churn" not in keys and "customerID" not in keys

    score = telco("churn", "score")
    assert score.exit_code == 0, score.output
    con = duckdb.connect(str(tmp_path / "telco.duckdb"), read_only=True)
    rows = con.sql("select probability, reasons from churn_scores").fetchall()
    con.close()
    assert len(rows) == 7043 - 1869  # the customers still subscribed after the export
    top = json.loads(max(rows)[1])
    # The riskiest customer: new, on fiber, month to month (attributes and the subscription).
    drivers = {r["params"].get("name") for r in top if r["key"] == "reasons.attribute"}
    assert len(top) == 3 and drivers & {"tenure", "InternetService", "Contract"}, top
