"""The playbooks pages: the book, a dry run matching ``decide``, results, roles, languages."""

from __future__ import annotations

import html
from typing import Any

import pytest
from _app_helpers import login
from fastapi.testclient import TestClient

from retain.engage.decisions import decide
from retain.engage.playbooks import shipped_playbooks
from retain.features import Sources

WHEN = "2024-09-30"
TITLES = {"en": "Playbooks", "ja": "プレイブック", "ko": "플레이북"}


@pytest.mark.parametrize("lang", ["en", "ja", "ko"])
def test_dry_run_page_lists_who_gets_what(
    client: TestClient, users: dict[str, str], loaded_warehouse: Any, lang: str
) -> None:
    login(client, users["analyst"], lang=lang)
    form = client.get("/playbooks")
    assert form.status_code == 200, form.text[:2000]
    assert 'href="/playbooks"' in form.text  # the nav entry
    assert TITLES[lang] in form.text
    for playbook in shipped_playbooks().playbooks:
        assert f'data-playbook="{playbook.name}"' in form.text
    response = client.get("/playbooks", params={"as_of": WHEN, "lang": lang})
    assert response.status_code == 200, response.text[:2000]
    text = html.unescape(response.text)
    want = decide(shipped_playbooks(), Sources.from_warehouse(loaded_warehouse), WHEN)
    assert len(want) > 0
    for row in want.itertuples():
        assert f'data-customer="{row.customer_id}" data-status="{row.status}"' in text
    assert text.count('data-status="') == len(want)
    assert 'href="/api/v1/playbooks/dry-run.csv?as_of=2024-09-30"' in text


def test_results_page_shows_the_arms(client: TestClient, users: dict[str, str]) -> None:
    login(client, users["analyst"], lang="en")
    response = client.get("/playbooks/spring/results", params={"as_of": "2025-01-01"})
    assert response.status_code == 200, response.text[:2000]
    assert 'data-variant="' in response.text
    assert "Treated (1)" in response.text and "Holdout (0)" in response.text
    assert "too few customers for an interval" in response.text


def test_agents_do_not_see_the_playbooks(client: TestClient, users: dict[str, str]) -> None:
    login(client, users["agent"], lang="en")
    assert 'href="/playbooks"' not in client.get("/").text
    for path in ("/playbooks", "/playbooks/spring/results"):
        assert client.get(path).status_code == 403, path


def test_a_bad_date_is_explained(client: TestClient, users: dict[str, str]) -> None:
    login(client, users["analyst"], lang="en")
    response = client.get("/playbooks", params={"as_of": "30/09/2024"})
    assert response.status_code == 422
    text = html.unescape(response.text)
    assert "The date must be a calendar date, got '30/09/2024'." in text
    assert "--as-of" not in text  # the CLI's option is not the web form's field


def test_the_goal_line_shows_rates_as_percentages_and_revenue_as_money() -> None:
    """A conversion goal of 30 % reached at 35.3 % read "0 of target 0" (whole numbers)."""
    from retain.app.web._render import environment
    from retain.i18n import language

    template = environment().get_template("playbook_results.html")

    def goal_line(metric: str, value: float, target: float) -> str:
        variant = {
            "variant": "a",
            "treated": {"customers": 10},
            "holdout": {"customers": 5},
            "difference": {},
            "incremental_profit": None,
            "goal": {"metric": metric, "value": value, "target": target, "progress": 1.176},
        }
        context = template.new_context(
            {
                "name": "p",
                "result": {"window_days": 30, "pending": 0, "variants": [variant]},
                "metrics": [],
                "as_of": "",
                "lang": "en",
                "currency": "USD",
            }
        )
        text = "".join(template.blocks["content"](context))
        return html.unescape(text.split('class="goal">')[1].split("</p>")[0])

    with language("en"):
        assert goal_line("conversion", 0.353, 0.3) == (
            "Goal: conversion 35.3% of target 30.0% (117.6%)"
        )
        assert "$12.50" in goal_line("revenue", 12.5, 10.0)
