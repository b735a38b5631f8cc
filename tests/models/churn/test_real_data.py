"""Pinned results on real data (../shared/datasets) and on the demo business's planted drivers.

Sources: ``telco-churn/README.md`` (IBM Telco Customer Churn, 7,043 customers, 1,869 churned,
Apache-2.0) and ``cdnow/README.md`` (CDNOW 1/10 sample, 2,357 customers of the Q1-1997 cohort,
Fader & Hardie). Full-size figures with every baseline are in ``docs/model-results.md``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retain.config import ChurnDefinition
from retain.features import family_of
from retain.models.churn import (
    ChurnClassifier,
    backtest,
    build_panel,
    data_window,
    feature_columns,
    reason_codes,
    reference_dates,
    repeated_cv,
)


def _telco(datasets: Path) -> tuple[pd.DataFrame, pd.Series]:
    df = pd.read_csv(datasets / "telco-churn" / "Telco-Customer-Churn.csv.gz")
    y = (df.pop("Churn") == "Yes").astype(int)
    df = df.drop(columns=["customerID"])
    # 11 customers with tenure 0 have TotalCharges " " (README, "Checks done").
    df["TotalCharges"] = pd.to_numeric(df["TotalCharges"].str.strip().replace("", np.nan))
    return df, y


@pytest.mark.slow
def test_telco_cross_validated_auc_is_in_the_honest_published_band(datasets: Path) -> None:
    """Honest published work lands at ROC AUC 0.84-0.85 (issue 7). With the linear base (the
    setting for a single snapshot of attributes) we got 0.850 in 1 x 5-fold (logistic 0.851;
    plain trees 0.847), calibration on the diagonal. Pinned at +-0.008."""
    X, y = _telco(datasets)
    assert len(X) == 7043 and int(y.sum()) == 1869
    estimator = ChurnClassifier(random_state=0, linear_base=True)
    result = repeated_cv(X, y, estimator=estimator, n_repeats=1, n_bootstrap=100)
    m = result.metrics.set_index("model")
    assert m.loc["model", "roc_auc"] == pytest.approx(0.850, abs=0.008)
    assert (
        m.loc["model", "roc_auc_low"] < m.loc["model", "roc_auc"] < m.loc["model", "roc_auc_high"]
    )
    assert abs(m.loc["model", "roc_auc"] - m.loc["logistic", "roc_auc"]) < 0.005
    assert m.loc["model", "brier"] == pytest.approx(0.1330, abs=0.004)
    cal = result.calibration[result.calibration["model"] == "model"]
    ece = float(((cal["mean_predicted"] - cal["observed"]).abs() * cal["n"]).sum() / cal["n"].sum())
    assert ece < 0.03


@pytest.mark.slow
def test_cdnow_sample_rolling_origins(datasets: Path) -> None:
    """CDNOW 1/10 sample, H = 90 days, 13 monthly dates 1997-04..1998-04, tested on the last 3.

    Measured: model 0.811, logistic 0.820, BG/NBD 0.813, recency 0.804 (ROC AUC). On this small
    sample the trees do not beat logistic regression or BG/NBD; they do beat the recency rule and
    are better calibrated than it (Brier 0.097 vs 0.104). Pinned at +-0.01.
    """
    raw = pd.read_csv(
        datasets / "cdnow" / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "amount"],
        dtype={"customer_id": str, "date": str},
    )
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(raw))],
            "customer_id": raw["customer_id"],
            "ordered_at": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "amount": raw["amount"].astype(float),
        }
    )
    tables = {"orders": orders}
    definition = ChurnDefinition(horizon_days=90)
    dates = reference_dates(data_window(tables), horizon_days=90)
    assert [d.date().isoformat() for d in (dates[0], dates[-1])] == ["1997-04-01", "1998-04-01"]
    panel, notes = build_panel(tables, definition=definition, dates=dates)
    assert notes == [] and "p_alive" in panel.columns
    result = backtest(panel, horizon_days=90, test_origins=3)
    m = result.metrics.set_index("model")["roc_auc"]
    assert m["model"] == pytest.approx(0.811, abs=0.01)
    assert m["logistic"] == pytest.approx(0.820, abs=0.01)
    assert m["bgnbd"] == pytest.approx(0.813, abs=0.01)
    assert m["recency"] == pytest.approx(0.804, abs=0.01)
    brier = result.metrics.set_index("model")["brier"]
    assert brier["model"] < brier["recency"]


DRIVER_FAMILY = {
    "unresolved_complaint": "complaints",
    "payment_failed": "payment",
    "usage_decline": "engagement",
    "no_contact": "contact",
}


@pytest.mark.slow
def test_demo_planted_drivers_come_out_as_reasons() -> None:
    """On the demo's subscription line (5,000 customers, seed 7), for customers on whom a driver
    was planted and in whom it is visible at the reference date, the planted driver is among
    their top 3 reasons far more often than for customers without it, and the event drivers'
    mean family contributions come out in the planted order (complaints x4 > payment x3 >
    contact x1.6). Usage is planted twice: its level follows the latent dropout rate
    (``usage_follows_dropout``), and a decline (x2.5) cuts it to 30%. So the engagement family
    must rise with the latent rate on subscribers without a decline, and ``usage down`` must
    single out the visible decliners; the family's total on them mixes both (a heavy user's
    decline is partly explained away by the level), so it is not ranked.

    Measured (last 6 dates): top-3 share 0.98 / 0.53 / 0.55 / 0.96 (without the driver
    0.00 / 0.00 / 0.07 / 0.05); mean family contribution 0.290 / 0.250 / - / 0.085 log-odds;
    correlation of the engagement family with the log dropout rate 0.32 (0.01 with usage
    independent of it). First reasons are often structural (a monthly plan's missing
    commitment, the plan, a recent start), which the demo's subscription structure makes true."""
    from retain.demo import generate

    business = generate(customers=5000, seed=7)
    assert business.truth.params["usage_follows_dropout"] > 0
    assert [d for d, _ in business.truth.drivers] == list(DRIVER_FAMILY)
    tables = {k: v for k, v in business.tables.items() if k != "order_lines"}
    definition = ChurnDefinition(name="subscription", kind="contractual", horizon_days=60)
    dates = reference_dates(data_window(tables), horizon_days=60)
    panel, _ = build_panel(tables, definition=definition, dates=dates)
    features = feature_columns(panel)
    model = ChurnClassifier(random_state=0).fit(
        panel[features], panel["churned"], time=panel["as_of"]
    )
    recent = panel[panel["as_of"] >= dates[-6]].reset_index(drop=True)
    truth = business.truth.customers[["customer_id", "drivers", "dropout_rate"]]
    recent = recent.merge(truth, on="customer_id")
    contrib = model.contributions(recent[features])
    fam = np.array([family_of(f) for f in features] + ["(bias)"])
    codes = reason_codes(contrib, recent[features])
    visible = {
        "unresolved_complaint": (
            recent["complaints_unresolved"] > 0,
            "reasons.complaints_unresolved",
        ),
        # A failed payment weighs for 60 days; the reason counts those (#17 item 2).
        "payment_failed": (recent["payment_failures_60d"] > 0, "reasons.payment_failed_60d"),
        "usage_decline": (recent["events_change_pct"] < -50, "reasons.usage_down"),
        "no_contact": (recent["days_since_contact"] > 120, "reasons.no_contact"),
    }
    planted_lists = recent["drivers"].fillna("").str.split(",")
    strength = {}
    for driver, family in DRIVER_FAMILY.items():
        shows, key = visible[driver]
        planted = planted_lists.apply(lambda names, d=driver: d in names).to_numpy()
        active = planted & shows.to_numpy()
        in_top = np.array([any(r.key == key for r in rs) for rs in codes])
        assert active.sum() > 50, driver
        assert in_top[active].mean() > 0.4, driver
        assert in_top[active].mean() > 4 * in_top[~planted].mean(), driver
        strength[driver] = contrib[active][:, fam == family].sum(axis=1).mean()
    # Usage level: the engagement family reads the latent rate where no decline was planted.
    no_decline = ~planted_lists.apply(lambda names: "usage_decline" in names).to_numpy()
    engagement = contrib[no_decline][:, fam == "engagement"].sum(axis=1)
    log_rate = np.log(recent.loc[no_decline, "dropout_rate"].to_numpy())
    assert np.corrcoef(engagement, log_rate)[0, 1] > 0.2
    values = [strength[d] for d in DRIVER_FAMILY if d != "usage_decline"]
    assert values == sorted(values, reverse=True), strength
    assert values[-1] > 0.02, strength
