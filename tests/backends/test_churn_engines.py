"""Churn features, labels, panels, training, scoring and the score writer agree on every engine.

One small hand-made business with the edges that differ between engines (a refund and a zero
amount, a discount, events on two channels with payment failures and cancel-page views,
subscriptions on monthly and yearly terms with a trial and a scheduled end, tickets opened and
resolved, survey answers, JSON attributes with Japanese text, padded numbers and a nested
value) runs through :func:`feature_snapshot`, :func:`churn_labels`, :func:`build_panel`, a small
:func:`train_model` and :func:`score_customers` with ``write=True`` on each engine. Every frame
must equal the DuckDB frame (floats to 1e-9); the models, trained on equal panels with a fixed
seed, give equal probabilities.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest

import retain.warehouse as wh
from retain.config import ChurnDefinition
from retain.features import churn_labels, feature_snapshot
from retain.features.attributes import _sample, discover_attributes
from retain.features.sources import Sources
from retain.models.churn import ChurnClassifier, load_model, save_model, score_customers
from retain.models.churn.panel import build_panel
from retain.models.churn.training import train_model
from retain.schema import get_table

SHOP = ChurnDefinition(name="shop", horizon_days=45, activity="any")
SUBSCRIPTION = ChurnDefinition(name="subs", kind="contractual", horizon_days=30)
DATES = ("2024-03-01", "2024-04-01", "2024-05-01")
SPARK_DATES = ("2024-05-01",)
"""Spark takes seconds per query on a loaded machine: one reference date exercises the same
expressions as three."""
N = 48
TIERS = ("金", "銀", "銅", "standard")
LONG_KEY = "会員ランク区分コードの正式な名称テキスト"


def _ts(day: int, hour: int = 0) -> pd.Timestamp:
    """``day`` days after 2023-10-01, at ``hour``."""
    return pd.Timestamp("2023-10-01") + pd.Timedelta(days=day, hours=hour)


def business() -> dict[str, pd.DataFrame]:
    """Forty-eight customers whose activity fades at different speeds (deterministic)."""
    rng = np.random.default_rng(16)
    # Upper- and lower-case ids: byte order and a linguistic collation sort them differently.
    ids = [f"{'C' if i % 3 == 0 else 'c'}{i:02d}" for i in range(N)]
    attributes: list[str | None] = []
    for i in range(N):
        if i % 11 == 5:
            attributes.append(None)
        elif i % 13 == 7:
            attributes.append("{}")
        else:
            attributes.append(
                json.dumps(
                    {
                        "tier": TIERS[i % 4],
                        "age": f" {20 + i % 37} " if i % 5 == 0 else 20 + i % 37,
                        "note": f"東京 {i}",
                        "prefs": {"mail": i % 2 == 0},
                        # A key whose feature name is longer than PostgreSQL's 63 bytes.
                        LONG_KEY: ("ゴールド会員", "一般会員")[i % 2],
                    },
                    ensure_ascii=i % 2 == 0,
                )
            )
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "acquired_at": [_ts(-30 + i) if i % 6 else None for i in range(N)],
            "country": [("JP", "KR", "US")[i % 3] for i in range(N)],
            "language": [("ja", "ko", "en")[i % 3] for i in range(N)],
            "acquisition_channel": [("search", "referral", None)[i % 3] for i in range(N)],
            "email_opt_in": [i % 2 == 0 for i in range(N)],
            "sms_opt_in": [None if i % 7 == 0 else i % 3 == 0 for i in range(N)],
            "attributes": attributes,
        }
    )
    orders: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for i, cid in enumerate(ids):
        # Customer i stops buying after day ``last``: early for some, never for others.
        last = 120 + (i * 37) % 260
        day = i % 9
        while day < min(last, 270):
            status = "returned" if len(orders) % 17 == 3 else "completed"
            amount = 0.0 if len(orders) % 23 == 5 else round(float(rng.uniform(5, 80)), 2)
            discount = round(amount * 0.1, 2) if len(orders) % 4 == 1 else None
            orders.append(
                {
                    "order_id": f"o{len(orders)}",
                    "customer_id": cid,
                    "ordered_at": _ts(day, hour=(i * 5) % 24),
                    "amount": amount,
                    "status": status,
                    "discount_amount": discount,
                    "channel": "web",
                }
            )
            day += int(rng.integers(8, 40))
        day = i % 5
        while day < min(last + 30, 270):
            name = ("login", "page_view", "payment_failed", "login", "cancel_page_view")[
                int(rng.integers(0, 5))
            ]
            events.append(
                {
                    "event_id": f"e{len(events)}",
                    "customer_id": cid,
                    "occurred_at": _ts(day, hour=(i * 3) % 24),
                    "name": name,
                    "channel": ("web", "app", None)[len(events) % 3],
                }
            )
            day += int(rng.integers(5, 25))
    subscriptions: list[dict[str, Any]] = []
    for i, cid in enumerate(ids[: N // 2]):
        start = _ts(i * 8)
        period = "year" if i % 5 == 0 else "month"
        ended = _ts(150 + i * 5) if i % 3 == 0 else None
        subscriptions.append(
            {
                "subscription_id": f"s{i}",
                "customer_id": cid,
                "plan": ("basic", "pro")[i % 2],
                "started_at": start,
                "ended_at": ended,
                "billing_period": period,
                "amount": 120.0 if period == "year" else 12.5,
                "trial_ends_at": start + pd.Timedelta(days=30) if i % 4 in (1, 2) else None,
                "contract_ends_at": start + pd.DateOffset(years=1) if period == "year" else None,
            }
        )
    interactions: list[dict[str, Any]] = []

    def interact(cid: str, at: pd.Timestamp, kind: str, props: dict[str, Any] | None) -> None:
        interactions.append(
            {
                "interaction_id": f"i{len(interactions):03d}",
                "customer_id": cid,
                "occurred_at": at,
                "kind": kind,
                "channel": "email",
                "properties": None if props is None else json.dumps(props, ensure_ascii=False),
            }
        )

    for i, cid in enumerate(ids):
        for k in range(i % 4):
            interact(cid, _ts(20 + 45 * k + i), "message_sent", {"campaign": "春"})
            if (i + k) % 2:
                interact(cid, _ts(21 + 45 * k + i), "message_opened", None)
        if i % 5 == 1:
            interact(cid, _ts(60 + i), "complaint", {"ticket_id": f"T{i}", "text": "遅い"})
            if i % 10 == 1:
                interact(cid, _ts(63 + i, hour=5), "ticket_resolved", {"ticket_id": f"T{i}"})
        if i % 8 == 3:
            # Ticket ids with an ideographic space (JSON's whitespace does not include it).
            interact(cid, _ts(70 + i), "complaint", {"ticket_id": "受付\u30001"})
            interact(cid, _ts(71 + i), "ticket_opened", {"ticket_id": "受付\u30002"})
            interact(cid, _ts(75 + i), "ticket_resolved", {"ticket_id": "受付\u30001"})
        if i % 6 == 2:
            interact(cid, _ts(90 + i), "survey_answer", {"score": 3 + i % 7})
            interact(cid, _ts(190 + i), "survey_answer", {"score": str(i % 10)})
            # Two answers in one second: the later one, by its fraction of a second, counts.
            second = _ts(100 + i, hour=10)
            interact(cid, second + pd.Timedelta(milliseconds=500), "survey_answer", {"score": 9})
            interact(cid, second, "survey_answer", {"score": 1})
    return {
        "customers": customers,
        "orders": pd.DataFrame(orders),
        "events": pd.DataFrame(events),
        "subscriptions": pd.DataFrame(subscriptions),
        "interactions": pd.DataFrame(interactions),
    }


def load_business(con: Any) -> Sources:
    """Write the business to ``con`` with the canonical column types; its :class:`Sources`."""
    for name, frame in business().items():
        schema = get_table(name).ibis_schema()
        full = frame.reindex(columns=list(schema.names))
        raw = ibis.memtable(full)
        typed = raw.select(*[raw[c].cast(schema[c]).name(c) for c in schema.names])
        if wh.backend_name(con) == "pyspark":  # a plain create: Spark renames are slow
            # Ibis cannot hand Spark a decimal column holding nulls; every feature reads the
            # amounts as float64, which gives the same doubles from either type.
            floats = {c: typed[c].cast("float64") for c in schema.names if schema[c].is_decimal()}
            con.create_table(name, typed.mutate(**floats).to_pyarrow(), overwrite=True)
        else:
            wh.write_table(con, name, typed.to_pyarrow())
    return Sources.from_warehouse(con)


def run(con: Any, models_dir: Path, dates: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Everything churn computes on ``con``, as frames ready to compare."""
    sources = load_business(con)
    attributes, _ = discover_attributes(sources.customers)
    latest = dates[-1]
    out = {
        "attributes": pd.DataFrame([a.to_dict() for a in attributes]),
        # Every 6th customer, in code-point order of the ids whatever the collation.
        "sample": pd.DataFrame({"attributes": _sample(sources.customers, 7)}),
        "snapshot_shop": feature_snapshot(
            sources, as_of=latest, definition=SHOP, attributes=attributes
        ).to_pandas(),
        "labels_shop": churn_labels(sources, as_of=latest, definition=SHOP).to_pandas(),
        "labels_subs": churn_labels(sources, as_of=latest, definition=SUBSCRIPTION).to_pandas(),
    }
    if len(dates) > 1:
        out["snapshot_subs"] = feature_snapshot(
            sources, as_of="2024-03-15 12:30", definition=SUBSCRIPTION
        ).to_pandas()
        panel, _ = build_panel(sources, definition=SHOP, dates=dates, attributes=attributes)
        out["panel"] = panel
    trained = train_model(
        sources,
        definition=SHOP,
        estimator=ChurnClassifier(random_state=0, n_estimators=30, min_child_samples=5),
        dates=list(dates),
        evaluate=False,
    )
    out["features"] = pd.DataFrame(trained.card["features"])
    save_model(trained.model, trained.card, models_dir=models_dir)
    result = score_customers(sources, load_model(models_dir=models_dir), write=True)
    out["scores"] = result.scores.drop(columns=["scored_at", "model_version"])
    stored = wh.read_table(con, "churn_scores").to_pandas()
    out["stored"] = stored.drop(columns=["scored_at", "model_version"])
    return out


def same(got: pd.DataFrame, want: pd.DataFrame, name: str) -> None:
    """``got`` equals ``want`` row for row (sorted by key, but for the panel), floats to 1e-9."""
    keys = [c for c in ("customer_id", "as_of") if c in want.columns]
    if keys and name != "panel":  # the panel's own order decides the model's row sampling
        got = got.sort_values(keys, ignore_index=True)
        want = want.sort_values(keys, ignore_index=True)
    got, want = got.reset_index(drop=True), want.reset_index(drop=True)
    assert list(got.columns) == list(want.columns), name
    for col in want.columns:
        g, w = got[col], want[col]
        if str(w.dtype).startswith("datetime64") or str(g.dtype).startswith("datetime64"):
            g, w = (
                pd.to_datetime(g).astype("datetime64[ns]"),
                pd.to_datetime(w).astype("datetime64[ns]"),
            )
        elif col == "reasons":
            g, w = g.map(_reasons), w.map(_reasons)
        elif pd.api.types.is_numeric_dtype(w) and not pd.api.types.is_bool_dtype(w):
            g = pd.to_numeric(g).astype("float64")
            w = w.astype("float64")
        else:
            g, w = g.astype(object).where(g.notna(), None), w.astype(object).where(w.notna(), None)
        pd.testing.assert_series_equal(
            g, w, check_dtype=False, check_names=False, rtol=1e-9, obj=f"{name}.{col}"
        )


def _reasons(text: str) -> list[tuple[str, str]]:
    """A reasons JSON array as (key, wording) pairs: the numbers behind them may differ ~1e-15."""
    return [(r["key"], json.dumps(r.get("params", {}), sort_keys=True)) for r in json.loads(text)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, ...], Any]:
    """The DuckDB results, per set of reference dates (computed on first use)."""
    cache: dict[tuple[str, ...], dict[str, pd.DataFrame]] = {}
    root = tmp_path_factory.mktemp("reference")

    def get(dates: tuple[str, ...]) -> dict[str, pd.DataFrame]:
        if dates not in cache:
            con = wh.connect(f"duckdb:///{root / f'{len(dates)}.duckdb'}")
            wh.create_tables(con)
            cache[dates] = run(con, root / f"models{len(dates)}", dates)
        return cache[dates]

    return {"get": get}  # type: ignore[dict-item]


def check(con: Any, tmp_path: Path, reference: dict[Any, Any], dates: tuple[str, ...]) -> None:
    want = reference["get"](dates)
    got = run(con, tmp_path / "models", dates)
    assert set(got) == set(want)
    for name, frame in want.items():
        same(got[name], frame.copy(), name)


def test_the_business_has_the_edges() -> None:
    data = business()
    orders = data["orders"]
    assert (orders["amount"] == 0).any() and (orders["status"] == "returned").any()
    assert data["subscriptions"]["trial_ends_at"].notna().any()
    assert any("東京" in (a or "") for a in data["customers"]["attributes"])
    assert set(data["interactions"]["kind"]) >= {"complaint", "ticket_resolved", "survey_answer"}


def test_churn_is_identical_on_each_engine(
    engine: Any, tmp_path: Path, reference: dict[Any, Any]
) -> None:
    dates = SPARK_DATES if wh.backend_name(engine) == "pyspark" else DATES
    check(engine, tmp_path, reference, dates)


@pytest.fixture
def postgres_linguistic(postgres_server: str) -> Any:
    """A PostgreSQL warehouse whose text sorts by ICU's English rules, as many servers do."""
    import uuid

    import psycopg

    name = f"retain_icu_{uuid.uuid4().hex[:8]}"
    admin = postgres_server.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' "
            "LOCALE 'C.UTF-8'"
        )
    con = wh.connect(postgres_server.rsplit("/", 1)[0] + f"/{name}")
    wh.create_tables(con)
    yield con
    con.disconnect()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_churn_does_not_depend_on_the_collation(
    postgres_linguistic: Any, tmp_path: Path, reference: dict[Any, Any]
) -> None:
    check(postgres_linguistic, tmp_path, reference, DATES)
