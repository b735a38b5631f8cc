"""Model cards in the API and on the Models page: every kind the registry reads, CLV included."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _app_helpers import headers, login
from fastapi.testclient import TestClient

from retain.models.clv import BetaGeoModel, GammaGammaModel, save_models
from retain.models.clv.store import update_meta

CHURN_VERSION = "20240601T120000Z-3f2a"


def _rfm(n: int = 300) -> pd.DataFrame:
    """Customers simulated from the BG/NBD story: Poisson buying, dropout after each purchase."""
    rng = np.random.default_rng(7)
    rows = []
    for rate, p in zip(rng.gamma(0.8, 0.25, n), rng.beta(1.0, 3.0, n), strict=True):
        t, last, count = 0.0, 0.0, 0
        while (t := t + rng.exponential(1 / rate)) <= 52.0:
            count, last = count + 1, t
            if rng.random() < p:
                break
        rows.append((count, last, 52.0, float(rng.gamma(4.0, 10.0)) if count else 0.0))
    return pd.DataFrame(rows, columns=["frequency", "recency", "T", "monetary_value"])


@pytest.fixture
def registry(settings: Any) -> dict[str, str]:
    """A churn card (as ``retain churn train`` writes it) and a fitted, stored CLV model."""
    folder = settings.models_dir / "churn" / CHURN_VERSION
    folder.mkdir(parents=True)
    card = {
        "version": CHURN_VERSION,
        "trained_at": "2024-06-01T12:00:00+00:00",
        "definition": {"name": "default", "horizon_days": 90},
        "backtest": {"metrics": [{"model": "model", "roc_auc": 0.81, "brier": 0.12}]},
    }
    (folder / "card.json").write_text(json.dumps(card))
    rfm = _rfm()
    models = {
        "purchase": BetaGeoModel().fit(rfm),
        "spend": GammaGammaModel().fit(rfm[rfm["frequency"] > 0]),
    }
    meta = {"as_of": "2024-06-30T00:00:00", "time_unit": "W", "model": "bgnbd", "warnings": []}
    version = save_models(models, settings=settings, meta=meta)
    return {"churn": f"churn/{CHURN_VERSION}", "clv": f"clv/{version}"}


def test_models_lists_churn_and_clv_newest_first(client, keys, registry):
    listed = client.get("/api/v1/models", headers=headers(keys["analyst"]))
    assert listed.status_code == 200
    body = listed.json()
    assert body["count"] == 2
    assert [m["id"] for m in body["data"]] == [registry["clv"], registry["churn"]]
    clv, churn = body["data"]
    assert (clv["kind"], clv["name"]) == ("clv", "BG/NBD + Gamma-Gamma")
    assert clv["path"] == f"{registry['clv']}.json" and clv["created_at"]
    assert clv["card"]["metrics"]["n_customers"] == 300
    assert clv["card"]["data_window"]["end"] == "2024-06-30T00:00:00"
    assert (churn["kind"], churn["name"], churn["version"]) == ("churn", "default", CHURN_VERSION)
    assert churn["card"]["metrics"] == {"roc_auc": 0.81, "brier": 0.12}
    assert churn["card"]["created_at"] == "2024-06-01T12:00:00+00:00"


def test_one_model_by_id_in_the_path_or_the_query(client, keys, registry, settings):
    kind, version = registry["clv"].split("/")
    # A holdout whose baseline guesses one number for everyone has no rank correlation (NaN).
    rows = [{"quantity": "purchases", "method": "baseline", "mae": 0.9, "spearman": float("nan")}]
    update_meta(version, settings=settings, evaluation={"metrics": rows})
    by_path = client.get(f"/api/v1/models/{kind}/{version}", headers=headers(keys["analyst"]))
    assert by_path.status_code == 200
    one = by_path.json()
    assert one["id"] == registry["clv"] and one["card"]["artifact_sha256"]
    # NaN comes out as null: the response is valid JSON.
    assert one["card"]["meta"]["evaluation"]["metrics"][0]["spearman"] is None
    assert one["card"]["metrics"]["holdout_purchases_mae_baseline"] == 0.9
    by_query = client.get(
        "/api/v1/models/card", headers=headers(keys["analyst"]), params={"id": registry["churn"]}
    )
    assert by_query.json()["card"]["backtest"]["metrics"][0]["roc_auc"] == 0.81


def test_unknown_and_broken_models(client, keys, registry, settings):
    for url in ("/api/v1/models/clv/nope", "/api/v1/models/uplift/v1"):
        missing = client.get(url, headers=headers(keys["analyst"]))
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "models.not_found"
    (settings.models_dir / "clv" / "clv-20990101T000000-broken.json").write_text("{oops")
    listed = client.get("/api/v1/models", headers=headers(keys["analyst"])).json()
    assert listed["count"] == 2
    broken = client.get(
        "/api/v1/models/clv/clv-20990101T000000-broken", headers=headers(keys["analyst"])
    )
    assert broken.status_code == 422
    assert broken.json()["error"]["details"][0]["rule"] == "model_card"
    assert client.get("/api/v1/models", headers=headers(keys["agent"])).status_code == 403


def test_models_page_shows_the_clv_model(app, users, registry):
    with TestClient(app) as browser:
        login(browser, users["analyst"])
        page = browser.get("/models")
    assert page.status_code == 200
    assert "clv: BG/NBD + Gamma-Gamma" in page.text and "n_customers" in page.text
    assert "churn: default" in page.text and "roc_auc" in page.text
    # counts read as counts (300, not 300.000), ratios with three decimals
    assert re.search(r"n_customers</th><td class=\"num\">300</td>", page.text)
    assert re.search(r"roc_auc</th><td class=\"num\">0.810</td>", page.text)
