"""Reason codes: grouped TreeSHAP contributions -> message keys with parameters, in en/ja/ko."""

from __future__ import annotations

import json
import string
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retain.errors import InvalidParameterError
from retain.i18n import catalog, t
from retain.models.churn import Reason, reason_codes, reasons_json
from retain.models.churn.reasons import reasons_json_array, reasons_json_column

COLUMNS = [
    "orders_90d",
    "orders_prev_90d",
    "orders_change_pct",
    "complaints_unresolved",
    "oldest_open_ticket_days",
    "days_since_contact",
    "payment_failures_90d",
    "days_since_payment_failure",
    "country",
]


def _row(**values: object) -> pd.DataFrame:
    base: dict[str, object] = dict.fromkeys(COLUMNS, np.nan)
    base.update(country="JP")
    base.update(values)
    return pd.DataFrame([base], columns=COLUMNS)


def _contrib(**by_feature: float) -> np.ndarray:
    out = np.zeros((1, len(COLUMNS) + 1))
    for name, value in by_feature.items():
        out[0, COLUMNS.index(name)] = value
    out[0, -1] = -1.5  # the bias never becomes a reason
    return out


def test_families_are_summed_and_ranked() -> None:
    row = _row(
        orders_90d=2,
        orders_prev_90d=5,
        orders_change_pct=-60.0,
        complaints_unresolved=2,
        oldest_open_ticket_days=9.4,
        days_since_contact=120.0,
    )
    # orders: 0.2 + 0.3 = 0.5 beats complaints 0.45 alone, which beats contact 0.3.
    contrib = _contrib(
        orders_90d=0.2,
        orders_change_pct=0.3,
        complaints_unresolved=0.45,
        days_since_contact=0.3,
        country=-0.2,
    )
    (reasons,) = reason_codes(contrib, row)
    assert [r.key for r in reasons] == [
        "reasons.orders_down",
        "reasons.complaints_unresolved",
        "reasons.no_contact",
    ]
    assert reasons[0].params == {"pct": 60}
    assert reasons[0].contribution == pytest.approx(0.5)
    assert reasons[1].params == {"n": 2, "days": 9}
    assert reasons[0].render("en") == "orders down 60% vs the previous 90 days"
    assert reasons[1].render("en") == "2 complaint(s) unresolved, the oldest for 9 days"
    assert reasons[2].render("en") == "no contact from us in 120 days"
    assert reasons[0].render("ja") == "注文数が前の 90 日間より 60% 減少"
    assert reasons[2].render("ko") == "120일 동안 당사에서 연락하지 않음"


def test_a_reason_that_the_values_contradict_is_skipped() -> None:
    """Orders push the risk up but rose: no "orders down" sentence; the next family wins."""
    row = _row(
        orders_90d=6,
        orders_prev_90d=3,
        orders_change_pct=100.0,
        payment_failures_90d=1,
        days_since_payment_failure=12.0,
    )
    contrib = _contrib(orders_change_pct=0.9, payment_failures_90d=0.4)
    (reasons,) = reason_codes(contrib, row)
    assert [r.key for r in reasons] == ["reasons.payment_failed"]
    assert (
        reasons[0].render("en") == "1 failed payment(s) in the last 90 days, the latest 12 days ago"
    )


ORDER_COLUMNS = ["orders_total", "orders_90d", "days_since_last_order", "mean_days_between_orders"]


@pytest.mark.parametrize(
    ("total", "gap", "want"),
    [
        (
            5.0,
            40.0,
            [
                "last order 480 days ago; usually orders every 40 days",
                "no order in the last 90 days, after 5 orders before",
            ],
        ),
        (1.0, np.nan, ["last order 480 days ago", "only one order so far"]),
    ],
)
def test_orders_and_recency_reasons_say_different_things(
    total: float, gap: float, want: list[str]
) -> None:
    """A customer silent for 480 days: the recency reason says when the last order was, the
    orders reason what stopped (CDNOW's customers got "last order 480 days ago" and "no order
    in the last 90 days (last one 480 days ago)", the same fact twice)."""
    row = pd.DataFrame([[total, 0.0, 480.0, gap]], columns=ORDER_COLUMNS)
    contrib = np.array([[0.1, 0.2, 0.9, 0.1, -1.0]])  # recency 1.0, orders 0.3
    (reasons,) = reason_codes(contrib, row)
    assert [r.render("en") for r in reasons] == want
    assert reasons_json(reasons) == reasons_json_array(contrib, row)[0].as_py()
    assert "480" not in reasons[1].render("ja") and "480" not in reasons[1].render("ko")


def test_only_risk_raising_families_become_reasons_and_top_limits() -> None:
    row = _row(complaints_unresolved=1, oldest_open_ticket_days=3.0, days_since_contact=45.0)
    contrib = _contrib(complaints_unresolved=-0.4, days_since_contact=0.1, country=0.05)
    (reasons,) = reason_codes(contrib, row, top=1)
    assert [r.key for r in reasons] == ["reasons.no_contact"]
    (reasons,) = reason_codes(contrib, row, top=3)
    assert [r.key for r in reasons] == ["reasons.no_contact", "reasons.country"]
    assert reasons[1].render("ja") == "国: JP"
    (reasons,) = reason_codes(contrib, row, min_contribution=0.2)
    assert reasons == []


def test_features_outside_the_catalog_are_named() -> None:
    frame = pd.DataFrame({"Contract": ["Month-to-month"], "tenure": [2.0]})
    contrib = np.array([[0.7, 0.2, -1.0]])
    (reasons,) = reason_codes(contrib, frame)
    # a feature with no label reads humanised (#17: no raw keys)
    assert [r.render("en") for r in reasons] == ["Contract: Month-to-month", "Tenure: 2"]


def test_customer_attributes_are_named_by_their_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RETAIN_CONFIG", raising=False)
    frame = pd.DataFrame(
        {"attr_会員_ランク": ["ゴールド"], "attr_MonthlyCharges": [70.355], "attr_tenure": [3.0]}
    )
    contrib = np.array([[0.9, 0.5, 0.2, -1.0]])
    (reasons,) = reason_codes(contrib, frame)
    assert [r.key for r in reasons] == ["reasons.attribute"] * 3
    # Keys without a label read humanised: a business of its own named MonthlyCharges is not
    # given IBM Telco's "Monthly charge (USD)", which may not be its currency.
    assert [r.render("ja") for r in reasons] == [
        "会員 ランク: ゴールド",
        "Monthly charges: 70.36",
        "Tenure: 3",
    ]
    # Once the Telco recipe has loaded this project's data, its labels apply here.
    (tmp_path / ".retain").mkdir()
    (tmp_path / ".retain" / "recipes").write_text("telco\n", encoding="utf-8")
    assert [r.render("ja") for r in reasons] == [
        "会員 ランク: ゴールド",
        "月額料金（USD）: 70.36",
        "契約月数: 3",
    ]
    assert reasons_json_column(contrib, frame) == [reasons_json(reasons)]
    # With the model card's column -> key map, the key exactly as the business wrote it.
    labels = {"attr_会員_ランク": "会員 ランク"}
    (named,) = reason_codes(contrib, frame, labels=labels)
    assert named[0].render("en") == "会員 ランク: ゴールド"
    assert reasons_json_column(contrib, frame, labels=labels) == [reasons_json(named)]


def test_json_form_is_the_churn_scores_contract() -> None:
    text = reasons_json([Reason("reasons.no_contact", {"days": 120}, 0.123456)])
    assert json.loads(text) == [
        {"key": "reasons.no_contact", "params": {"days": 120}, "contribution": 0.1235}
    ]
    assert reasons_json([]) == "[]"


def test_shape_mismatch_is_a_clear_error() -> None:
    with pytest.raises(InvalidParameterError, match="expected \\(1, 10\\)"):
        reason_codes(np.zeros((1, 3)), _row())


def test_every_reason_key_renders_in_every_language() -> None:
    keys = [k for k in catalog("en") if k.startswith("reasons.")]
    assert len(keys) >= 30
    for key in keys:
        fields = {f for _, f, _, _ in string.Formatter().parse(catalog("en")[key]) if f}
        params = dict.fromkeys(fields, 7)
        for lang in ("en", "ja", "ko"):
            text = t(key, lang=lang, **params)
            assert "{" not in text and text != key, (key, lang)


def _wide_fixture(n: int, seed: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Every catalog feature plus ``p_alive`` and features outside the catalog, with values
    drawn to reach every branch of every rule (zero, negative, missing, thresholds)."""
    from retain.features import FEATURES

    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    choices = np.array([np.nan, 0.0, 1.0, 2.0, -60.0, 29.5, 30.0, 179.0, 180.0, 250.4, 0.35, 2.5])
    for f in FEATURES:
        if f.name == "plan":
            cols[f.name] = rng.choice(np.array(["basic", "", None, "pro"], dtype=object), n)
        elif f.name == "billing_period":
            cols[f.name] = rng.choice(np.array(["month", "year", None], dtype=object), n)
        elif f.name in ("country", "language", "acquisition_channel"):
            cols[f.name] = rng.choice(np.array(["JP", "한국", None, "US"], dtype=object), n)
        else:
            cols[f.name] = rng.choice(choices, n)
    cols["p_alive"] = np.where(rng.random(n) < 0.2, np.nan, rng.random(n))
    cols["Contract"] = rng.choice(np.array(["Month-to-month", "Two year", None], dtype=object), n)
    cols["seats"] = rng.integers(0, 5, n)
    cols["flag"] = rng.random(n) < 0.5
    cols["ratio"] = np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n))
    frame = pd.DataFrame(cols)
    # One decimal: many exact ties between families, which both paths must order the same way.
    contrib = np.round(rng.normal(0.0, 0.3, (n, frame.shape[1] + 1)), 1)
    return contrib, frame


@pytest.mark.parametrize(("top", "min_contribution"), [(3, 0.0), (1, 0.0), (5, 0.25), (0, 0.0)])
def test_vectorised_reasons_equal_the_per_row_reasons(top: int, min_contribution: float) -> None:
    contrib, frame = _wide_fixture(3000, seed=top)
    expected = [
        reasons_json(r)
        for r in reason_codes(contrib, frame, top=top, min_contribution=min_contribution)
    ]
    got = reasons_json_column(contrib, frame, top=top, min_contribution=min_contribution)
    assert got == expected
    # The fixture does exercise the rules: most keys of the catalog appear.
    keys = {item["key"] for text in got for item in json.loads(text)}
    if top >= 3:
        assert len(keys) >= 25


def test_vectorised_reasons_on_a_subset_of_columns_and_no_rows() -> None:
    contrib, frame = _wide_fixture(500, seed=7)
    keep = ["orders_90d", "orders_total", "days_since_last_order", "country", "ratio"]
    sub = frame[keep]
    c = np.column_stack([contrib[:, : len(keep)], contrib[:, -1]])
    assert reasons_json_column(c, sub) == [reasons_json(r) for r in reason_codes(c, sub)]
    assert reasons_json_column(c[:0], sub.iloc[:0]) == []
    with pytest.raises(InvalidParameterError):
        reasons_json_column(c[:, :-1], sub)


def _per_row(contrib: np.ndarray, frame: pd.DataFrame, **kw: object) -> list[str]:
    return [reasons_json(r) for r in reason_codes(contrib, frame, **kw)]  # type: ignore[arg-type]


def test_the_array_is_an_arrow_string_column() -> None:
    contrib, frame = _wide_fixture(200, seed=11)
    array = reasons_json_array(contrib, frame)
    assert isinstance(array, pa.StringArray)
    assert array.null_count == 0
    assert array.to_pylist() == _per_row(contrib, frame)
    assert reasons_json_array(contrib[:0], frame.iloc[:0]).to_pylist() == []


def test_contributions_are_written_as_python_rounds_them() -> None:
    """Halfway cases, tiny and negative values, negative zero, huge and non-finite sums."""
    values = [0.03125, 5e-05, -5e-05, 0.00015, 2.5e-4, 1e-300, -0.0, 0.0, 2.0, -3.99995, 0.1235]
    values += [999999999.99995, 1e9, 1.5e20, np.inf, -np.inf, np.nan, 123.45675, 7e-5, 0.00014999]
    frame = pd.DataFrame({"Contract": ["Two year"] * len(values), "tenure": [1.0] * len(values)})
    contrib = np.zeros((len(values), 3))
    contrib[:, 0] = values
    for floor in (0.0, -np.inf, -1e30):
        got = reasons_json_column(contrib, frame, min_contribution=floor)
        assert got == _per_row(contrib, frame, min_contribution=floor)
    assert json.loads(got[0])[0]["contribution"] == round(0.03125, 4)


_TEXTS = st.sampled_from(["JP", "한국", 'say "hi"', "back\\slash", "", "x\ny", "é"])
_NUMBERS = st.sampled_from([np.nan, 0.0, -0.0, 1.0, -1.0, 2.5, -60.0, 30.0, 179.5, 0.125, 1e-3])
_CONTRIBUTIONS = st.sampled_from(
    [0.0, -0.0, 0.1, 0.1, 0.2, -0.3, 5e-05, 0.00015, 0.3, np.nan, np.inf, -np.inf, 1e12, 0.7]
)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf + -inf in the sums
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 6),
    data=st.data(),
    top=st.integers(0, 4),
    floor=st.sampled_from([0.0, -1.0, 0.15, float("-inf")]),
)
def test_vectorised_reasons_equal_per_row_on_edge_values(
    n: int, data: st.DataObject, top: int, floor: float
) -> None:
    """NaN, negative zero, ties, non-finite contributions, quotes and non-ASCII in strings."""
    frame = pd.DataFrame(
        {
            "orders_90d": data.draw(st.lists(_NUMBERS, min_size=n, max_size=n)),
            "orders_total": data.draw(st.lists(_NUMBERS, min_size=n, max_size=n)),
            "orders_change_pct": data.draw(st.lists(_NUMBERS, min_size=n, max_size=n)),
            "days_since_last_order": data.draw(st.lists(_NUMBERS, min_size=n, max_size=n)),
            "plan": data.draw(st.lists(st.one_of(_TEXTS, st.none()), min_size=n, max_size=n)),
            "billing_period": data.draw(
                st.lists(st.sampled_from(["year", "month", None]), min_size=n, max_size=n)
            ),
            "days_to_renewal": data.draw(st.lists(_NUMBERS, min_size=n, max_size=n)),
            "country": data.draw(st.lists(st.one_of(_TEXTS, st.none()), min_size=n, max_size=n)),
            "language": data.draw(
                st.lists(st.one_of(_TEXTS, st.just(1.0), st.none()), min_size=n, max_size=n)
            ),
            "ratio": data.draw(st.lists(_NUMBERS, min_size=n, max_size=n)),
            "seats": data.draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n)),
        }
    )
    width = frame.shape[1] + 1
    contrib = np.array(
        data.draw(st.lists(_CONTRIBUTIONS, min_size=n * width, max_size=n * width)), dtype=float
    ).reshape(n, width)
    got = reasons_json_column(contrib, frame, top=top, min_contribution=floor)
    assert got == _per_row(contrib, frame, top=top, min_contribution=floor)


def test_family_groups_share_a_column_only_where_the_sum_is_all_that_counts() -> None:
    from retain.models.churn.reasons import family_groups

    names = ["orders_90d", "country", "orders_total", "attr_tier", "language", "revenue_90d"]
    groups = family_groups(names)
    # orders share one column; each profile column and the attribute keep their own.
    assert groups.tolist() == [0, 1, 0, 2, 3, 4]


@pytest.mark.parametrize("top", [1, 3, 5])
def test_reasons_from_family_summed_contributions_equal_the_per_feature_ones(top: int) -> None:
    from retain.models.churn._contributions import grouped as _grouped
    from retain.models.churn.reasons import family_groups

    _, frame = _wide_fixture(3000, seed=20 + top)
    rng = np.random.default_rng(top)
    contrib = rng.normal(0.0, 0.3, (len(frame), frame.shape[1] + 1))  # no exact ties
    contrib[rng.random(contrib.shape) < 0.01] = np.nan
    groups = family_groups(list(frame.columns))
    assert groups.max() + 1 < frame.shape[1]  # columns were shared
    summed = _grouped(contrib, groups)
    got = reasons_json_array(summed, frame, top=top, groups=groups).to_pylist()
    assert got == _per_row(contrib, frame, top=top)


def test_groups_that_mix_families_or_do_not_fit_are_refused() -> None:
    contrib, frame = _wide_fixture(20, seed=3)
    sub = frame[["orders_90d", "revenue_90d", "country"]]
    mixed = np.array([0, 0, 1])
    with pytest.raises(InvalidParameterError, match="shared with another family"):
        reasons_json_array(contrib[:, :3], sub, groups=mixed)
    with pytest.raises(InvalidParameterError, match="contribution"):
        reasons_json_array(contrib[:, :5], sub, groups=np.array([0, 1, 2]))


def test_a_customer_no_family_explains_is_given_the_base_rate() -> None:
    """The floor removed every family, yet the risk is high: say that most such customers leave."""
    frame = pd.DataFrame(
        {"orders_total": [1.0, 1.0, 1.0], "tenure_days": [400.0, np.nan, 400.0]},
    )
    # Log-odds 2.0 (88 %), 2.0 without a tenure, and -1.0 (27 %: "most ... leave" would be false).
    contrib = np.array([[0.1, 0.1, 1.8], [0.1, 0.1, 1.8], [0.1, 0.1, -1.2]])
    per_row = reason_codes(contrib, frame, min_contribution=0.2)
    assert [[r.key for r in rs] for rs in per_row] == [
        ["reasons.base_rate_tenure"],
        ["reasons.base_rate"],
        [],
    ]
    assert per_row[0][0].params == {"pct": 88, "days": 400}
    assert per_row[0][0].contribution == pytest.approx(1.8)  # the model's base rate
    assert reasons_json_column(contrib, frame, min_contribution=0.2) == [
        reasons_json(r) for r in per_row
    ]
    assert per_row[0][0].render("en") == (
        "most customers like this one leave: 88% of customers with this history churned"
        " (a customer for 400 days)"
    )
    for lang in ("ja", "ko"):
        assert "88" in per_row[1][0].render(lang) and "400" in per_row[0][0].render(lang)
    # A family over the floor is a reason; the base rate is only for rows left without one.
    (reasons,) = reason_codes(contrib[:1], frame[:1], min_contribution=0.05)
    assert [r.key for r in reasons] == ["reasons.single_order"]


def test_the_payment_reason_reads_the_60_day_failures() -> None:
    """The demo plants failures that weigh for 60 days; the reason counts those."""
    frame = pd.DataFrame(
        {
            "payment_failures_60d": [2.0, 0.0],
            "payment_failures_90d": [3.0, 1.0],
            "days_since_payment_failure": [12.0, 75.0],
        }
    )
    contrib = np.array([[0.5, 0.2, 0.1, -3.0], [0.5, 0.2, 0.1, -3.0]])
    (recent,), (older,) = reason_codes(contrib, frame)
    assert (recent.key, recent.params) == ("reasons.payment_failed_60d", {"n": 2, "days": 12})
    assert recent.render("en") == "2 failed payment(s) in the last 60 days, the latest 12 days ago"
    assert (older.key, older.params) == ("reasons.payment_failed", {"n": 1, "days": 75})
    assert reasons_json_column(contrib, frame) == [reasons_json([recent]), reasons_json([older])]


def test_basket_size_is_a_reason() -> None:
    frame = pd.DataFrame(
        {"units_per_order": [1.2], "units_90d": [0.0], "largest_order_units": [2.0]}
    )
    (reasons,) = reason_codes(np.array([[0.3, 0.2, 0.0, -2.0]]), frame)
    assert [(r.key, r.params) for r in reasons] == [
        ("reasons.basket_units", {"units": 1, "largest": 2})
    ]
    assert "2" in reasons[0].render("ja") and "2" in reasons[0].render("ko")
