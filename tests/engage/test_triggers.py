"""Each trigger kind evaluated point in time over a small business (tests/engage/_engage_data)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from _engage_data import AS_OF, churn_scores, sources

from retain.engage.playbooks import (
    ContractEndTrigger,
    DateAttributeTrigger,
    EventTrigger,
    InactiveTrigger,
    LifecycleTrigger,
    RiskBandTrigger,
)
from retain.engage.triggers import FIRED_COLUMNS, fired
from retain.errors import InvalidParameterError
from retain.features import Sources


def _run(trigger: object, as_of: object = AS_OF) -> pd.DataFrame:
    table = fired(trigger, sources(), as_of, churn_scores=churn_scores())  # type: ignore[arg-type]
    assert list(table.columns) == list(FIRED_COLUMNS)
    return table.to_pandas().set_index("customer_id").sort_index()


def test_inactive_counts_days_since_last_activity_and_ignores_the_future() -> None:
    got = _run(InactiveTrigger(kind="inactive", days=60))
    # a1's order two days after as_of is not seen; a5 (10 days) and the recent buyers are out
    assert set(got.index) == {"a1", "a2", "a3", "a4", "a6", "a7", "a12"}
    assert got.loc["a1", "days"] == 90
    last = (AS_OF - dt.timedelta(days=90)).date()
    assert got.loc["a1", "occurrence"] == f"inactive:{last}"
    assert _run(InactiveTrigger(kind="inactive", days=60, max_days=80)).empty


def test_inactive_occurrence_is_stable_while_the_silence_lasts() -> None:
    first = _run(InactiveTrigger(kind="inactive", days=60))
    later = _run(InactiveTrigger(kind="inactive", days=60), AS_OF + dt.timedelta(days=3))
    assert "a1" not in later.index  # the future order ended a1's silence
    assert later.loc["a6", "occurrence"] == first.loc["a6", "occurrence"]


def test_onboarding_series_fires_the_step_reached() -> None:
    trigger = LifecycleTrigger(kind="lifecycle", stage="new", delays=(0, 3, 10))
    got = _run(trigger)
    assert list(got.index) == ["a11"]
    assert got.loc["a11", "step"] == 2 and got.loc["a11", "occurrence"] == "new:step2"
    day0 = _run(trigger, dt.datetime(2024, 6, 27, 18))
    assert day0.loc["a11", "step"] == 1
    assert _run(trigger, dt.datetime(2024, 7, 8)).loc["a11", "step"] == 3
    # step 3 (day 10) is not taken after its 7-day grace
    assert "a11" not in _run(trigger, dt.datetime(2024, 7, 20)).index


def test_risk_band_fires_on_a_crossing_only() -> None:
    got = _run(RiskBandTrigger(kind="risk_band", band="high"))
    assert list(got.index) == ["a12"]
    assert got.loc["a12", "occurrence"] == "risk:shop:high:2024-06-28"
    # before the June score, a12 was medium: no high crossing known then
    assert _run(
        RiskBandTrigger(kind="risk_band", band="high"), dt.datetime(2024, 6, 1)
    ).index.tolist() == ["a13"]


def test_contract_end_event_and_birthday() -> None:
    contract = _run(ContractEndTrigger(kind="contract_end", days=30))
    assert list(contract.index) == ["a9"]
    assert contract.loc["a9", "ends_at"] == pd.Timestamp("2024-07-20")
    assert contract.loc["a9", "occurrence"] == "contract:s9:2024-07-20"
    event = _run(EventTrigger(kind="event", event="payment_failed", within_days=2))
    assert list(event.index) == ["a8"] and event.loc["a8", "occurrence"] == "event:e1"
    birthday = _run(DateAttributeTrigger(kind="date_attribute", attribute="birthday"))
    assert list(birthday.index) == ["a10"]
    assert birthday.loc["a10", "occurrence"] == "date:birthday:2024"
    early = DateAttributeTrigger(kind="date_attribute", attribute="birthday", days_before=3)
    assert list(_run(early, dt.datetime(2024, 6, 27)).index) == ["a10"]


def test_a_trigger_without_its_table_names_it() -> None:
    only_orders = Sources.from_tables(
        {"orders": pd.DataFrame({"customer_id": ["x"], "ordered_at": [AS_OF], "amount": [1.0]})}
    )
    with pytest.raises(InvalidParameterError, match="subscriptions"):
        fired(ContractEndTrigger(kind="contract_end", days=30), only_orders, AS_OF)
