"""IBM Telco scored at two dates: the at-risk list is the latest run only, without customers who
have already left (#16 item 3: 548 of 685 "high-risk" customers had left when runs were mixed).

Source: ``telco-churn/README.md`` (7,043 customers, 1,869 churned; Apache-2.0). The recipe ends
every churned subscription on 2019-09-30, after both reference dates, so both runs score them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import retain.warehouse as wh
from _cli_runner import make_invoker
from retain.config import ChurnDefinition
from retain.targeting import AtRiskQuery, at_risk, at_risk_summary


@pytest.mark.slow
def test_two_runs_list_only_the_latest_and_nobody_who_left(
    tmp_path: Path, datasets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "retain.toml").write_text(
        f'warehouse_url = "duckdb:///{tmp_path / "telco.duckdb"}"\n'
        f'models_dir = "{tmp_path / "models"}"\n'
        '[[churn]]\nname = "telco"\nkind = "contractual"\nhorizon_days = 30\n'
    )
    invoke = make_invoker(tmp_path / "retain.toml", monkeypatch)
    path = datasets / "telco-churn" / "Telco-Customer-Churn.csv.gz"
    for args in (
        ("ingest", "--recipe", "telco", str(path)),
        ("churn", "train", "--as-of", "2019-09-01", "--linear-base"),  # 08-01: no churn yet
        ("churn", "score", "--as-of", "2019-08-01"),
        ("churn", "score", "--as-of", "2019-09-01"),
    ):
        result = invoke(*args)
        assert result.exit_code == 0, result.output

    line = ChurnDefinition(name="telco", kind="contractual", horizon_days=30)
    con = wh.connect(f"duckdb:///{tmp_path / 'telco.duckdb'}")
    try:
        every = ("high", "medium", "low")
        query = AtRiskQuery(definition="telco", risk_bands=every, limit=10_000)
        page = at_risk(con, query, pii=False, line=line)
        ended = {
            r[0]
            for r in con.raw_sql(
                "select customer_id from subscriptions where ended_at is not null"
            ).fetchall()
        }
        assert len(ended) == 1869
        listed = {r.customer_id for r in page.rows}
        assert page.as_of == dt.datetime(2019, 9, 1)
        assert {r.as_of for r in page.rows} == {page.as_of}
        assert not listed & ended  # nobody who has already left
        # every customer still subscribed and started before September 1 is listed, once: all
        # but the churned and the 11 with tenure 0 (they start on 2019-09-30)
        assert page.total == len(listed) == 7043 - 1869 - 11
        summary = at_risk_summary(con, definition="telco", line=line).execute()
        assert summary.scored[0] == page.total
        default = at_risk(con, AtRiskQuery(definition="telco"), pii=False, line=line)
        assert {r.risk_band for r in default.rows} <= {"high", "medium"}
        probabilities = [r.probability for r in default.rows]
        assert probabilities == sorted(probabilities, reverse=True)  # no CLV: by probability
    finally:
        con.disconnect()
