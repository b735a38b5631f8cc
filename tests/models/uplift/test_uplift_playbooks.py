"""A playbook's sends and its hashed holdout are uplift training data, like a campaign's.

Two parts: a small hand-built history, where every number is known (arms, first assignments,
each customer's own window and run, windows still open, what is not a playbook); and the
3,000-customer demo with its history of playbook runs planted (as ``retain demo`` plants it, see
tests/demo/test_playbook_history.py), where each playbook's measured effect must cover the
planted truth (``demo_truth_playbooks``), treated customers show ``y1`` and the holdout ``y0``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import retain.warehouse as wh
from retain.errors import NotFoundError
from retain.features import Sources
from retain.models.uplift import CONTROL, campaign_dataset, list_campaigns
from retain.models.uplift.playbooks import outcome_window, playbook_names, snapshot_groups

T1 = dt.datetime(2024, 3, 1, 1)
T2 = dt.datetime(2024, 5, 1, 1)
SEND = dt.timedelta(hours=8)  # quiet hours: the message goes out later that day


def _sent(cid: str, at: dt.datetime, campaign: str) -> dict[str, Any]:
    """A ``message_sent`` as the outbox worker logs it (no ``group``)."""
    return {
        "interaction_id": f"msg-{campaign}-{cid}-{at:%m%d}",
        "customer_id": cid,
        "occurred_at": at,
        "kind": "message_sent",
        "channel": "email",
        "campaign_id": campaign,
        "properties": json.dumps({"message_id": f"m-{cid}", "attempt": 1, "outcome": "sent"}),
    }


def _held(cid: str, at: dt.datetime, playbook: str) -> dict[str, Any]:
    """A ``holdout`` record as :func:`retain.engage.execute.holdout_records` writes it."""
    key = f"{playbook}:{cid}:{at:%Y-%m-%d}"
    return {
        "interaction_id": f"holdout-{abs(hash(key)):x}",
        "customer_id": cid,
        "occurred_at": at,
        "kind": "holdout",
        "channel": "email",
        "campaign_id": playbook,
        "properties": json.dumps({"group": "control", "key": key, "occurrence": "x"}),
    }


def _order(oid: str, cid: str, at: dt.datetime, amount: float = 10.0) -> dict[str, Any]:
    return {"order_id": oid, "customer_id": cid, "ordered_at": at, "amount": amount}


@pytest.fixture(scope="module")
def history() -> Sources:
    """Playbook ``nudge`` ran at T1 and T2, ``ab`` (variants a and b) at T1, ``quiet`` (no
    holdout) at T1; campaign ``CMP-X`` is an ordinary randomized campaign."""
    inter = [
        # nudge, run 1: c1, c2 treated (later the same day), h1 held out
        _sent("c1", T1 + SEND, "nudge"),
        _sent("c2", T1 + SEND, "nudge"),
        _held("h1", T1, "nudge"),
        # nudge, run 2: c1 again (counts at its first assignment), c3 new, h2 held out
        _sent("c1", T2 + SEND, "nudge"),
        _sent("c3", T2 + SEND, "nudge"),
        _held("h2", T2, "nudge"),
        # nudge, a late run whose 30-day window is still open at the newest order
        _sent("c9", dt.datetime(2024, 6, 20, 9), "nudge"),
        _held("h9", dt.datetime(2024, 6, 20, 1), "nudge"),
        # ab: variants
        _sent("a1", T1 + SEND, "ab:a"),
        _sent("b1", T1 + SEND, "ab:b"),
        _held("h1", T1, "ab"),
        # quiet: sends, no holdout
        _sent("q1", T1 + SEND, "quiet"),
        # an ordinary campaign
        {**_sent("x1", T1, "CMP-X"), "properties": '{"group": "treatment"}'},
        {**_held("x2", T1, "CMP-X"), "interaction_id": "I1", "properties": '{"group": "control"}'},
    ]
    orders = [
        _order("o0", "c1", T1 - dt.timedelta(days=20)),  # before c1's run: a feature
        _order("o1", "c1", T1 + dt.timedelta(days=10)),  # in c1's window
        _order("o2", "c3", T2 - dt.timedelta(days=10)),  # before c3's run: a feature, no outcome
        _order("o3", "c3", T2 + dt.timedelta(days=5)),  # in c3's own window (not in T1's)
        _order("o4", "h1", T1 + dt.timedelta(days=31)),  # after h1's window
        _order("o5", "h2", T2 + dt.timedelta(days=29)),  # in h2's window
        _order("o6", "c2", T1 + SEND - dt.timedelta(hours=1)),  # before c2's message went out
        _order("o7", "x1", T1 + dt.timedelta(days=2)),
        _order("end", "z", dt.datetime(2024, 7, 1)),  # the newest order: the data's end
    ]
    customers = pd.DataFrame(
        {
            "customer_id": [
                "c1",
                "c2",
                "c3",
                "c9",
                "h1",
                "h2",
                "h9",
                "a1",
                "b1",
                "q1",
                "x1",
                "x2",
                "z",
            ],
            "created_at": dt.datetime(2023, 1, 1),
        }
    )
    return Sources.from_tables(
        {
            "customers": customers,
            "interactions": pd.DataFrame(inter),
            "orders": pd.DataFrame(orders).assign(status="completed", currency="USD"),
        }
    )


def test_playbooks_with_a_holdout_are_listed_beside_campaigns(history: Sources) -> None:
    assert history.interactions is not None
    assert playbook_names(history.interactions) == ["ab", "nudge"]
    listed = list_campaigns(history).set_index("campaign_id")
    assert list(listed.index) == ["CMP-X", "playbook:ab", "playbook:nudge"]
    nudge = listed.loc["playbook:nudge"]
    assert (nudge["arms"], nudge["n_treated"], nudge["n_control"]) == ("treatment", 4, 3)
    assert nudge["started_at"] == pd.Timestamp(T1)
    assert listed.loc["playbook:ab", "arms"] == "a, b"
    # the playbook's own name is no campaign: its holdout rows alone have no treated arm
    with pytest.raises(NotFoundError):
        campaign_dataset(history, "nudge")
    with pytest.raises(NotFoundError):
        campaign_dataset(history, "playbook:quiet")


def test_a_missing_randomization_says_what_each_kind_of_campaign_needs(
    history: Sources,
) -> None:
    """A playbook was told it lacked 'message_sent, group treatment', which playbooks never
    write: it now says what a playbook needs (its sends, its recorded holdout, closed windows),
    what was found, and how to get there."""
    with pytest.raises(NotFoundError) as quiet:
        campaign_dataset(history, "playbook:quiet", window_days=30)
    message = quiet.value.message
    assert "playbook 'quiet'" in message and "group treatment" not in message
    assert "found 1 treated and 0 held out" in message
    assert "retain playbooks run" in str(quiet.value.hint) and "--window" in str(quiet.value.hint)
    # every nudge customer's 200-day window is still open at the data's end: say so
    with pytest.raises(NotFoundError) as waiting:
        campaign_dataset(history, "playbook:nudge", window_days=200)
    assert "200-day outcome window" in waiting.value.message
    assert "found 0 treated and 0 held out (7 more still inside their window)" in (
        waiting.value.message
    )
    assert "now 200 days" in str(waiting.value.hint)
    with pytest.raises(NotFoundError) as plain:
        campaign_dataset(history, "nudge")  # holdout rows only, no treated
    assert 'properties.group = "treatment"' in plain.value.message
    assert "found 0 treated and 3 held out" in plain.value.message
    assert "playbook:<name>" in str(plain.value.hint)


def test_a_playbooks_window_is_its_own_unless_one_is_given() -> None:
    windows = {"replenish": 21}
    assert outcome_window("playbook:replenish", playbook_windows=windows) == (21, "playbook")
    assert outcome_window("playbook:replenish", window_days=30, playbook_windows=windows) == (
        30,
        "given",
    )
    assert outcome_window("playbook:gone", playbook_windows=windows) == (60, "default")
    assert outcome_window("replenish", playbook_windows=windows) == (60, "default")


def test_each_customer_has_their_own_window_and_run(history: Sources) -> None:
    data = campaign_dataset(history, "playbook:nudge", outcome="conversion", window_days=30)
    frame = data.frame.set_index("customer_id")
    # c9 / h9: their window has not closed by the newest order, so they wait
    assert sorted(frame.index) == ["c1", "c2", "c3", "h1", "h2"]
    assert frame["arm"].to_dict() == {
        "c1": "treatment",
        "c2": "treatment",
        "c3": "treatment",
        "h1": CONTROL,
        "h2": CONTROL,
    }
    assert frame.loc["c1", "assigned_at"] == pd.Timestamp(T1 + SEND)  # the first assignment
    assert frame.loc["c3", "assigned_at"] == pd.Timestamp(T2 + SEND)
    assert frame.loc["h2", "assigned_at"] == pd.Timestamp(T2)
    assert data.started_at == pd.Timestamp(T1)
    assert frame["y"].to_dict() == {"c1": 1.0, "c2": 0.0, "c3": 1.0, "h1": 0.0, "h2": 1.0}
    # features as of each customer's run: c3's order before T2 is known, not at T1
    assert frame.loc["c3", "orders_total"] == 1
    assert frame.loc["c1", "orders_total"] == 1  # its outcome order is not a feature
    revenue = campaign_dataset(history, "playbook:nudge", outcome="revenue", window_days=30)
    assert revenue.frame.set_index("customer_id")["y"].sum() == pytest.approx(30.0)
    longer = campaign_dataset(history, "playbook:nudge", outcome="conversion", window_days=35)
    assert longer.frame.set_index("customer_id").loc["h1", "y"] == 1.0  # o4 now inside
    ab = campaign_dataset(history, "playbook:ab", outcome="conversion", window_days=30)
    assert ab.arms == ["a", "b"]


def test_a_campaigns_dataset_is_unchanged(history: Sources) -> None:
    data = campaign_dataset(history, "CMP-X", outcome="conversion", window_days=30)
    assert data.frame[["customer_id", "arm", "y"]].to_dict("list") == {
        "customer_id": ["x1", "x2"],
        "arm": ["treatment", CONTROL],
        "y": [1.0, 0.0],
    }
    assert (data.frame["assigned_at"] == pd.Timestamp(T1)).all()


def test_churn_risk_is_scored_at_each_customers_run(
    history: Sources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "Highest churn risk first" scores a playbook's customers on their features at their run.

    The churn model is stood in by its features' ``orders_total`` (the real scoring frame is
    built): c3's order before the second run counts, which it would not at the first.
    """
    import retain.models.churn
    from retain.config import ChurnDefinition
    from retain.models.uplift.evaluations import churn_risk_at_start

    def by_orders(registered: object, rows: pd.DataFrame, **_: object) -> pd.DataFrame:
        return pd.DataFrame({"probability": rows["orders_total"].to_numpy(dtype=float)})

    monkeypatch.setattr(retain.models.churn, "score_frame", by_orders)
    card = {"definition": ChurnDefinition().model_dump(), "features": [], "attributes": []}
    registered = type("Registered", (), {"card": card})()
    data = campaign_dataset(history, "playbook:nudge", outcome="conversion", window_days=30)
    risk = churn_risk_at_start(history, registered)(data)  # type: ignore[arg-type]
    assert dict(zip(data.frame["customer_id"], risk, strict=True)) == pytest.approx(
        dict(zip(data.frame["customer_id"], data.frame["orders_total"], strict=True)),
        nan_ok=True,
    )
    assert risk[data.frame["customer_id"].to_list().index("c3")] == 1.0


@pytest.mark.parametrize(("days", "groups"), [(3, 3), (60, 60), (100, 15), (400, 58), (500, 17)])
def test_snapshots_are_shared_per_day_then_week_then_month(days: int, groups: int) -> None:
    """One snapshot per day with assignments; a playbook that ran daily shares fewer, each
    still taken at the first assignment it serves (2024-01-01 is a Monday)."""
    runs = [dt.datetime(2024, 1, 1, 1) + dt.timedelta(days=k) for k in range(days)]
    moments = pd.Series([m + h for m in runs for h in (dt.timedelta(0), SEND)])
    found = snapshot_groups(moments)
    assert len(found) == groups <= 60
    assert sorted(i for _, index in found for i in index) == list(range(len(moments)))
    for as_of, index in found:
        assert as_of == moments.loc[index].min()
    assert found[0][0] == pd.Timestamp(runs[0])


# --- the demo's planted playbook history ---------------------------------------------------

START = dt.datetime(2024, 1, 1)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    """The 3,000-customer demo (seed 7) in a DuckDB file with its playbook history planted."""
    from retain.cli._demo_playbooks import plant_playbook_history
    from retain.config import get_settings
    from retain.demo import generate

    folder = tmp_path_factory.mktemp("playbook-uplift")
    config = folder / "retain.toml"
    config.write_text(
        f'database_url = "sqlite:///{(folder / "app.db").as_posix()}"\n'
        f'warehouse_url = "duckdb:///{(folder / "w.duckdb").as_posix()}"\n'
        f'models_dir = "{(folder / "models").as_posix()}"\n',
        encoding="utf-8",
    )
    settings = get_settings(config)
    con = wh.connect(settings=settings)
    generate(customers=3_000, seed=7).load(con, settings=settings)
    plant_playbook_history(con, settings, seed=7, start=START, months=24)
    try:
        yield con, config
    finally:
        con.disconnect()


def test_the_demos_playbooks_are_campaigns_with_their_counts(planted: tuple[Any, Path]) -> None:
    con, _ = planted
    truth = con.table("demo_truth_playbooks").to_pandas().set_index("playbook")
    listed = list_campaigns(con).set_index("campaign_id")
    with_holdout = truth[truth["n_holdout"] > 0]
    assert len(with_holdout) >= 3
    expected = [f"CMP-0{k}" for k in range(1, 6)] + [f"playbook:{n}" for n in with_holdout.index]
    assert sorted(listed.index) == sorted(expected)
    for name, row in with_holdout.iterrows():
        found = listed.loc[f"playbook:{name}"]
        assert (found["n_treated"], found["n_control"]) == (row["n_treatment"], row["n_holdout"])
    assert listed.loc["playbook:winback-60", "arms"] == "a, b"  # its template's two variants


def test_each_playbooks_measured_effect_covers_the_planted_truth(
    planted: tuple[Any, Path],
) -> None:
    """Conversion in each playbook's window: treated show ``y1``, the holdout ``y0``, exactly,
    and each arm's effect interval (treated mean - holdout mean) covers the true effect."""
    con, _ = planted
    truth = con.table("demo_truth_playbooks").to_pandas().set_index("playbook")
    customers = con.table("demo_truth_playbook_customers").to_pandas()
    table = con.table("orders")
    orders = table.filter(table.status == "completed").select("customer_id", "ordered_at")
    orders = orders.to_pandas()
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"])
    covered = 0
    for name, row in truth[truth["n_holdout"] > 1].iterrows():
        data = campaign_dataset(
            con, f"playbook:{name}", outcome="conversion", window_days=int(row["window_days"])
        )
        mine = customers[customers["playbook"] == name]
        merged = data.frame.merge(mine, on="customer_id", suffixes=("", "_truth"))
        assert len(merged) == len(data.frame) == len(mine)
        assert ((merged["arm"] == CONTROL) == (merged["group"] == "control")).all()
        assert (merged["assigned_at"] == pd.to_datetime(merged["assigned_at_truth"])).all()
        seen = np.where(merged["group"] == "control", merged["y0"], merged["y1"])
        assert (merged["y"] == seen.astype(float)).all(), name
        # features as of each customer's run: the orders placed before it, not after
        day = merged["assigned_at"].dt.floor("D")
        moment = merged.groupby(day)["assigned_at"].transform("min")
        pairs = merged[["customer_id"]].assign(moment=moment).merge(orders, on="customer_id")
        before = pairs[pairs["ordered_at"] < pairs["moment"]].groupby("customer_id").size()
        known = merged.set_index("customer_id")["orders_total"].dropna()
        expected = before.reindex(known.index).fillna(0)
        assert len(known) > 0.7 * len(merged) and (known == expected).all(), name
        for effect in data.observed_effect().itertuples():
            assert effect.effect_low <= row["true_effect"] <= effect.effect_high, (name, effect)
            covered += 1
    assert covered >= 4


def test_the_offer_planner_takes_no_playbook_for_an_action(planted: tuple[Any, Path]) -> None:
    """A playbook's offer is not in ``interactions``: the planner keeps the campaigns."""
    from retain.models.uplift.scores import campaign_offer, campaigns_by_action

    con, _ = planted
    for name in ("winback-60", "replenish", "onboarding"):
        assert campaign_offer(con, f"playbook:{name}") is None
    actions = ["coupon_10", "coupon_20", "free_shipping", "reminder", "treatment", "a", "b"]
    assert campaigns_by_action(con, actions) == {
        "coupon_10": "CMP-01",
        "coupon_20": "CMP-04",
        "free_shipping": "CMP-03",
        "reminder": "CMP-05",
    }


def test_cli_lists_and_evaluates_a_playbook(
    planted: tuple[Any, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from _cli_runner import make_invoker

    _, config = planted
    retain_cli: Callable[..., Any] = make_invoker(config, monkeypatch)
    listed = retain_cli("uplift", "campaigns", "--format", "json")
    assert listed.exit_code == 0, listed.output
    ids = [r["campaign_id"] for r in json.loads(listed.output)]
    assert "playbook:winback-60" in ids and "CMP-05" in ids
    args = ("uplift", "evaluate", "--campaign", "playbook:winback-60", "--outcome", "conversion")
    result = retain_cli(*args, "--window", "30", "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["campaign_id"] == "playbook:winback-60" and out["window_days"] == 30
    assert [e["arm"] for e in out["effects"]] == ["a", "b"]
    assert out["n_train"] + out["n_test"] == out["effects"][0]["n_control"] + sum(
        e["n_treated"] for e in out["effects"]
    )


def test_cli_counts_a_playbook_in_its_own_window_and_says_so(
    planted: tuple[Any, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --window a playbook was counted in a fixed 60 days, not its own window."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from _cli_runner import make_invoker
    from retain.engage.playbooks import shipped_playbooks
    from retain.engage.results import results_window

    con, config = planted
    own = {p.name: results_window(p) for p in shipped_playbooks().playbooks}["replenish"]
    truth = con.table("demo_truth_playbooks").to_pandas().set_index("playbook")
    assert own == truth.loc["replenish", "window_days"] == 21  # its goal's window, not 60
    retain_cli: Callable[..., Any] = make_invoker(config, monkeypatch)
    args = ("uplift", "evaluate", "--campaign", "playbook:replenish", "--outcome", "conversion")
    result = retain_cli(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["window_days"], out["window_basis"]) == (21, "playbook")
    data = campaign_dataset(con, "playbook:replenish", outcome="conversion", window_days=21)
    expected = data.observed_effect()
    assert [e["effect"] for e in out["effects"]] == pytest.approx(
        list(expected["effect"]), abs=1e-6
    )
    table = retain_cli(*args)
    assert "Outcome window: 21 days, the playbook's own" in table.output
    given = json.loads(retain_cli(*args, "--window", "45", "--format", "json").output)
    assert (given["window_days"], given["window_basis"]) == (45, "given")


def test_a_stored_evaluation_keeps_the_playbooks_window(planted: tuple[Any, Path]) -> None:
    """The demo pipeline evaluated every playbook in 60 days; the stored row now says which."""
    from retain.config import ChurnDefinition
    from retain.models.uplift.evaluations import (
        evaluate_campaign,
        store_evaluation,
        stored_evaluation,
    )

    con, _ = planted
    data, found = evaluate_campaign(
        con,
        "playbook:replenish",
        definition=ChurnDefinition(),
        outcome="conversion",
        n_boot=10,
        playbook_windows={"replenish": 21},
    )
    assert data.window_days == 21
    store_evaluation(con, data, found, evaluated_at=None)
    stored = stored_evaluation(con, "playbook:replenish", "conversion")
    assert stored is not None
    assert (stored.window_days, stored.window_basis) == (21, "playbook")
    _, plain = evaluate_campaign(con, "CMP-05", definition=ChurnDefinition(), n_boot=10)
    assert set(plain.effects["window_days"]) == {60}
    assert set(plain.effects["window_basis"]) == {"default"}
