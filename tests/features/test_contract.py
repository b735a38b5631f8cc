"""Point-in-time contract features: ``days_to_renewal`` and ``days_to_contract_end``.

The expected values come from an independent oracle: pandas calendar offsets
(``pd.DateOffset(months=k)``, which clamps to the end of shorter months as every engine does),
stepping from the anchor date until the first anniversary after ``as_of``.
"""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

import retain.warehouse as wh
from retain.config import ChurnDefinition
from retain.features import feature_snapshot
from retain.features._clock import Clock

ts = pd.Timestamp
AS_OF = ts("2024-04-01")
CONTRACTUAL = ChurnDefinition(kind="contractual")
_STEP = {"day": pd.Timedelta(days=1), "week": pd.Timedelta(days=7)}


def _oracle(
    anchor: pd.Timestamp, period: str, as_of: pd.Timestamp, *, inclusive: bool = False
) -> float:
    """Days from ``as_of`` to the first ``anchor + k periods`` (any integer k) after it (or at
    it, with ``inclusive``)."""

    def behind(t: pd.Timestamp) -> bool:
        return t < as_of if inclusive else t <= as_of

    if period in _STEP:
        step = _STEP[period]
        k = (as_of - anchor) // step - 1
        while behind(anchor + k * step):
            k += 1
        return float((anchor + k * step - as_of) / pd.Timedelta(days=1))
    months = 12 if period == "year" else 1
    k = (as_of.year - anchor.year) * 12 // months + (as_of.month - anchor.month) // months - 2
    while behind(anchor + pd.DateOffset(months=k * months)):
        k += 1
    return float((anchor + pd.DateOffset(months=k * months) - as_of) / pd.Timedelta(days=1))


def _plans() -> dict[str, pd.DataFrame]:
    """Subscribers whose renewal and contract end can be worked out on a calendar.

    As of 2024-04-01 (a leap year):

    - ``m31``: monthly from 2024-01-31 10:00 renews 2024-02-29, 03-31, then 04-30 10:00.
    - ``mx``: monthly from 2024-03-01; as_of is an anniversary, so a new period runs to 05-01.
    - ``y``: yearly from 2022-06-15 with ``contract_ends_at`` 2026-06-15 (the row as it is
      today, two renewals later): the term in force at as_of ends 2024-06-15.
    - ``y29``: yearly from 2020-02-29, renews on 28 February in common years: 2025-02-28.
    - ``ynear``: yearly, contract end 2024-05-01, within one period: kept as it is.
    - ``ynow``: contract end exactly at as_of: 0 days (the term ends today); its renewal
      counts from the new period that starts at as_of: 365 days.
    - ``w``: weekly from Wednesday 2024-03-20: renews 2024-04-03.
    - ``two``: an old yearly plan and a newer monthly one: the newest active one renews.
    - ``gone``: a contract end before as_of on an active row does not count.
    """
    rows = [
        ("m31", "month", "2024-01-31 10:00", None),
        ("mx", "month", "2024-03-01", None),
        ("y", "year", "2022-06-15", "2026-06-15"),
        ("y29", "year", "2020-02-29", None),
        ("ynear", "year", "2023-05-01", "2024-05-01"),
        ("ynow", "year", "2023-04-01", "2024-04-01"),
        ("w", "week", "2024-03-20", None),
        ("two", "year", "2021-01-10", "2025-01-10"),
        ("two", "month", "2023-11-20", None),
        ("gone", "month", "2023-10-05", "2024-01-05"),
    ]
    subs = pd.DataFrame(
        {
            "subscription_id": [f"p{i}" for i in range(len(rows))],
            "customer_id": [r[0] for r in rows],
            "plan": "pro",
            "billing_period": [r[1] for r in rows],
            "started_at": [ts(r[2]) for r in rows],
            "ended_at": pd.NaT,
            "amount": 10.0,
            "contract_ends_at": [ts(r[3]) if r[3] else pd.NaT for r in rows],
        }
    )
    return {"subscriptions": subs}


def _snap(tables: dict[str, Any] | object, as_of: pd.Timestamp = AS_OF) -> pd.DataFrame:
    frame = feature_snapshot(tables, as_of=as_of, definition=CONTRACTUAL).to_pandas()
    return frame.set_index("customer_id")[["days_to_renewal", "days_to_contract_end"]]


EXPECTED = {
    # customer: (days_to_renewal, days_to_contract_end); NaN where there is no contract end.
    "m31": (29 + 10 / 24, np.nan),
    "mx": (30.0, np.nan),
    "y": (75.0, 75.0),
    "y29": (333.0, np.nan),
    "ynear": (30.0, 30.0),
    "ynow": (365.0, 0.0),
    "w": (2.0, np.nan),
    "two": (19.0, 284.0),
    "gone": (4.0, np.nan),
}


def test_renewal_and_contract_end_by_calendar() -> None:
    s = _snap(_plans())
    assert sorted(s.index) == sorted(EXPECTED)
    for customer, (renewal, contract) in EXPECTED.items():
        got = s.loc[customer]
        assert got.days_to_renewal == pytest.approx(renewal), customer
        if np.isnan(contract):
            assert np.isnan(got.days_to_contract_end), customer
        else:
            assert got.days_to_contract_end == pytest.approx(contract), customer


def test_expected_values_agree_with_the_oracle() -> None:
    """The hand-worked table above is what calendar offsets give (guards the table itself)."""
    subs = _plans()["subscriptions"]
    newest = subs.sort_values("started_at").groupby("customer_id").last()
    for customer, row in newest.iterrows():
        assert _oracle(row.started_at, row.billing_period, AS_OF) == pytest.approx(
            EXPECTED[str(customer)][0]
        )
    assert _oracle(ts("2026-06-15"), "year", AS_OF, inclusive=True) == pytest.approx(75.0)
    assert _oracle(ts("2024-04-01"), "year", AS_OF, inclusive=True) == 0.0


def test_renewing_after_as_of_changes_nothing() -> None:
    """The look-ahead is gone: renewing after as_of (the contract end moving a term ahead, as a
    warehouse row's current state does) leaves both features as they were at as_of."""
    before = _snap(_plans())
    renewed = _plans()
    subs = renewed["subscriptions"]
    yearly = subs.contract_ends_at.notna() & (subs.billing_period == "year")
    subs.loc[yearly, "contract_ends_at"] += pd.DateOffset(years=3)
    pd.testing.assert_frame_equal(before, _snap(renewed))


def test_unknown_period_is_null_and_missing_period_is_monthly() -> None:
    tables = _plans()
    subs = tables["subscriptions"]
    subs.loc[subs.customer_id == "mx", "billing_period"] = None
    subs.loc[subs.customer_id == "w", "billing_period"] = "fortnight"
    s = _snap(tables)
    assert s.loc["mx", "days_to_renewal"] == pytest.approx(30.0)
    assert np.isnan(s.loc["w", "days_to_renewal"])


_ANCHOR_RANGE = (ts("2019-01-01").value, ts("2029-12-31").value)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    as_of=st.sampled_from(
        ["2024-04-01", "2024-02-29 23:30", "2023-12-31 08:00", "2025-01-31", "2024-03-31 12:00"]
    )
    | st.datetimes(min_value=pd.Timestamp("2021-01-01"), max_value=pd.Timestamp("2027-01-01")),
    seed=st.integers(0, 2**32 - 1),
)
def test_days_to_next_anniversary_matches_calendar_offsets(as_of: Any, seed: int) -> None:
    """Anchors on both sides of as_of, every period, against the pandas oracle (DuckDB)."""
    when = pd.Timestamp(as_of).floor("s")
    rng = np.random.default_rng(seed)
    anchors = pd.to_datetime(rng.integers(*_ANCHOR_RANGE, 60)).floor("s")
    # Month ends and leap days are where calendar arithmetic goes wrong.
    edges = pd.to_datetime(
        ["2020-02-29 00:00", "2024-01-31 06:00", "2023-08-31 00:00", "2022-12-31 23:59"]
    )
    # ... and anniversaries that fall exactly on as_of.
    exact = pd.DatetimeIndex([when, when - pd.DateOffset(years=2), when + pd.Timedelta(weeks=3)])
    anchors = anchors.append(edges).append(exact)
    periods = rng.choice(["day", "week", "month", "year"], len(anchors))
    frame = pd.DataFrame({"anchor": anchors, "period": periods})
    t = ibis.memtable(frame)
    got = (
        t.select(days=Clock(when).days_to_next_anniversary(t.anchor, t.period))
        .to_pandas()["days"]
        .to_numpy()
    )
    want = [_oracle(a, p, when) for a, p in zip(frame.anchor, frame.period, strict=True)]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert (got > 0).all()
    got = (
        t.select(days=Clock(when).days_to_next_anniversary(t.anchor, t.period, inclusive=True))
        .to_pandas()["days"]
        .to_numpy()
    )
    want = [
        _oracle(a, p, when, inclusive=True) for a, p in zip(frame.anchor, frame.period, strict=True)
    ]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_same_contract_features_on_every_engine(engine: object) -> None:
    tables = _plans()
    for name, frame in tables.items():
        wh.write_table(engine, name, frame)
    pd.testing.assert_frame_equal(_snap(engine).sort_index(), _snap(tables).sort_index())


@pytest.mark.postgres
def test_same_features_on_postgres(postgres_warehouse: object, make_business: Any) -> None:
    """The whole snapshot, contract features included, is identical on PostgreSQL."""
    tables = make_business()
    tables["subscriptions"] = pd.concat(
        [tables["subscriptions"], _plans()["subscriptions"]], ignore_index=True
    )
    for name, frame in tables.items():
        wh.write_table(postgres_warehouse, name, frame)
    for definition in (ChurnDefinition(activity="any"), CONTRACTUAL):
        got = feature_snapshot(postgres_warehouse, as_of=AS_OF, definition=definition)
        want = feature_snapshot(tables, as_of=AS_OF, definition=definition)
        pd.testing.assert_frame_equal(
            got.to_pandas(), want.to_pandas(), check_dtype=False, atol=1e-9
        )
