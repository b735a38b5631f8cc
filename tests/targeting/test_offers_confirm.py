"""Actions whose would-be customers the campaign measured at a sure loss are not offered."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retain.config import OfferAction, OfferSettings
from retain.i18n import language
from retain.targeting.offers import plan_offers, summary_lines

NOISE = OfferAction(name="reminder", kind="message", cost_per_contact=0.1)
GOOD = OfferAction(name="call", kind="call", cost_per_contact=5.0)
N = 400


def _customers() -> pd.DataFrame:
    ids = [f"C{i:03d}" for i in range(N)]
    return pd.DataFrame(
        {"customer_id": ids, "churn_probability": 0.5, "clv": 100.0, "order_value": 20.0}
    )


def _uplift(noise_honest: float, noise_variance: float, good_honest: float = 0.2) -> pd.DataFrame:
    """The reminder's model says +5 points for all; its campaign measured ``noise_honest``
    in two groups; the call's model and measurement agree on ``good_honest``."""
    ids = _customers()["customer_id"]
    half = np.arange(N) % 2
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "customer_id": ids,
                    "action": "reminder",
                    "uplift": 0.05,
                    "uplift_honest": noise_honest,
                    "honest_group": [f"reminder/{h}/0" for h in half],
                    "honest_variance": noise_variance,
                }
            ),
            pd.DataFrame(
                {
                    "customer_id": ids[:100],
                    "action": "call",
                    "uplift": good_honest,
                    "uplift_honest": good_honest,
                    "honest_group": "call/0/0",
                    "honest_variance": 0.0004,
                }
            ),
        ],
        ignore_index=True,
    )


def _conf() -> OfferSettings:
    return OfferSettings(actions=[NOISE, GOOD], weeks=1, holdout_share=0.0, min_uplift=0.0)


def test_an_action_the_campaign_measured_at_a_sure_loss_is_set_aside() -> None:
    # honest -0.02 x 100 - 0.1 = -2.1 each, 400 customers: -840; measurement sd per group
    # 200 x 100 x 0.005 = 100, so the interval's upper end is about -840 + 1.96 x 141 < 0
    plan = plan_offers(
        _customers(), budget=10_000.0, settings=_conf(), uplift=_uplift(-0.02, 0.005**2)
    )
    s = plan.summary
    assert [r.action for r in s.refuted] == ["reminder"]
    refuted = s.refuted[0]
    assert refuted.customers == N
    assert refuted.honest_profit == pytest.approx(-840.0)
    assert refuted.honest_profit < refuted.high < 0
    chosen = plan.decisions[plan.decisions["status"] == "target"]
    assert set(chosen["action"]) == {"call"} and len(chosen) == 100
    rest = plan.decisions[plan.decisions["status"] == "left_out"]
    assert set(rest["reason"]) == {"unlikely_to_respond"}
    lines = summary_lines(plan, "USD")
    assert sum(line.startswith("reminder is not offered") for line in lines) == 1
    for lang, words in {"ja": "reminder は提供しません", "ko": "reminder은(는) 제공하지"}.items():
        with language(lang):
            assert sum(words in line for line in summary_lines(plan, "JPY")) == 1


def test_a_loss_the_measurement_cannot_tell_from_zero_keeps_the_action() -> None:
    """Point estimate negative, but its interval reaches above zero: not refuted."""
    plan = plan_offers(
        _customers(), budget=10_000.0, settings=_conf(), uplift=_uplift(-0.002, 0.02**2)
    )
    assert plan.summary.refuted == []
    assert "reminder" in set(plan.decisions["action"])


def test_what_is_refuted_does_not_depend_on_the_budget() -> None:
    """Judged on every would-be customer, so a larger budget never changes it (monotone)."""
    uplift = _uplift(-0.02, 0.005**2)
    for budget in (0.0, 5.0, 50.0, 500.0, 1e9):
        plan = plan_offers(_customers(), budget=budget, settings=_conf(), uplift=uplift)
        assert [r.action for r in plan.summary.refuted] == ["reminder"]


def test_the_heuristic_and_uplift_without_measured_groups_are_never_refuted() -> None:
    plan = plan_offers(_customers(), budget=10_000.0, settings=_conf())
    assert plan.heuristic and plan.summary.refuted == []
    bare = _uplift(-0.02, 0.005**2).drop(columns=["honest_group", "honest_variance"])
    plan = plan_offers(_customers(), budget=10_000.0, settings=_conf(), uplift=bare)
    assert plan.summary.refuted == []


def test_a_working_action_is_rarely_set_aside_by_its_measurement_noise() -> None:
    """A truly break-even-plus action (+0.3 per customer) measured with noise in two groups
    is refuted in at most about 2.5 % of campaigns (the interval's upper end below zero)."""
    rng = np.random.default_rng(0)
    se = 0.01  # per group: 200 customers x 100 x 0.01 = 200 of profit
    refuted = 0
    for _ in range(400):
        frame = _uplift(0.0, se**2)
        is_reminder = frame["action"] == "reminder"
        half = np.arange(N) % 2
        measured = 0.004 + rng.normal(0.0, se, 2)  # truth 0.004 x 100 - 0.1 = +0.3 each
        frame.loc[is_reminder, "uplift_honest"] = measured[half]
        plan = plan_offers(_customers(), budget=1e9, settings=_conf(), uplift=frame)
        refuted += bool(plan.summary.refuted)
    assert refuted / 400 <= 0.04
