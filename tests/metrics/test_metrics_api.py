"""``/api/v1/metrics/periods`` and the dashboard: strict retention beside CRR, the note why CRR
can pass 100 %, and ``by`` names checked by the library (a 422 listing what exists, not a 500)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from metric_tables import orders_frame

import retain.warehouse as wh
from retain.app.auth import service as auth
from retain.app.main import create_app
from retain.config import Settings

PASSWORD = "correct horse battery"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    con = wh.connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    wh.create_tables(con)
    # a, b, c buy in January; only a in February; all three in March (b and c are back)
    rows = [(c, f"2024-{m}-0{i + 1}", 10.0) for i, c in enumerate("abc") for m in ("01", "03")]
    wh.write_table(con, "orders", orders_frame([*rows, ("a", "2024-02-05", 10.0)]), mode="append")
    customers = pd.DataFrame(
        {
            "customer_id": list("abc"),
            "country": ["JP", "KR", "JP"],
            "attributes": [json.dumps({"segment": "vip"}), None, None],
        }
    )
    wh.write_table(con, "customers", customers, mode="append")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}",
        models_dir=tmp_path / "models",
    )
    app = create_app(settings, warehouse=con, migrate=True)
    with app.state.sessionmaker() as session:
        _, raw = auth.create_api_key(session, name="k", role="analyst", created_by="tests")
        auth.create_user(session, email="analyst@example.org", role="analyst", password=PASSWORD)
        session.commit()
    with TestClient(app) as client:
        yield client, {"X-API-Key": raw}
    con.disconnect()


def test_periods_carry_strict_retention_and_say_why_crr_passes_100(api: Any) -> None:
    client, key = api
    answer = client.get("/api/v1/metrics/periods", headers=key)
    assert answer.status_code == 200, answer.text
    march = answer.json()["data"][2]
    assert (march["retention_rate"], march["strict_retention_rate"]) == (300.0, 100.0)
    assert "100 %" in answer.json()["note"]
    ja = client.get("/api/v1/metrics/periods?lang=ja", headers=key).json()
    assert "厳密な維持率" in ja["note"]


def test_by_that_does_not_exist_or_repeats_is_a_422_naming_what_exists(api: Any) -> None:
    client, key = api
    by_key = client.get("/api/v1/metrics/periods?by=segment", headers=key)
    assert by_key.status_code == 200
    assert {r["segment"] for r in by_key.json()["data"]} == {"vip", None}
    for query in ("by=tier", "by=nosuch_column", "by=country&by=country"):
        answer = client.get(f"/api/v1/metrics/periods?{query}", headers=key)
        assert answer.status_code == 422, (query, answer.text)
        assert "country" in json.dumps(answer.json()), query
        assert "segment" in json.dumps(answer.json()), query


@pytest.mark.parametrize(
    ("lang", "strict"),
    [("en", "Strict retention"), ("ja", "厳密な維持率"), ("ko", "엄격한 유지율")],
)
def test_dashboard_shows_strict_retention_and_why_crr_passes_100(
    api: Any, lang: str, strict: str
) -> None:
    client, _ = api
    form = client.get(f"/login?lang={lang}")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, form.text
    client.post(
        "/login",
        data={"email": "analyst@example.org", "password": PASSWORD, "csrf": token.group(1)},
        follow_redirects=False,
    )
    overview = client.get(f"/?lang={lang}").text
    assert 'data-kpi="strict_retention_rate"' in overview and strict in overview
    assert "100 %" in overview  # the CRR card says why it can pass 100 %
    retention = client.get(f"/retention?lang={lang}").text
    assert 'data-note="crr"' in retention and strict in retention
    # March: CRR 300 %, strict 100 %
    assert re.search(r'data-col="strict_retention_rate">100', retention), retention
