"""NPS in points with its Wald interval, the latest answer per customer, by segment and period."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from retain.voice.nps import (
    answers_from_interactions,
    category,
    latest_answers,
    nps,
    nps_by,
    nps_over_time,
)


def test_hand_computed_example():
    # 10 answers: 5 promoters, 3 passives, 2 detractors. p = .5, d = .2, NPS = 30.
    # var of one draw = p + d - (p - d)^2 = .7 - .09 = .61; se = sqrt(.61 / 10) = .246982;
    # half width = 1.959964 * .246982 = .484076 -> 95 % CI 30 +/- 48.41 = [-18.41, 78.41].
    r = nps([10, 9, 9, 10, 9, 8, 7, 7, 6, 0])
    assert (r.responses, r.promoters, r.passives, r.detractors) == (10, 5, 3, 2)
    assert r.nps == 30.0
    assert r.ci_low == pytest.approx(-18.41, abs=0.01)
    assert r.ci_high == pytest.approx(78.41, abs=0.01)


def test_the_interval_is_clipped_and_zero_width_when_everyone_agrees():
    assert nps([10] * 4).as_dict() == {
        "nps": 100.0,
        "ci_low": 100.0,
        "ci_high": 100.0,
        "responses": 4,
        "promoters": 4,
        "passives": 0,
        "detractors": 0,
    }
    r = nps([10, 0])
    assert (r.nps, r.ci_low, r.ci_high) == (0.0, -100.0, 100.0)


def test_the_interval_narrows_with_the_square_root_of_n():
    small, large = nps([10, 8, 0] * 10), nps([10, 8, 0] * 40)
    assert small.nps == large.nps == 0.0
    ratio = (small.ci_high - small.ci_low) / (large.ci_high - large.ci_low)
    assert ratio == pytest.approx(math.sqrt(4), rel=1e-3)


def test_no_answers():
    assert nps([]).as_dict()["nps"] is None


@pytest.mark.parametrize(
    ("s", "c"),
    [
        (0, "detractor"),
        (6, "detractor"),
        (7, "passive"),
        (8, "passive"),
        (9, "promoter"),
        (10, "promoter"),
    ],
)
def test_categories(s, c):
    assert category(s) == c


def _answers():
    return pd.DataFrame(
        {
            "customer_id": ["A", "A", "B", "C", "D"],
            "occurred_at": pd.to_datetime(
                ["2026-01-05", "2026-02-10", "2026-01-20", "2026-02-01", "2026-02-02"]
            ),
            "score": [0.0, 10.0, 9.0, 3.0, 8.0],
            "plan": ["pro", "pro", "basic", "basic", "pro"],
        }
    )


def test_a_customers_latest_answer_counts():
    latest = latest_answers(_answers())
    assert dict(zip(latest["customer_id"], latest["score"], strict=True)) == {
        "A": 10.0,
        "B": 9.0,
        "C": 3.0,
        "D": 8.0,
    }
    r = nps(latest["score"])
    assert (r.promoters, r.passives, r.detractors, r.nps) == (2, 1, 1, 25.0)


def test_by_segment_and_over_time():
    by = nps_by(_answers(), "plan")
    assert {k: (v.responses, v.nps) for k, v in by.items()} == {
        "basic": (2, 0.0),
        "pro": (2, 50.0),
    }
    months = nps_over_time(_answers(), "M")
    assert {k: (v.promoters, v.passives, v.detractors) for k, v in months.items()} == {
        "2026-01": (1, 0, 1),
        "2026-02": (1, 1, 1),
    }


def test_answers_are_read_from_interactions_of_the_survey_only():
    frame = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D", "E"],
            "occurred_at": pd.to_datetime(["2026-01-01"] * 5),
            "kind": [
                "survey_answer",
                "survey_answer",
                "survey_answer",
                "complaint",
                "survey_answer",
            ],
            "properties": [
                json.dumps({"survey": "nps", "score": 9, "comment": "ok"}),
                json.dumps({"survey": "csat", "score": 5}),
                "not json",
                json.dumps({"survey": "nps", "score": 0}),
                json.dumps({"survey": "nps", "score": "7"}),
            ],
        }
    )
    got = answers_from_interactions(frame)
    assert list(got["customer_id"]) == ["A", "E"] and list(got["score"]) == [9.0, 7.0]
