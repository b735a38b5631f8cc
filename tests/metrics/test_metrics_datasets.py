"""Real data: CDNOW monthly cohorts and churn/CRR (cross-checked by pandas), Telco Kaplan-Meier.

CDNOW: ../shared/datasets/cdnow/CDNOW_master.txt (README there: Fader & Hardie's purchase log of
the 23,570 customers who first bought in Q1 1997, through June 1998). The figures pinned here
are written in docs/cdnow-metrics.md.

Telco: ../shared/datasets/telco-churn/Telco-Customer-Churn.csv.gz (README there: IBM sample data,
7,043 customers, tenure in months and the Churn label).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from metric_tables import load

from retain.metrics import (
    cohort_customers,
    cohort_retention,
    inactivity_durations,
    kaplan_meier,
    logrank_test,
    period_metrics,
    subscription_durations,
    survival_summary,
)


def cdnow_orders(datasets: Path) -> pd.DataFrame:
    raw = pd.read_csv(
        datasets / "cdnow" / "CDNOW_master.txt",
        sep=r"\s+",
        header=0,
        names=["customer_id", "date", "cds", "amount"],
        dtype={"customer_id": str, "date": str},
    )
    return pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(raw))],
            "customer_id": raw.customer_id,
            "ordered_at": pd.to_datetime(raw.date, format="%Y%m%d").astype("datetime64[us]"),
            "amount": raw.amount.astype(float),
            "status": "completed",
        }
    )


def pandas_monthly(orders: pd.DataFrame) -> pd.DataFrame:
    """S, E, N, L, churn and CRR per month, computed independently with pandas sets."""
    month = orders.ordered_at.dt.to_period("M")
    active = orders.assign(m=month).groupby("m").customer_id.agg(set)
    first = orders.assign(m=month).groupby("customer_id").m.min()
    rows = []
    for m in pd.period_range(month.min(), month.max(), freq="M"):
        now, before = active.get(m, set()), active.get(m - 1, set())
        s, e, n = len(before), len(now), int((first == m).sum())
        lost = len(before - now)
        rows.append(
            {
                "customers_start": s,
                "customers_end": e,
                "new_customers": n,
                "lost_customers": lost,
                "churn_rate": 100 * lost / s if s else np.nan,
                "retention_rate": 100 * (e - n) / s if s else np.nan,
                "strict_retention_rate": 100 * (s - lost) / s if s else np.nan,
            }
        )
    return pd.DataFrame(rows)


def pandas_cohorts(orders: pd.DataFrame) -> pd.DataFrame:
    month = orders.ordered_at.dt.to_period("M")
    frame = orders.assign(m=month)
    cohort = frame.groupby("customer_id").m.min().rename("cohort")
    frame = frame.join(cohort, on="customer_id")
    frame["k"] = (frame.m - frame.cohort).apply(lambda d: d.n)
    active = frame.groupby(["cohort", "k"]).customer_id.nunique().unstack(fill_value=0)
    return active


@pytest.fixture
def cdnow(datasets: Path, duck: Any) -> tuple[pd.DataFrame, Any]:
    frame = cdnow_orders(datasets)
    return frame, load(duck, "orders", frame)


def test_cdnow_monthly_churn_and_crr_match_pandas(cdnow: tuple[pd.DataFrame, Any]) -> None:
    frame, orders = cdnow
    got = period_metrics(orders).to_pandas()
    assert len(got) == 18  # Jan 1997 .. Jun 1998
    expected = pandas_monthly(frame)
    pd.testing.assert_frame_equal(got[list(expected.columns)], expected, check_dtype=False)
    assert frame.customer_id.nunique() == 23_570  # README: the Q1 1997 cohort
    assert got.new_customers.sum() == 23_570
    assert got.new_customers[3:].sum() == 0  # nobody new after March 1997
    # pinned in docs/cdnow-metrics.md
    apr = got.iloc[3]
    assert (apr.customers_start, apr.customers_end, apr.lost_customers) == PINNED_APRIL
    assert round(apr.churn_rate, 2) == PINNED_APRIL_CHURN


def test_cdnow_crr_passes_100_and_strict_retention_does_not(
    cdnow: tuple[pd.DataFrame, Any],
) -> None:
    """CRR = (E - N) / S counts customers back after a pause; strict = (S - L) / S (#16 item 8).

    CDNOW (cdnow/README.md: the Q1 1997 cohort's purchases to June 1998) has no new customers
    after March 1997, so every E above S is a reactivation.
    """
    _, orders = cdnow
    got = period_metrics(orders).to_pandas().set_index("period_start")
    for month, (crr, strict) in PINNED_CRR_STRICT.items():
        row = got.loc[pd.Timestamp(month)]
        assert (round(row.retention_rate, 2), round(row.strict_retention_rate, 2)) == (crr, strict)
        assert row.new_customers == 0 and row.reactivated_customers > row.lost_customers
    rated = got.dropna(subset=["churn_rate"])
    assert (rated.strict_retention_rate <= 100).all()
    np.testing.assert_allclose(rated.strict_retention_rate, 100 - rated.churn_rate, atol=1e-9)


def test_cdnow_shop_survival_matches_pandas_and_pins_the_curve(
    cdnow: tuple[pd.DataFrame, Any],
) -> None:
    """Time to churn after 180 days without a purchase (#16 item 11), against pandas."""
    frame, orders = cdnow
    lives = inactivity_durations(orders, horizon_days=180, unit="day").to_pandas()
    # pandas: the first purchase followed by more than H days of nothing, H days later
    horizon, as_of = pd.Timedelta(days=180), frame.ordered_at.max()
    ordered = frame.sort_values(["customer_id", "ordered_at"])
    after = ordered.groupby("customer_id").ordered_at.shift(-1)
    lapse = ordered.ordered_at + horizon < after.fillna(as_of)
    per = ordered.assign(lapse=ordered.ordered_at.where(lapse)).groupby("customer_id")
    first, churn = per.ordered_at.min(), per.lapse.min() + horizon
    days = (churn.fillna(as_of) - first).dt.days
    ref = pd.DataFrame({"duration": days, "observed": churn.notna().astype(int)})
    ref = ref.value_counts().rename("n").reset_index().sort_values(["duration", "observed"])
    np.testing.assert_array_equal(
        lives[["duration", "observed", "n"]].to_numpy(),
        ref[["duration", "observed", "n"]].to_numpy(),
    )
    summary = survival_summary(lives).iloc[0]
    assert (summary.customers, summary.churned) == (23570, 21784)
    curve = kaplan_meier(lives).set_index("timeline")
    assert curve.loc[180.0, "survival"] == pytest.approx(0.374501, abs=1e-6)
    assert curve.loc[365.0, "survival"] == pytest.approx(0.124905, abs=1e-6)


def test_cdnow_cohort_cells_drill_down_to_their_count(cdnow: tuple[pd.DataFrame, Any]) -> None:
    _, orders = cdnow
    matrix = cohort_retention(orders).to_pandas()
    jan = matrix[matrix.cohort == "1997-01-01"].set_index("period_index").active
    assert jan.loc[[0, 1, 3]].tolist() == [7846, 1157, 810]
    for k in (1, 3):
        listed = cohort_customers(orders, cohort="1997-01-01", period_index=k)
        assert int(listed.count().to_pandas()) == jan.loc[k]


def test_cdnow_monthly_cohorts_match_pandas(cdnow: tuple[pd.DataFrame, Any]) -> None:
    frame, orders = cdnow
    got = cohort_retention(orders).to_pandas()
    expected = pandas_cohorts(frame)
    assert got.cohort.dt.strftime("%Y-%m").unique().tolist() == ["1997-01", "1997-02", "1997-03"]
    for cohort, part in got.groupby("cohort"):
        row = expected.loc[pd.Period(cohort, "M")]
        assert part.active.tolist() == [int(row.get(k, 0)) for k in part.period_index]
    sizes = got.drop_duplicates("cohort").cohort_size.tolist()
    assert sizes == PINNED_COHORT_SIZES


# Figures computed by retain and by the independent pandas code above (they agree exactly);
# reproduced in docs/cdnow-metrics.md.
PINNED_COHORT_SIZES = [7846, 8476, 7248]
PINNED_APRIL = (9524, 2822, 7751)  # S (March buyers), E (April buyers), L
PINNED_APRIL_CHURN = 81.38
PINNED_CRR_STRICT = {"1997-06-01": (105.65, 33.74), "1998-03-01": (132.82, 36.81)}


def telco(datasets: Path) -> pd.DataFrame:
    frame = pd.read_csv(datasets / "telco-churn" / "Telco-Customer-Churn.csv.gz")
    return frame


def telco_subscriptions(frame: pd.DataFrame) -> pd.DataFrame:
    """Tenure in months as subscriptions observed up to 2020-01-01 (churners end that day)."""
    as_of = pd.Timestamp("2020-01-01")
    started = [as_of - pd.DateOffset(months=int(m)) for m in frame.tenure]
    return pd.DataFrame(
        {
            "subscription_id": frame.customerID,
            "customer_id": frame.customerID,
            "plan": frame.Contract,
            "started_at": pd.to_datetime(started).astype("datetime64[us]"),
            "ended_at": pd.Series(
                np.where(frame.Churn == "Yes", as_of, pd.NaT), dtype="datetime64[us]"
            ),
            "amount": frame.MonthlyCharges.astype(float),
        }
    )


def test_telco_kaplan_meier_and_logrank_agree_with_lifelines(datasets: Path, duck: Any) -> None:
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    frame = telco(datasets)
    subs = load(duck, "subscriptions", telco_subscriptions(frame))
    durations = subscription_durations(subs, by="plan", as_of="2020-01-01")
    counts = durations.to_pandas()
    assert counts.n.sum() == 7043  # README: 7,043 customers
    curves = kaplan_meier(durations, by="plan")
    event = (frame.Churn == "Yes").astype(int)
    for contract, part in frame.groupby("Contract"):
        km = KaplanMeierFitter().fit(part.tenure, event[part.index])
        mine = curves[curves.plan == contract].set_index("timeline")
        ref = km.survival_function_.iloc[:, 0]
        np.testing.assert_allclose(mine.survival.to_numpy(), ref.to_numpy(), rtol=0, atol=1e-9)
        np.testing.assert_allclose(mine.index.to_numpy(), ref.index.to_numpy(), atol=0)
        ci = km.confidence_interval_survival_function_
        np.testing.assert_allclose(mine.ci_lower.to_numpy(), ci.iloc[:, 0].to_numpy(), atol=1e-9)
        np.testing.assert_allclose(mine.ci_upper.to_numpy(), ci.iloc[:, 1].to_numpy(), atol=1e-9)
    ours = logrank_test(durations, by="plan")
    ref = multivariate_logrank_test(frame.tenure, frame.Contract, event)
    assert abs(ours.statistic - ref.test_statistic) < 1e-9
    assert abs(ours.p_value - ref.p_value) < 1e-9
    assert ours.degrees_of_freedom == 2
    summary = survival_summary(durations, by="plan").set_index("plan")
    assert summary.loc["Month-to-month", "churned"] == 1655
    assert np.isinf(summary.loc["Two year", "median_lifetime"])


def test_telco_recipe_periods_and_mrr_agree_on_churned_customers(
    warehouse: Any, datasets: Path
) -> None:
    """Telco as `retain ingest --recipe telco` loads it (#16 item 9).

    The recipe ends every churned subscription on the snapshot, 2019-09-30; the README counts
    1,869 churners among 7,043 customers. Both tables put all of them in September 2019.
    """
    from retain.config import Settings
    from retain.ingest import load_recipe
    from retain.metrics import mrr_movements, subscription_activity

    path = datasets / "telco-churn" / "Telco-Customer-Churn.csv.gz"
    load_recipe("telco", path, con=warehouse, settings=Settings())
    subs = warehouse.table("subscriptions")
    mrr = mrr_movements(subs).to_pandas()
    periods = period_metrics(None, activity=subscription_activity(subs)).to_pandas()
    assert periods.period_start.tolist() == mrr.period_start.tolist()
    assert periods.lost_customers.tolist() == mrr.churned_customers.tolist()
    assert periods.customers_end.tolist() == mrr.customers.tolist()
    last = periods.iloc[-1]
    assert last.period_start == pd.Timestamp("2019-09-01")
    assert (last.customers_start, last.lost_customers, last.customers_end) == (7032, 1869, 5174)
    assert round(last.churn_rate, 2) == round(mrr.logo_churn_rate.iloc[-1], 2) == 26.58
    assert periods.lost_customers[:-1].sum() == 0  # the file dates no churn before its snapshot
