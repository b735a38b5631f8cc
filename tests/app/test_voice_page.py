"""The reasons page: stated reasons, themes with quotes, roles, languages, escaping, CSV."""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

import pandas as pd
import pytest
from _app_helpers import login
from fastapi.testclient import TestClient

from retain.ingest import ingest

SCRIPT = "<script>alert('x')</script>"
FORMULA = '=HYPERLINK("http://evil.example","x")'
COMMENTS = [
    ("price", "配送料が高すぎます。料金が高い。"),
    ("price", "料金が高いので解約します。配送料も高い。"),
    ("service_problem", "상담원이 불친절했어요. 고객센터 응대가 최악."),
    ("service_problem", "고객센터 상담원이 너무 불친절했어요."),
    ("competitor", SCRIPT + " moved to another shop"),
    ("other", FORMULA),
]
TITLES = {"en": "Churn reasons", "ja": "解約理由", "ko": "해지 사유"}


@pytest.fixture
def answered(loaded_warehouse: Any) -> list[str]:
    ids = loaded_warehouse.table("customers").select("customer_id").to_pandas()["customer_id"]
    chosen = sorted(str(c) for c in ids)[: len(COMMENTS)]  # c1 answers price
    frame = pd.DataFrame(
        {
            "interaction_id": [f"exit-{i}" for i in range(len(COMMENTS))],
            "customer_id": chosen,
            "occurred_at": [f"2025-02-{10 + i:02d}" for i in range(len(COMMENTS))],
            "kind": "exit_survey",
            "properties": [
                json.dumps({"reason": r, "comment": c}, ensure_ascii=False) for r, c in COMMENTS
            ],
        }
    )
    ingest("interactions", frame, con=loaded_warehouse)
    return chosen


@pytest.mark.parametrize("lang", ["en", "ja", "ko"])
def test_reasons_page_counts_and_quotes_escaped(
    answered: list[str], client: TestClient, users: dict[str, str], lang: str
) -> None:
    login(client, users["analyst"], lang=lang)
    response = client.get("/reasons", params={"lang": lang})
    assert response.status_code == 200, response.text[:2000]
    assert SCRIPT not in response.text  # customers' words are escaped
    text = html.unescape(response.text)
    assert TITLES[lang] in text
    assert 'href="/reasons"' in response.text  # the nav entry
    assert 'data-reason="price"' in text and 'data-reason="missing_feature"' in text
    assert "/reasons.csv" in text
    assert 'data-theme="' in text  # themes found in the comments
    # beside the model: c1's largest stored contribution is its unresolved complaint
    assert 'data-model-reason="reasons.complaints_unresolved">Complaints unresolved<' in text


def test_since_filters_and_a_bad_date_is_explained(
    answered: list[str], client: TestClient, users: dict[str, str]
) -> None:
    login(client, users["analyst"])
    late = client.get("/reasons", params={"since": "2025-02-14"})
    assert late.status_code == 200
    assert 'data-reason="price"><th scope="row">Price</th><td class="num">0<' in late.text
    assert client.get("/reasons", params={"since": "soon"}).status_code == 422
    # the two texts since then form one theme whose quotes are both, escaped
    assert SCRIPT not in late.text
    assert "&lt;script&gt;alert(" in late.text
    assert "=HYPERLINK(&#34;http://evil.example&#34;" in late.text  # shown as text


def test_agents_get_no_reasons_page(client: TestClient, users: dict[str, str]) -> None:
    login(client, users["agent"])
    assert client.get("/reasons").status_code == 403
    assert client.get("/reasons.csv").status_code == 403


def test_csv_neutralises_formulas(
    answered: list[str], client: TestClient, users: dict[str, str]
) -> None:
    login(client, users["analyst"])
    response = client.get("/reasons.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len(COMMENTS)
    comments = {r["comment"] for r in rows}
    assert "'" + FORMULA in comments and FORMULA not in comments
    assert SCRIPT + " moved to another shop" in comments  # CSV is text, not HTML
