"""Customer attributes as features: discovery rules, extraction on every engine, outcome proxies."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest

import retain.warehouse as wh
from retain.config import ChurnDefinition
from retain.errors import InvalidParameterError
from retain.features import feature_snapshot
from retain.features.attributes import (
    AttributeFeature,
    attribute_value,
    discover_attributes,
    json_text,
    outcome_proxies,
)

AS_OF = "2024-04-01"
ANY = ChurnDefinition(activity="any")

# Every value form a JSON export holds: quoted and bare numbers, blanks, null, booleans, escapes,
# keys in Japanese and with a space.
TRICKY = [
    '{"plan": "gold", "spend": "29.85", "age": 41, "vip": true, "会員 ランク": "ゴールド"}',
    '{"plan": "silver", "spend": " ", "age": null, "vip": false, "note": "say \\"hi\\""}',
    # "一般" as an ASCII-only writer (Python's json.dumps) spells it:
    '{"plan": "", "spend": "1e3", "age": -2.5, "tags": ["a", "b"], '
    '"会員 ランク": "\\u4e00\\u822c"}',
    '{"spend": "abc", "age": "7", "deep": {"plan": "nested"}}',
    None,
]


def _customers(texts: Sequence[str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(len(texts))],
            "acquired_at": pd.Timestamp("2023-01-01"),
            "attributes": texts,
        }
    )


def _python_value(text: str | None, key: str) -> Any:
    """What the regex extraction must return, worked out with a JSON parser."""
    if text is None:
        return None
    value = json.loads(text).get(key)
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value else None
    return json.dumps(value)


@pytest.mark.parametrize(
    "key", ["plan", "spend", "age", "vip", "会員 ランク", "tags", "deep", "note"]
)
def test_json_text_matches_a_json_parser(key: str) -> None:
    frame = _customers(TRICKY)
    table = ibis.memtable(frame)
    got = table.select(v=json_text(table.attributes, key)).to_pandas()["v"]
    want = [_python_value(t, key) for t in TRICKY]
    assert [None if pd.isna(v) else v for v in got] == want


def test_escapes_are_decoded() -> None:
    frame = _customers(TRICKY)
    table = ibis.memtable(frame)
    got = table.select(
        note=json_text(table.attributes, "note"), rank=json_text(table.attributes, "会員 ランク")
    ).to_pandas()
    assert got["note"].iloc[1] == 'say "hi"'
    assert got["rank"].iloc[2] == "一般"


ESCAPES = [
    ("a\\\\b", "a\\b"),  # an escaped backslash
    ("x\\/y\\tz", "x/y\tz"),
    ("\\ud83d\\ude00", "\U0001f600"),  # a surrogate pair
    ("\\u30B4", "ゴ"),  # upper-case hex
    ("bad \\q", "bad \\q"),  # invalid escape: kept as written, the query still runs
    ("lone \\ud800", "lone \\ud800"),  # a high surrogate without its pair
    ("nul \\u0000", "nul \\u0000"),  # PostgreSQL text cannot hold U+0000
    ("C:\\\\u0000x", "C:\\u0000x"),  # an escaped backslash, then the letters u0000
    ('raw\ttab \\"q\\"', 'raw\ttab \\"q\\"'),  # a raw control character: not JSON
]


# Where PySpark's JSON parser (Jackson, lenient) differs, by index into ESCAPES: an invalid
# escape or a lone surrogate makes the whole object unreadable, \u0000 and raw control
# characters are taken as they come.
SPARK_ESCAPES: dict[int, str | None] = {4: None, 5: None, 6: "nul \x00", 8: 'raw\ttab "q"'}


def _escapes_read(con: Any) -> list[Any]:
    wh.write_table(con, "customers", _customers(['{"k": "' + i + '"}' for i, _ in ESCAPES]))
    table = con.table("customers").order_by("customer_id")
    return list(table.select(v=json_text(table.attributes, "k")).to_pandas()["v"])


def test_every_escape_form_decodes_or_stays_as_written() -> None:
    assert _escapes_read(wh.connect("duckdb://")) == [want for _, want in ESCAPES]


def test_escape_forms_on_every_engine(engine: Any) -> None:
    """Valid escapes read alike everywhere; what JSON forbids, PySpark's parser reads its own way
    (the whole object unreadable: NULL; ``\\u0000`` as the character itself)."""
    want = [w for _, w in ESCAPES]
    if engine.name == "pyspark":
        want = [SPARK_ESCAPES.get(i, w) for i, (_, w) in enumerate(ESCAPES)]
    assert _escapes_read(engine) == want


@pytest.mark.postgres
def test_every_escape_form_reads_the_same_on_postgres(postgres_warehouse: Any) -> None:
    assert _escapes_read(postgres_warehouse) == [want for _, want in ESCAPES]


def test_unreadable_key_is_refused_with_a_hint() -> None:
    with pytest.raises(InvalidParameterError, match="only letters, digits") as info:
        json_text(ibis.memtable(_customers(TRICKY)).attributes, 'a"b')
    assert "rename the key" in (info.value.hint or "")


def _population(n: int) -> pd.DataFrame:
    """``n`` customers with one attribute of each kind discovery must tell apart."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(n):
        attrs: dict[str, Any] = {
            "contract": ["monthly", "yearly", "two-year"][i % 3],
            "charges": f"{rng.uniform(20, 120):.2f}",  # numbers written as text (Telco)
            "senior": int(i % 5 == 0),
            "member_no": 100000 + i,  # distinct whole numbers: an identifier
            "email": f"user{i}@example.com",  # free text
            "country_code": "JP",  # constant
            "nested": {"a": 1},
        }
        if i % 200 == 0:
            attrs["rare"] = "x"  # 0.5% of customers
        if i % 10 == 0:
            attrs["charges"] = " "  # blanks do not make a number a category
        rows.append(json.dumps(attrs))
    return _customers(rows)


def test_auto_discovery_keeps_numbers_and_categories_and_says_why_others_are_left_out() -> None:
    table = ibis.memtable(_population(1000))
    found, notes = discover_attributes(table)
    assert [(f.key, f.name, f.kind) for f in found] == [
        ("contract", "attr_contract", "categorical"),
        ("charges", "attr_charges", "numeric"),
        ("senior", "attr_senior", "numeric"),
    ]
    text = "\n".join(notes)
    for key, why in [
        ("member_no", "identifier"),
        ("email", "free text"),
        ("country_code", "same value"),
        ("nested", "nested"),
        ("rare", "only 5 of 1000"),
    ]:
        assert f"attribute {key} left out" in text and why in text, (key, text)


def test_exclusion_and_explicit_lists() -> None:
    table = ibis.memtable(_population(300))
    found, _ = discover_attributes(table, exclude=["contract"])
    assert "contract" not in {f.key for f in found}
    found, notes = discover_attributes(table, include=["email", "charges"])
    assert [(f.key, f.kind) for f in found] == [("email", "categorical"), ("charges", "numeric")]
    assert notes == []


def test_listing_a_key_nobody_has_names_the_keys_that_exist() -> None:
    table = ibis.memtable(_population(50))
    with pytest.raises(InvalidParameterError, match="plan_tier") as info:
        discover_attributes(table, include=["plan_tier"])
    assert "charges" in (info.value.hint or "") and "contract" in (info.value.hint or "")


def test_listing_a_nested_key_is_an_error_that_says_so() -> None:
    texts = [json.dumps({"prefs": {"mail": True}, "plan": "gold"})] * 20
    with pytest.raises(InvalidParameterError, match="attribute prefs left out: its values are"):
        discover_attributes(ibis.memtable(_customers(texts)), include=["prefs"])


def test_a_key_listed_twice_is_one_feature() -> None:
    found, _ = discover_attributes(ibis.memtable(_population(50)), include=["charges", "charges"])
    assert [f.name for f in found] == ["attr_charges"]


def test_numbers_a_double_cannot_hold_are_missing_not_infinite() -> None:
    texts = [json.dumps({"spend": v}) for v in ["1e999", "-1e-999", "12.5", "1" * 250, " 7 "]]
    feature = AttributeFeature("spend", "attr_spend", "numeric")
    table = ibis.memtable(_customers(texts))
    got = table.select(v=attribute_value(table.attributes, feature))
    values = got.to_pandas()["v"].tolist()
    assert [None if pd.isna(v) else v for v in values] == [None, None, 12.5, None, 7.0]
    found, _ = discover_attributes(ibis.memtable(_customers(texts * 20)), include=["spend"])
    assert found[0].kind == "categorical"  # 2 of 5 values are numbers a double holds


def test_only_json_whitespace_is_trimmed() -> None:
    texts = [json.dumps({"tier": "gold\u3000"}, ensure_ascii=False), '{"tier": "  gold  "}']
    feature = AttributeFeature("tier", "attr_tier", "categorical")
    table = ibis.memtable(_customers(texts))
    got = table.select(v=attribute_value(table.attributes, feature))
    assert got.to_pandas()["v"].tolist() == ["gold\u3000", "gold"]


def test_broken_json_and_missing_column_are_skipped_not_fatal() -> None:
    broken = _customers(['{"plan": "gold"', "not json", "[1, 2]", '{"plan": "gold"}'] * 30)
    found, _ = discover_attributes(ibis.memtable(broken))
    assert found == []  # one parsed value, constant
    assert discover_attributes(None) == ([], [])
    no_column = ibis.memtable(pd.DataFrame({"customer_id": ["a"]}))
    assert discover_attributes(no_column) == ([], [])


def test_feature_names_are_safe_for_lightgbm_and_unique() -> None:
    texts = [
        json.dumps({"a b": i % 3, "a.b": i % 4, "会員 ランク": "xyz"[i % 3]}) for i in range(90)
    ]
    found, _ = discover_attributes(ibis.memtable(_customers(texts)))
    assert [f.name for f in found] == ["attr_a_b", "attr_a_b_2", "attr_会員_ランク"]


def test_model_card_round_trip_and_bad_kind() -> None:
    feature = AttributeFeature("charges", "attr_charges", "numeric")
    assert AttributeFeature.from_dict(feature.to_dict()) == feature
    with pytest.raises(InvalidParameterError, match="unknown kind"):
        AttributeFeature.from_dict({"key": "x", "name": "attr_x", "kind": "date"})


FEATURES = [
    AttributeFeature("plan", "attr_plan", "categorical"),
    AttributeFeature("spend", "attr_spend", "numeric"),
    AttributeFeature("age", "attr_age", "numeric"),
    AttributeFeature("vip", "attr_vip", "categorical"),
    AttributeFeature("会員 ランク", "attr_会員_ランク", "categorical"),
]
WANT = pd.DataFrame(
    {
        "attr_plan": ["gold", "silver", None, None, None],
        "attr_spend": [29.85, np.nan, 1000.0, np.nan, np.nan],
        "attr_age": [41.0, np.nan, -2.5, 7.0, np.nan],
        "attr_vip": ["true", "false", None, None, None],
        "attr_会員_ランク": ["ゴールド", None, "一般", None, None],
    },
    index=pd.Index([f"c{i:04d}" for i in range(5)], name="customer_id"),
)


def _tables() -> dict[str, pd.DataFrame]:
    customers = _customers(TRICKY)
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(5)],
            "customer_id": customers["customer_id"],
            "ordered_at": pd.Timestamp("2024-03-01"),
            "amount": 10.0,
            "status": "completed",
        }
    )
    return {"customers": customers, "orders": orders}


def _snap(source: Any) -> pd.DataFrame:
    frame = feature_snapshot(source, as_of=AS_OF, definition=ANY, attributes=FEATURES)
    out: pd.DataFrame = frame.to_pandas().set_index("customer_id")
    return out[list(WANT.columns)]


def test_snapshot_adds_attribute_columns_after_the_catalog() -> None:
    got = _snap(_tables())
    pd.testing.assert_frame_equal(got, WANT, check_dtype=False)
    assert got["attr_spend"].dtype == "float64"


def test_same_attribute_features_on_every_engine(engine: object) -> None:
    for name, frame in _tables().items():
        wh.write_table(engine, name, frame)
    pd.testing.assert_frame_equal(_snap(engine), WANT, check_dtype=False)


@pytest.mark.postgres
def test_same_attribute_features_on_postgres(postgres_warehouse: object) -> None:
    for name, frame in _tables().items():
        wh.write_table(postgres_warehouse, name, frame)
    pd.testing.assert_frame_equal(_snap(postgres_warehouse), WANT, check_dtype=False)


def test_outcome_proxies_find_a_copy_of_the_label_and_spare_real_signal() -> None:
    rng = np.random.default_rng(3)
    churned = rng.integers(0, 2, 2000)
    panel = pd.DataFrame(
        {
            "churned": churned,
            "attr_status": np.where(churned == 1, "cancelled", "active"),
            "attr_days_left": np.where(churned == 1, 0.0, rng.uniform(1, 300, 2000)),
            "attr_contract": np.where(
                rng.uniform(size=2000) < 0.3 + 0.4 * churned, "monthly", "yearly"
            ),
            "attr_charges": rng.normal(70 + 10 * churned, 20),
        }
    )
    features = [
        AttributeFeature("status", "attr_status", "categorical"),
        AttributeFeature("days_left", "attr_days_left", "numeric"),
        AttributeFeature("contract", "attr_contract", "categorical"),
        AttributeFeature("charges", "attr_charges", "numeric"),
        AttributeFeature("absent", "attr_absent", "numeric"),
    ]
    found = {f.key: auc for f, auc in outcome_proxies(panel, features)}
    assert set(found) == {"status", "days_left"}
    assert found["status"] == pytest.approx(1.0)


TOP_LEVEL = [
    ('{"deep": {"plan": "inner"}, "plan": "top"}', "top"),
    ('{"a": [{"plan": "x"}, {"b": {"plan": "y"}}], "plan": "top"}', "top"),
    ('{"note": "\\"plan\\": \\"fake\\"", "plan": "top"}', "top"),
    ('{"a": "plan", "plan": "top"}', "top"),
    ('{"deep": {"plan": "inner"}}', None),
    (json.dumps({"会員 ランク": "top"}), "top"),  # key written as \\uXXXX escapes
]


def _key(text: str) -> str:
    return "会員 ランク" if "\\u" in text else "plan"


@pytest.mark.parametrize(("text", "want"), TOP_LEVEL)
def test_only_the_top_level_key_is_read(text: str, want: str | None) -> None:
    frame = _customers([text])
    table = ibis.memtable(frame)
    got = table.select(v=json_text(table.attributes, _key(text))).to_pandas()["v"]
    assert (None if pd.isna(got.iloc[0]) else got.iloc[0]) == want


# A wide customer: a long string and hundreds of keys before the one read (Java's regex engine
# overflowed its stack on such rows, which is why PySpark reads JSON natively).
WIDE = json.dumps({"note": "x" * 20_000, **{f"k{i}": "v" for i in range(500)}, "plan": "wide"})


def _extracted(con: Any) -> list[Any]:
    """json_text of every test string, read in the engine behind ``con``."""
    texts = [t for t, _ in TOP_LEVEL] + [t for t in TRICKY if t is not None] + [WIDE]
    wh.write_table(con, "customers", _customers(texts))
    table = con.table("customers").order_by("customer_id")
    keys = [_key(t) for t, _ in TOP_LEVEL] + ["plan", "age", "note", "会員 ランク"]
    got = table.select(
        **{f"k{i}": json_text(table.attributes, k) for i, k in enumerate(keys)}
    ).to_pandas()
    return [[None if pd.isna(v) else v for v in got[c]] for c in got.columns]


def _discovered(con: Any) -> tuple[list[AttributeFeature], list[str]]:
    wh.write_table(con, "customers", _population(300))
    return discover_attributes(con.table("customers"))


def test_json_text_and_discovery_are_the_same_on_every_engine(engine: Any) -> None:
    want = _extracted(wh.connect("duckdb://"))
    assert want[len(TOP_LEVEL)][-1] == "wide"
    assert _extracted(engine) == want
    assert _discovered(engine) == _discovered(wh.connect("duckdb://"))


@pytest.mark.postgres
def test_json_text_and_discovery_are_the_same_on_postgres(postgres_warehouse: Any) -> None:
    assert _extracted(postgres_warehouse) == _extracted(wh.connect("duckdb://"))
    assert _discovered(postgres_warehouse) == _discovered(wh.connect("duckdb://"))


def test_many_small_random_categories_are_not_taken_for_the_outcome() -> None:
    """Each category's churn rate is measured on its own few rows, so small categories would
    separate churners by chance; they are pooled first."""
    feature = AttributeFeature("shop", "attr_shop", "categorical")
    for seed in range(20):
        rng = np.random.default_rng(seed)
        panel = pd.DataFrame(
            {
                "churned": (rng.random(200) < 0.05).astype(int),
                "attr_shop": rng.integers(0, 100, 200).astype(str),
            }
        )
        assert outcome_proxies(panel, [feature]) == [], seed


def test_the_sample_spans_the_whole_table_not_its_first_ids() -> None:
    """Ids often encode an era: keys that only later customers have must still be found."""
    texts = [
        json.dumps({"old_tier": "abc"[i % 3]} if i < 500 else {"new_tier": "xyz"[i % 3]})
        for i in range(1000)
    ]
    found, _ = discover_attributes(ibis.memtable(_customers(texts)), sample_rows=100)
    assert {f.key for f in found} == {"old_tier", "new_tier"}
