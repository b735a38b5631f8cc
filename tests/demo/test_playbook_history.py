"""The demo's past playbook runs: decided by retain's engine, with a known planted effect.

The 3,000-customer demo (seed 7) is loaded into a DuckDB file and its history planted as
``retain demo`` does; ``retain.engage.results`` must then find each playbook's planted effect
inside its 95 % interval, the treated arm must show the planted ``y1`` and the holdout ``y0``
exactly, and the recorded sends must obey the guardrails the engine applied.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

import retain.warehouse as wh
from retain.cli._demo_playbooks import PlaybookHistory, plant_playbook_history
from retain.config import get_settings
from retain.demo import DemoBusiness, DemoParameters
from retain.demo._playbooks import induced_orders, playbook_run_dates, playbook_truth
from retain.engage.holdout import in_holdout
from retain.engage.playbooks import shipped_playbooks
from retain.engage.results import playbook_results
from retain.features import Sources

START = dt.datetime(2024, 1, 1)


@pytest.fixture(scope="module")
def planted(
    demo: DemoBusiness, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[PlaybookHistory, object, Path]]:
    """The shared demo loaded into a fresh warehouse, with its playbook history planted."""
    folder = tmp_path_factory.mktemp("history")
    config = folder / "retain.toml"
    config.write_text(
        f'database_url = "sqlite:///{folder / "app.db"}"\n'
        f'warehouse_url = "duckdb:///{folder / "w.duckdb"}"\n'
    )
    settings = get_settings(config)
    con = wh.connect(settings=settings)
    demo.load(con, settings=settings)
    history = plant_playbook_history(con, settings, seed=7, start=START, months=24, folder=folder)
    try:
        yield history, con, folder
    finally:
        con.disconnect()


def test_run_dates_leave_room_for_the_window() -> None:
    params = DemoParameters()
    assert playbook_run_dates(params, START, 24) == [
        dt.datetime(2024, 7, 20, 1),
        dt.datetime(2025, 3, 20, 1),
        dt.datetime(2025, 10, 20, 1),
    ]
    assert playbook_run_dates(params, START, 12) == [dt.datetime(2024, 7, 20, 1)]
    assert playbook_run_dates(params, START, 8) == []  # 2024-07-20 + 60 days is past the end


def test_results_find_each_planted_effect_inside_the_interval(
    planted: tuple[PlaybookHistory, object, Path],
) -> None:
    history, con, _ = planted
    truth = history.playbooks.set_index("playbook")
    # the shop playbooks carry an effect; the subscription ones a planted null
    assert truth.loc["replenish", "true_effect"] > 0.05
    assert truth.loc["onboarding", "true_effect"] > 0.01
    assert truth.loc["winback-60", "true_effect"] > 0.01
    assert (truth.loc[truth.index.isin(["payment-failed", "renewal-30"]), "true_effect"] == 0).all()
    stored = con.table("demo_truth_playbooks").to_pandas()  # type: ignore[attr-defined]
    assert sorted(stored["playbook"]) == sorted(truth.index)
    sources = Sources.from_warehouse(con)  # type: ignore[arg-type]
    playbooks = shipped_playbooks()
    outcomes = history.customers
    covered = 0
    for name, row in truth.iterrows():
        result = playbook_results(
            sources, str(name), as_of="2026-01-01", playbook=playbooks.get(str(name))
        )
        assert result["pending"] == 0 and result["window_days"] == row["window_days"]
        mine = outcomes[outcomes["playbook"] == name]
        control = mine[mine["group"] == "control"]
        for variant in result["variants"]:
            treated = mine[(mine["group"] == "treatment") & (mine["variant"] == variant["variant"])]
            assert variant["treated"]["customers"] == len(treated)
            assert variant["treated"]["conversion"] == pytest.approx(treated["y1"].mean())
            lift = variant["difference"]["conversion"]
            if lift is None:  # a holdout of fewer than two customers
                assert len(control) < 2
                continue
            assert variant["holdout"]["conversion"] == pytest.approx(control["y0"].mean())
            assert lift["low"] <= row["true_effect"] <= lift["high"], (name, lift)
            covered += 1
    assert covered >= 4


def test_recorded_sends_obey_the_engines_guardrails(
    planted: tuple[PlaybookHistory, object, Path], demo: DemoBusiness
) -> None:
    history, con, _ = planted
    playbooks = shipped_playbooks()
    names = [p.name for p in playbooks.playbooks]
    it = con.table("interactions").to_pandas()  # type: ignore[attr-defined]
    base = it["campaign_id"].fillna("").str.split(":").str[0]
    mine = it[base.isin(names)].assign(playbook=base[base.isin(names)])
    sent = mine[mine["kind"] == "message_sent"]
    held = mine[mine["kind"] == "holdout"]
    assert len(sent) == history.messages and len(held) == history.holdouts
    customers = demo.tables["customers"].set_index("customer_id")
    # consent: every mail went to an opted-in address
    assert customers.loc[sent["customer_id"], "email_opt_in"].all()
    # the stable hash: the treated are never in their playbook's holdout, the held-out always
    for name, group in sent.groupby("playbook"):
        share = playbooks.get(str(name)).holdout
        assert not in_holdout(str(name), group["customer_id"], share).any()
    for name, group in held.groupby("playbook"):
        share = playbooks.get(str(name)).holdout
        assert in_holdout(str(name), group["customer_id"], share).all()
        keys = [json.loads(p)["key"] for p in group["properties"]]
        assert all(k.startswith(f"{name}:") for k in keys)  # the re-entry key, as retain records
    # quiet hours: no mail arrived at night in the customer's zone
    zones = customers.loc[sent["customer_id"], "time_zone"].to_list()
    hours = [
        pd.Timestamp(at).tz_localize("UTC").tz_convert(ZoneInfo(zone)).hour
        for at, zone in zip(sent["occurred_at"], zones, strict=True)
    ]
    quiet = playbooks.caps.quiet_hours
    assert not any(h >= quiet.start or h < quiet.end for h in hours)
    assert any(h == quiet.end for h in hours)  # some waited for the morning
    # caps: per run and customer, within the limits
    runs = pd.to_datetime(sent["occurred_at"]).dt.to_period("M")
    per = sent.assign(run=runs).groupby(["run", "customer_id"]).size()
    assert per.max() <= playbooks.caps.global_limit
    # the induced orders are the treated customers' (and in the files too)
    orders = con.table("orders").to_pandas()  # type: ignore[attr-defined]
    induced = orders[orders["order_id"].str.startswith("OPB")]
    assert len(induced) == history.orders > 0
    assert set(induced["customer_id"]) <= set(sent["customer_id"])
    assert (induced["status"] == "completed").all()


def test_induced_orders_only_for_living_shop_customers_in_the_treated_arm() -> None:
    params = DemoParameters(playbook_effects=(("p", 1.0),))
    at = pd.Timestamp("2024-05-01 01:00")
    assigned = pd.DataFrame(
        {
            "playbook": "p",
            "run_at": at,
            "customer_id": ["a", "b", "c", "d"],
            "arm": ["treated", "holdout", "treated", "treated"],
            "variant": "a",
            "assigned_at": at,
            "window_days": 30,
            "offer": ["coupon_10", None, None, None],
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "line": ["shop", "shop", "subscription", "shop"],
            "acquired_at": pd.Timestamp("2024-01-01"),
            "death_at": [pd.NaT, pd.NaT, pd.NaT, at + pd.Timedelta(hours=1)],
        }
    )
    drawn, orders, lines = induced_orders(assigned, customers, params, seed=1, run=0)
    assert drawn.set_index("customer_id")["would_redeem"].to_dict() == {
        "a": True,  # alive shop customer, effect 1
        "b": True,  # would have: held out, so no order
        "c": False,  # subscribers never order in the demo
        "d": False,  # gone before the order would come (at least half a day later)
    }
    assert orders["customer_id"].to_list() == ["a"] and lines["order_id"].equals(orders["order_id"])
    inside = orders["ordered_at"].iloc[0] - at
    assert pd.Timedelta(hours=12) <= inside <= pd.Timedelta(days=14)
    assert orders["discount_amount"].iloc[0] == pytest.approx(
        0.1 * lines["unit_price"].iloc[0], abs=0.01
    )


def test_truth_counts_the_first_assignment_and_excludes_only_its_own_order() -> None:
    t0 = pd.Timestamp("2024-05-01 01:00")
    assigned = pd.DataFrame(
        {
            "playbook": "p",
            "run_at": [t0, t0, t0, t0 + pd.Timedelta(days=200)],
            "customer_id": ["a", "b", "c", "a"],
            "arm": ["treated", "treated", "holdout", "treated"],
            "variant": "a",
            "assigned_at": [t0, t0, t0, t0 + pd.Timedelta(days=200)],
            "window_days": 30,
            "would_redeem": [True, True, False, True],
            "order_id": ["X1", "X2", None, "X3"],
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": ["X1", "X2", "B1", "C1", "C2"],
            "customer_id": ["a", "b", "b", "c", "c"],
            "ordered_at": [
                t0 + pd.Timedelta(days=3),
                t0 + pd.Timedelta(days=3),
                t0 + pd.Timedelta(days=30),  # the window's last moment counts
                t0,  # the assignment's own moment does not
                t0 + pd.Timedelta(days=31),  # after the window
            ],
        }
    )
    summary, customers = playbook_truth(assigned, orders, DemoParameters())
    assert customers.set_index("customer_id")[["y0", "y1"]].to_dict("index") == {
        "a": {"y0": False, "y1": True},
        "b": {"y0": True, "y1": True},
        "c": {"y0": False, "y1": False},
    }
    row = summary.iloc[0]
    assert (row["n_treatment"], row["n_holdout"], row["runs"]) == (2, 1, 2)
    assert row["true_effect"] == pytest.approx(1 / 3)


def test_folder_gets_the_truth_files(planted: tuple[PlaybookHistory, object, Path]) -> None:
    history, _, folder = planted
    playbooks = pd.read_csv(folder / "truth_playbooks.csv")
    customers = pd.read_csv(folder / "truth_playbook_customers.csv")
    assert playbooks["true_effect"].to_list() == pytest.approx(history.playbooks["true_effect"])
    assert len(customers) == len(history.customers)
