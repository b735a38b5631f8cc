"""A tiny hand-made business: four customers whose every feature can be worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

ts = pd.Timestamp


def tiny_business() -> dict[str, pd.DataFrame]:
    """Customers a (complains), b (subscriber, payment trouble), c (lapsed), d (new after as_of).

    The reference date used by the tests is 2024-04-01.
    """
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "acquired_at": [ts("2023-12-01"), ts("2023-06-01"), ts("2023-01-01"), ts("2024-05-01")],
            "country": ["JP", "KR", "US", "JP"],
            "language": ["ja", "ko", "en", "ja"],
            "acquisition_channel": ["search", "referral", "store", "search"],
            "email_opt_in": [True, False, True, True],
            "sms_opt_in": [False, False, True, False],
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3", "o4", "o5", "o6", "o7"],
            "customer_id": ["a", "a", "a", "b", "c", "a", "d"],
            "ordered_at": [
                ts("2023-12-15"),
                ts("2024-01-05"),
                ts("2024-03-01"),
                ts("2024-02-01"),
                ts("2023-02-01"),
                ts("2024-05-10"),
                ts("2024-05-02"),
            ],
            "amount": [10.0, 20.0, 30.0, 50.0, 40.0, 15.0, 9.0],
            "status": [
                "completed",
                "completed",
                "completed",
                "completed",
                "completed",
                "completed",
                "completed",
            ],
            "discount_amount": [0.0, 5.0, 0.0, None, 10.0, 0.0, 0.0],
            "channel": ["web"] * 7,
        }
    )
    events = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(9)],
            "customer_id": ["b", "b", "b", "b", "b", "b", "a", "b", "d"],
            "occurred_at": [
                ts("2023-11-01"),
                ts("2023-11-15"),
                ts("2023-12-01"),
                ts("2024-02-10"),
                ts("2024-03-20"),
                ts("2024-03-25"),
                ts("2024-03-30"),
                ts("2024-04-15"),
                ts("2024-05-03"),
            ],
            "name": [
                "login",
                "login",
                "login",
                "login",
                "payment_failed",
                "cancel_page_view",
                "login",
                "login",
                "login",
            ],
            "channel": ["app", "app", "web", "app", None, "web", "web", "app", "app"],
        }
    )
    subscriptions = pd.DataFrame(
        {
            "subscription_id": ["s1", "s2"],
            "customer_id": ["b", "b"],
            "plan": ["basic", "pro"],
            "started_at": [ts("2023-06-01"), ts("2023-09-01")],
            "ended_at": [ts("2023-09-01"), ts("2024-05-15")],
            "billing_period": ["month", "month"],
            "amount": [10.0, 25.0],
            "contract_ends_at": [None, ts("2024-06-01")],
        }
    )
    interactions = pd.DataFrame(
        {
            "interaction_id": [f"i{i}" for i in range(9)],
            "customer_id": ["a", "a", "a", "a", "b", "b", "b", "a", "c"],
            "occurred_at": [
                ts("2024-02-01"),
                ts("2024-02-03"),
                ts("2024-03-10"),
                ts("2024-03-12"),
                ts("2023-10-01"),
                ts("2024-01-01"),
                ts("2024-03-01"),
                ts("2024-04-05"),
                ts("2023-01-15"),
            ],
            "kind": [
                "complaint",
                "ticket_resolved",
                "complaint",
                "survey_answer",
                "message_sent",
                "survey_answer",
                "survey_answer",
                "ticket_resolved",
                "message_sent",
            ],
            "channel": ["phone", "phone", "chat", "web", "email", "web", "web", "chat", "email"],
            "properties": [
                '{"ticket_id": "T1"}',
                '{"ticket_id": "T1"}',
                '{"ticket_id": "T2"}',
                '{"survey": "nps", "score": 3}',
                None,
                '{"score": 9}',
                '{"score": 5}',
                '{"ticket_id": "T2"}',
                None,
            ],
        }
    )
    # Units: a's o1 3 (two lines), o2 1, o3 3 (4 bought, 1 returned), o6 9 (after as_of);
    # b's o4 5; c's o5 has no lines; d's o7 1.
    order_lines = pd.DataFrame(
        {
            "order_id": ["o1", "o1", "o2", "o3", "o3", "o4", "o6", "o7"],
            "line_no": [1, 2, 1, 1, 2, 1, 1, 1],
            "product_id": ["p1", "p2", "p1", "p3", "p3", "p2", "p1", "p1"],
            "quantity": [1, 2, 1, 4, -1, 5, 9, 1],
            "unit_price": [4.0, 3.0, 25.0, 7.5, 7.5, 10.0, 15.0 / 9, 9.0],
        }
    )
    return {
        "customers": customers,
        "orders": orders,
        "order_lines": order_lines,
        "events": events,
        "subscriptions": subscriptions,
        "interactions": interactions,
    }


@pytest.fixture
def business() -> dict[str, pd.DataFrame]:
    """Fresh frames for each test (tests may append rows)."""
    return tiny_business()


@pytest.fixture
def make_business():  # type: ignore[no-untyped-def]
    """The factory itself, for property tests that need a fresh business per example."""
    return tiny_business
