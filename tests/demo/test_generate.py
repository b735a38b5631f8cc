"""The demo tables: deterministic, canonical, consistent, scalable, and written/read faithfully."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retain.demo import (
    CANCEL_REASONS,
    DRIVERS,
    LOAD_ORDER,
    DemoBusiness,
    generate,
    write_demo,
)
from retain.errors import InvalidParameterError
from retain.schema import FACT_TABLES

START = pd.Timestamp("2024-01-01")
END = pd.Timestamp("2026-01-01")

_PANDAS_KIND = {
    "string": "O",
    "json": "O",
    "timestamp": "M",
    "decimal": "f",
    "float": "f",
    "integer": "i",
    "boolean": "b",
}


def test_same_seed_gives_identical_frames() -> None:
    first, second = generate(customers=400, seed=3), generate(customers=400, seed=3)
    for name in LOAD_ORDER:
        pd.testing.assert_frame_equal(first.tables[name], second.tables[name])
    pd.testing.assert_frame_equal(first.truth.customers, second.truth.customers)
    pd.testing.assert_frame_equal(first.truth.campaigns, second.truth.campaigns)
    other = generate(customers=400, seed=4)
    assert not other.tables["orders"]["amount"].equals(first.tables["orders"]["amount"])


def test_every_table_has_exactly_the_canonical_columns_and_types(demo: DemoBusiness) -> None:
    assert set(demo.tables) == set(FACT_TABLES)
    for name, spec in FACT_TABLES.items():
        frame = demo.tables[name]
        assert tuple(frame.columns) == spec.column_names, name
        assert len(frame) > 0, name
        for col in spec.columns:
            assert frame[col.name].dtype.kind == _PANDAS_KIND[col.kind], (name, col.name)
            if col.required:
                assert frame[col.name].notna().all(), (name, col.name)
            if col.allowed:
                assert set(frame[col.name].dropna()) <= set(col.allowed), (name, col.name)
            if col.minimum is not None:
                assert (frame[col.name].dropna() >= col.minimum).all(), (name, col.name)
            if col.kind == "json":
                for text in frame[col.name].dropna().head(500):
                    assert isinstance(json.loads(text), dict)
            if col.kind == "timestamp":
                assert getattr(frame[col.name].dtype, "tz", None) is None


def test_keys_are_unique_and_references_resolve(demo: DemoBusiness) -> None:
    for name, spec in FACT_TABLES.items():
        frame = demo.tables[name]
        assert not frame.duplicated(list(spec.key)).any(), name
        for column, target in spec.references.items():
            keys = set(demo.tables[target][FACT_TABLES[target].key[0]])
            assert set(frame[column]) <= keys, (name, column)
    truth_ids = set(demo.truth.customers["customer_id"])
    assert truth_ids == set(demo.tables["customers"]["customer_id"])


def test_timestamps_fall_inside_the_window_and_after_acquisition(demo: DemoBusiness) -> None:
    acquired = demo.tables["customers"].set_index("customer_id")["acquired_at"]
    for name, spec in FACT_TABLES.items():
        frame = demo.tables[name]
        for col in spec.columns:
            if col.kind != "timestamp":
                continue
            values = frame[col.name].dropna()
            # A renewal date is known in advance: the one column allowed past the window's end.
            last = END + pd.Timedelta(days=366) if col.name == "contract_ends_at" else END
            assert (values >= START).all() and (values < last).all(), (name, col.name)
        if spec.time_column and "customer_id" in frame and name != "customers":
            since = frame[spec.time_column] - acquired.reindex(frame["customer_id"]).to_numpy()
            assert (since >= pd.Timedelta(0)).all(), name


def test_nothing_the_customer_does_happens_after_death(demo: DemoBusiness) -> None:
    """The tables come from the truth: a dead customer is silent (unless they came back).

    A subscriber's death is the decision to leave: they keep using what they paid for (sessions,
    e-mails opened) until the subscription ends, and an annual subscriber cancels the renewal
    after deciding; tickets, complaints, surveys and failed payments stop at the decision.
    """
    truth = demo.truth.customers.set_index("customer_id")
    once = truth["reactivated_at"].isna()
    gone = truth["death_at"].where(once)
    using = truth["subscription_ended_at"].fillna(truth["death_at"]).where(once)
    inter = demo.tables["interactions"]
    usage = inter["kind"].isin(["message_opened", "message_clicked"])
    voice = inter[~usage & ~inter["kind"].isin(["message_sent", "holdout"])]
    events = demo.tables["events"]
    for frame, column, end in (
        (demo.tables["orders"], "ordered_at", gone),
        (voice, "occurred_at", gone),
        (events[events["name"] == "payment_failed"], "occurred_at", gone),
        (events, "occurred_at", using),
        (inter[usage], "occurred_at", using),
    ):
        limit = end.reindex(frame["customer_id"]).to_numpy()
        after = frame[column].to_numpy() > limit
        assert not after.any(), frame.loc[after].head()
    # Subscribers do use the service between the decision and the end of the subscription.
    sessions = events[events["name"].isin(["login", "app_session"])]
    death = gone.reindex(sessions["customer_id"]).to_numpy()
    assert (sessions["occurred_at"].to_numpy() > death).sum() > 100
    views = events[events["name"] == "cancel_page_view"]
    late = views[views["occurred_at"].to_numpy() > gone.reindex(views["customer_id"]).to_numpy()]
    subs = demo.tables["subscriptions"]
    annual = set(subs.loc[subs["billing_period"] == "year", "customer_id"])
    assert len(late) > 10 and set(late["customer_id"]) <= annual


def test_shop_customers_order_first_at_acquisition(demo: DemoBusiness) -> None:
    truth = demo.truth.customers
    shop = set(truth.loc[truth["line"] == "shop", "customer_id"])
    orders = demo.tables["orders"]
    assert set(orders["customer_id"]) == shop
    first = orders.groupby("customer_id")["ordered_at"].min()
    acquired = demo.tables["customers"].set_index("customer_id")["acquired_at"]
    assert (first == acquired.reindex(first.index)).all()
    lines = demo.tables["order_lines"]
    gross = (lines["quantity"] * lines["unit_price"]).groupby(lines["order_id"]).sum()
    o = orders.set_index("order_id")
    np.testing.assert_allclose(
        o["amount"] + o["discount_amount"], gross.reindex(o.index), atol=0.011
    )


def test_customers_are_consistent_by_country() -> None:
    customers = generate(customers=600, seed=2).tables["customers"]
    zones = {"JP": {"Asia/Tokyo"}, "KR": {"Asia/Seoul"}}
    for country, language in (("JP", "ja"), ("KR", "ko"), ("US", "en")):
        mine = customers[customers["country"] == country]
        assert len(mine) > 50
        assert (mine["language"] == language).all()
        if country in zones:
            assert set(mine["time_zone"]) == zones[country]
        else:
            assert set(mine["time_zone"]) <= {
                "America/New_York",
                "America/Chicago",
                "America/Los_Angeles",
            }
    assert customers["email"].str.fullmatch(r"user\d+@example\.com").all()
    assert (
        customers["phone"].str.fullmatch(r"\+(81-90|82-10)-\d{4}-\d{4}|\+1-\d{3}-555-01\d{2}").all()
    )


def test_subscriptions_use_the_cancel_vocabulary_and_plans(demo: DemoBusiness) -> None:
    subs = demo.tables["subscriptions"]
    assert set(subs["cancel_reason"].dropna()) <= set(CANCEL_REASONS)
    assert len(set(subs["cancel_reason"].dropna())) == len(CANCEL_REASONS)
    assert (subs["ended_at"].isna() | (subs["ended_at"] >= subs["started_at"])).all()
    assert subs["cancel_reason"].isna()[subs["ended_at"].isna()].all()
    assert set(subs["billing_period"]) == {"month", "year"}
    # Upgrades and downgrades: the same customer changes plan at one instant.
    nxt = subs.sort_values("started_at").groupby("customer_id").shift(-1)
    changed = subs["ended_at"].notna() & subs["cancel_reason"].isna()
    assert changed.sum() > 20
    assert (nxt.loc[changed, "started_at"] == subs.loc[changed, "ended_at"]).all()
    assert (nxt.loc[changed, "plan"] != subs.loc[changed, "plan"]).all()
    # Reactivations: a new row after a cancellation.
    assert demo.truth.customers["reactivated_at"].notna().sum() > 5


def test_event_volume_is_moderate(demo: DemoBusiness) -> None:
    events = demo.tables["events"]
    per_customer = len(events) / len(demo.tables["customers"])
    assert 10 < per_customer < 100
    assert set(events["channel"]) == {"web", "app", "email", "store"}
    assert {"login", "page_view", "app_session", "cancel_page_view", "payment_failed"} <= set(
        events["name"]
    )
    kinds = set(demo.tables["interactions"]["kind"])
    assert {
        "message_sent",
        "message_opened",
        "message_clicked",
        "ticket_opened",
        "ticket_resolved",
        "complaint",
        "survey_answer",
        "holdout",
    } <= kinds


def test_customers_option_scales_every_table() -> None:
    small, large = generate(customers=1_000, seed=5), generate(customers=2_000, seed=5)
    for name in LOAD_ORDER:
        ratio = len(large.tables[name]) / len(small.tables[name])
        assert 1.6 < ratio < 2.4, (name, ratio)
    assert len(large.truth.customers) == 2_000


def test_truth_has_the_contract_shape(demo: DemoBusiness) -> None:
    truth = demo.truth
    assert truth.drivers == [
        ("unresolved_complaint", 4.0),
        ("payment_failed", 3.0),
        ("usage_decline", 2.5),
        ("no_contact", 1.6),
    ]
    assert truth.drivers == list(DRIVERS)
    c = truth.customers
    assert {
        "customer_id",
        "line",
        "death_at",
        "alive_at_end",
        "drivers",
        "paying_started_at",
        "subscription_ended_at",
    } <= set(c.columns)
    shop = c["line"] == "shop"
    assert c.loc[shop, ["paying_started_at", "subscription_ended_at"]].isna().all().all()
    # A subscription ends after the decision to leave, never before it.
    ended = c["subscription_ended_at"].notna()
    assert (c.loc[ended, "subscription_ended_at"] >= c.loc[ended, "death_at"]).all()
    assert c["subscription_ended_at"].notna().sum() > 100
    assert set(c["line"]) == {"shop", "subscription"}
    assert (
        c["alive_at_end"]
        == (
            c["death_at"].isna() | (c["reactivated_at"].notna() & c["reactivation_ended_at"].isna())
        )
    ).all()
    names = {name for name, _ in DRIVERS}
    for value in c["drivers"]:
        assert not value or set(value.split(",")) <= names
    assert {
        "campaign_id",
        "started_at",
        "channel",
        "offer",
        "n_treatment",
        "n_holdout",
        "true_effect",
    } <= set(truth.campaigns.columns)
    assert (truth.campaigns["n_holdout"] > 0).all()
    assert truth.params["shop_r"] > 0 and truth.params["end"] == "2026-01-01"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_then_read_gives_the_same_tables(tmp_path: Path, fmt: str) -> None:
    business = generate(customers=300, seed=11)
    paths = business.write(tmp_path, format=fmt)  # type: ignore[arg-type]
    names = {p.name for p in paths}
    assert {f"{t}.{fmt}" for t in LOAD_ORDER} <= names
    assert {
        "truth_customers.csv",
        "truth_drivers.csv",
        "truth_campaigns.csv",
        "truth_params.json",
    } <= names
    for name in LOAD_ORDER:
        path = tmp_path / f"{name}.{fmt}"
        back = (
            pd.read_parquet(path)
            if fmt == "parquet"
            else pd.read_csv(path, keep_default_na=False, na_values=[""])
        )
        assert list(back.columns) == list(business.tables[name].columns)
        assert len(back) == len(business.tables[name])
        key = FACT_TABLES[name].key[0]
        assert list(back[key].astype(str)) == list(business.tables[name][key].astype(str))
    drivers = pd.read_csv(tmp_path / "truth_drivers.csv")
    assert list(drivers["name"]) == [n for n, _ in DRIVERS]
    params = json.loads((tmp_path / "truth_params.json").read_text(encoding="utf-8"))
    assert params["seed"] == 11 and params["customers"] == 300
    if fmt == "csv":
        assert (tmp_path / "orders.csv").read_text(encoding="utf-8").startswith('"order_id",')


def test_streamed_files_equal_the_in_memory_business(tmp_path: Path) -> None:
    """write_demo (chunk by chunk) and generate(...).write produce the same data."""
    summary = write_demo(tmp_path / "streamed", customers=500, seed=9)
    generate(customers=500, seed=9).write(tmp_path / "memory")
    for name in [*LOAD_ORDER, "truth_customers", "truth_campaigns"]:
        a = (tmp_path / "streamed" / f"{name}.csv").read_bytes()
        b = (tmp_path / "memory" / f"{name}.csv").read_bytes()
        assert a == b, name
    assert summary.rows["customers"] == 500
    assert summary.customers_alive + summary.customers_churned == 500


def test_chunks_keep_ids_unique(monkeypatch: pytest.MonkeyPatch) -> None:
    gen = importlib.import_module("retain.demo.generate")
    monkeypatch.setattr(gen, "CHUNK_CUSTOMERS", 250)
    business = generate(customers=600, seed=1)
    for name, spec in FACT_TABLES.items():
        assert not business.tables[name].duplicated(list(spec.key)).any(), name
    assert business.tables["customers"]["customer_id"].tolist()[-1] == "C600"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"customers": 0}, "customers must be a whole number from 1"),
        ({"customers": 2.5}, "customers must be a whole number"),
        ({"seed": -1}, "seed must be a whole number >= 0"),
        ({"months": 0}, "months must be a whole number from 1 to 120"),
        ({"start": "2024-13-01"}, "start must be a date like 2024-01-01; got 2024-13-01"),
        ({"start": "2030-01-01"}, "ends after today"),
    ],
)
def test_bad_parameters_are_refused_with_a_hint(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        generate(**kwargs)  # type: ignore[arg-type]
    assert needle in info.value.message
    assert info.value.hint


def test_bad_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="format must be 'csv' or 'parquet'; got xlsx"):
        generate(customers=50).write(tmp_path, format="xlsx")  # type: ignore[arg-type]
