"""The NPS page: the figure with its Wald interval, over time, by group, and open follow-ups."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import pytest
from _app_helpers import login

from retain.ingest.append import Interaction, append_interactions
from retain.voice import work

# Six customers, each one answer: c1-c3 in May 2024, c4-c6 in June.
SCORES = {"c1": 10, "c2": 9, "c3": 9, "c4": 7, "c5": 3, "c6": 5}


@pytest.fixture
def database_url(tmp_path):
    return f"sqlite:///{tmp_path / 'app.db'}"


@pytest.fixture
def answered(app: Any, loaded_warehouse: Any) -> None:
    rows = [
        Interaction(
            interaction_id=f"nps-{cid}",
            customer_id=cid,
            occurred_at=dt.datetime(2024, 5 if i < 3 else 6, 10 + i),
            kind="survey_answer",
            channel="web",
            properties={"survey": "nps", "score": score, "comment": "<b>x</b>"},
        )
        for i, (cid, score) in enumerate(SCORES.items())
    ]
    append_interactions(rows, con=loaded_warehouse)
    with app.state.sessionmaker() as session:
        work.add_task(
            session, "c5", "Call back: 3", owner="customer-care", created_by="survey-1",
            due_on=dt.date(2024, 6, 17),
        )  # fmt: skip
        done = work.add_task(session, "c6", "Call back: 5", owner="x", created_by="survey-2")
        work.complete_task(session, done)
        work.add_task(session, "c1", "Renewal chat", owner="x", created_by="ann@example.org")
        session.commit()


def _cells(html: str, testid: str, key: str) -> list[str]:
    table = html.split(f'data-testid="{testid}"', 1)[1].split("</table>", 1)[0]
    row = table.split(key, 1)[1].split("</tr>", 1)[0]
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]


def test_nps_overall_over_time_by_country_and_follow_ups(client, users, answered):
    login(client, users["analyst"])
    page = client.get("/nps", params={"over": "month", "by": "country"})
    assert page.status_code == 200, page.text
    html = page.text
    # 3 promoters (10, 9, 9), 1 passive (7), 2 detractors (3, 5): p = 1/2, d = 1/3, NPS 16.7;
    # variance p + d - (p - d)^2 = 0.8056, se = sqrt(0.8056 / 6) = 0.3664, +-1.96 se = 71.8
    p, d = 3 / 6, 2 / 6
    half = 196 * math.sqrt((p + d - (p - d) ** 2) / 6)
    low, high = 100 * (p - d) - half, 100 * (p - d) + half
    assert f"{low:.1f}" == "-55.2" and f"{high:.1f}" == "88.5"
    overall = _cells(html, "nps-overall", "<tbody>")
    assert overall[0] == "16.7" and overall[1] == "-55.2 – 88.5" and overall[2:] == [
        "6", "3", "1", "2",
    ]  # fmt: skip
    assert _cells(html, "nps-trend", 'data-period="2024-05"')[0] == "100.0"
    june = _cells(html, "nps-trend", 'data-period="2024-06"')
    assert june[0] == "-66.7" and june[2:] == ["3", "0", "1", "2"]
    assert "<svg" in html and "<title>" in html  # the chart, with its label for screen readers
    assert _cells(html, "nps-groups", 'data-group="JP"')[0] == "33.3"  # c1 10, c3 9, c5 3
    assert _cells(html, "nps-groups", 'data-group="KR"')[0] == "0.0"  # c2 9, c6 5
    followups = html.split('data-testid="nps-followups"', 1)[1].split("</table>", 1)[0]
    assert 'href="/customers/c5"' in followups and "Call back: 3" in followups
    assert "c6" not in followups and "Renewal chat" not in followups  # done; not a survey's
    assert "(1)" in html.split('id="nps-followups"', 1)[1].split("</h2>", 1)[0]


@pytest.mark.parametrize(
    ("lang", "title"),
    [
        ("en", "Net Promoter Score"),
        ("ja", "ネット・プロモーター・スコア"),
        ("ko", "순추천지수(NPS)"),
    ],
)
def test_the_page_speaks_each_language(client, users, answered, lang, title):
    login(client, users["admin"], lang=lang)
    html = client.get("/nps", params={"lang": lang}).text
    assert f"<h1>{title}</h1>" in html and 'href="/nps"' in html


def test_agents_cannot_open_it_and_bad_input_is_a_clear_error(client, users, answered):
    login(client, users["agent"])
    assert client.get("/nps").status_code == 403
    client.cookies.clear()
    login(client, users["analyst"])
    assert client.get("/nps", params={"over": "fortnight"}).status_code == 422
    assert client.get("/nps", params={"by": "no_such_column"}).status_code == 422
    empty = client.get("/nps", params={"survey": "csat"})
    assert empty.status_code == 200 and "No answers to the survey csat yet." in empty.text
