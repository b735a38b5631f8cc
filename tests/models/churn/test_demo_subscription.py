"""The churn model on the demo's subscription line (contractual, H = 60 days), evaluated by time.

Measured on ``retain.demo.generate(customers=8000, seed=7)``, last 4 monthly reference dates as
test dates (4,143 test rows, 13.0% churn), 2026-11-23:

==========  =============  ============
model       before (AUC)   after (AUC)
==========  =============  ============
LightGBM    0.575          0.630
logistic    0.589          0.629
recency     0.536          0.536
==========  =============  ============

"Before" is the demo whose cancellation-page visit came 1.5 days (mean) before the cancellation,
so a monthly reference date almost never fell between the two, and without the 60-day payment
failure count; "after" has a lead of 10 days (mean, at most 28) and the features
``payment_failures_60d``, ``days_since_cancel_page_view`` and ``events_30d_change_pct``.
The model is level with logistic regression, not above it: on this line the planted drivers
are rare at any one date and act multiplicatively on an unobservable baseline hazard, a form
logistic regression fits as well as trees (see docs/model-results.md).
"""

from __future__ import annotations

from retain.config import ChurnDefinition
from retain.models.churn import train_model

SUBSCRIPTION = ChurnDefinition(name="subscription", kind="contractual", horizon_days=60)


def test_subscription_line_backtest_beats_the_recency_rule() -> None:
    from retain.demo import generate

    business = generate(customers=8000, seed=7)
    tables = {k: v for k, v in business.tables.items() if k != "order_lines"}
    trained = train_model(tables, definition=SUBSCRIPTION, test_origins=4)
    assert trained.backtest is not None
    auc = trained.backtest.metrics.set_index("model")["roc_auc"]
    # Measured 0.630 / 0.629 / 0.536 (before the fix: 0.575 / 0.589 / 0.536).
    assert auc["model"] > 0.61, auc.to_dict()
    assert auc["model"] > auc["recency"] + 0.06, auc.to_dict()
    assert auc["model"] > auc["logistic"] - 0.01, auc.to_dict()
    # The cancellation page is now an early signal the model uses.
    names = [f["name"] for f in trained.card["features"]]
    assert {"payment_failures_60d", "days_since_cancel_page_view"} <= set(names)
