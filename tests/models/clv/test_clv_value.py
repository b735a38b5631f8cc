"""customer_lifetime_value: discounted expected margin, monthly discounting, settings defaults."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retain.config import Settings
from retain.errors import InvalidParameterError
from retain.models.clv import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ParetoNBDModel,
    customer_lifetime_value,
    monthly_discount_rate,
)

MONTH_WEEKS = 365.25 / 12 / 7


@pytest.fixture
def fitted(cdnow_spend: pd.DataFrame) -> tuple[BetaGeoModel, GammaGammaModel]:
    return BetaGeoModel().fit(cdnow_spend), GammaGammaModel().fit(cdnow_spend)


def test_one_month_without_discount_is_margin_times_spend_times_purchases(
    fitted: tuple[BetaGeoModel, GammaGammaModel], cdnow_spend: pd.DataFrame
) -> None:
    bg, gg = fitted
    out = customer_lifetime_value(
        bg,
        gg,
        cdnow_spend,
        horizon_months=1,
        margin=0.25,
        annual_discount_rate=0.0,
        time_unit="week",
    )
    purchases = bg.conditional_expected_purchases(MONTH_WEEKS, cdnow_spend).to_numpy()
    spend = gg.expected_customer_spend(cdnow_spend).to_numpy()
    assert out["clv"].to_numpy() == pytest.approx(0.25 * spend * purchases, rel=1e-12)
    assert out["expected_purchases"].to_numpy() == pytest.approx(purchases, rel=1e-12)
    assert list(out["customer_id"][:2]) == ["1", "2"]


def test_discounting_is_monthly_and_compounds_to_the_annual_rate(
    fitted: tuple[BetaGeoModel, GammaGammaModel], cdnow_spend: pd.DataFrame
) -> None:
    assert (1 + monthly_discount_rate(0.1)) ** 12 == pytest.approx(1.1)
    bg, gg = fitted
    head = cdnow_spend.head(5)
    kwargs = {"horizon_months": 12, "margin": 1.0, "time_unit": "week"}
    flat = customer_lifetime_value(bg, gg, head, annual_discount_rate=0.0, **kwargs)
    disc = customer_lifetime_value(bg, gg, head, annual_discount_rate=0.1, **kwargs)
    # By hand: month-by-month increments discounted at (1.1)^(i/12).
    cum = np.array(
        [bg.conditional_expected_purchases(i * MONTH_WEEKS, head).to_numpy() for i in range(13)]
    )
    by_hand = (np.diff(cum, axis=0) / 1.1 ** (np.arange(1, 13) / 12)[:, None]).sum(axis=0)
    spend = gg.expected_customer_spend(head).to_numpy()
    assert disc["clv"].to_numpy() == pytest.approx(by_hand * spend, rel=1e-10)
    assert (disc["clv"] < flat["clv"]).all()


def test_defaults_come_from_settings(
    fitted: tuple[BetaGeoModel, GammaGammaModel], cdnow_spend: pd.DataFrame
) -> None:
    bg, gg = fitted
    conf = Settings(clv={"margin": 0.5, "horizon_months": 3, "annual_discount_rate": 0.0})
    out = customer_lifetime_value(bg, gg, cdnow_spend.head(3), settings=conf)
    same = customer_lifetime_value(
        bg,
        gg,
        cdnow_spend.head(3),
        horizon_months=3,
        margin=0.5,
        annual_discount_rate=0.0,
        time_unit="week",
    )
    pd.testing.assert_frame_equal(out, same)


def test_pareto_nbd_works_too(cdnow_spend: pd.DataFrame) -> None:
    out = customer_lifetime_value(
        ParetoNBDModel().fit(cdnow_spend),
        GammaGammaModel().fit(cdnow_spend),
        cdnow_spend.head(3),
        horizon_months=6,
        margin=0.3,
        annual_discount_rate=0.1,
        time_unit="week",
    )
    assert (out["clv"] > 0).all()


def test_bad_arguments(
    fitted: tuple[BetaGeoModel, GammaGammaModel], cdnow_spend: pd.DataFrame, donations: pd.DataFrame
) -> None:
    bg, gg = fitted
    with pytest.raises(InvalidParameterError, match="horizon_months must be at least 1"):
        customer_lifetime_value(
            bg,
            gg,
            cdnow_spend,
            horizon_months=0,
            margin=0.3,
            annual_discount_rate=0.1,
            time_unit="week",
        )
    with pytest.raises(InvalidParameterError, match="margin must be in"):
        customer_lifetime_value(
            bg,
            gg,
            cdnow_spend,
            horizon_months=1,
            margin=1.5,
            annual_discount_rate=0.1,
            time_unit="week",
        )
    with pytest.raises(InvalidParameterError, match="BetaGeoModel or ParetoNBDModel"):
        customer_lifetime_value(
            BetaGeoBetaBinomModel().fit(donations),
            gg,
            cdnow_spend,
            horizon_months=1,
            margin=0.3,
            annual_discount_rate=0.1,
            time_unit="week",
        )
