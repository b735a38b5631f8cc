"""The most active consented channel, with fallbacks in order."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from retain.engage.channels import best_channel
from retain.features import Sources

NOW = dt.datetime(2024, 6, 30)


def _sources() -> Sources:
    customers = pd.DataFrame(
        [
            # both consented, opens e-mail rarely, SMS often: SMS
            {
                "customer_id": "k1",
                "email": "k1@x.io",
                "phone": "1",
                "email_opt_in": True,
                "sms_opt_in": True,
            },
            # SMS activity but no SMS consent: e-mail, the only consented channel
            {
                "customer_id": "k2",
                "email": "k2@x.io",
                "phone": "2",
                "email_opt_in": True,
                "sms_opt_in": False,
            },
            # no activity: the first consented fallback (e-mail)
            {
                "customer_id": "k3",
                "email": "k3@x.io",
                "phone": "3",
                "email_opt_in": True,
                "sms_opt_in": True,
            },
            # consent but no address: nothing
            {
                "customer_id": "k4",
                "email": None,
                "phone": None,
                "email_opt_in": True,
                "sms_opt_in": True,
            },
            # recent SMS activity is old (outside the window): fallback order
            {
                "customer_id": "k5",
                "email": "k5@x.io",
                "phone": "5",
                "email_opt_in": True,
                "sms_opt_in": True,
            },
        ]
    )
    rows = []
    for cid, channel, n, days in (
        ("k1", "email", 1, 5),
        ("k1", "sms", 4, 5),
        ("k2", "sms", 9, 5),
        ("k5", "sms", 9, 200),
    ):
        for i in range(n):
            rows.append(
                {
                    "interaction_id": f"{cid}{channel}{i}",
                    "customer_id": cid,
                    "occurred_at": NOW - dt.timedelta(days=days, hours=i),
                    "kind": "message_opened",
                    "channel": channel,
                }
            )
    rows.append(
        {
            "interaction_id": "sent",
            "customer_id": "k3",
            "occurred_at": NOW,
            "kind": "message_sent",
            "channel": "sms",
        }
    )  # a send is not the customer's activity
    orders = pd.DataFrame({"customer_id": ["k1"], "ordered_at": [NOW], "amount": [1.0]})
    return Sources.from_tables(
        {"customers": customers, "interactions": pd.DataFrame(rows), "orders": orders}
    )


def test_most_active_consented_channel_then_fallbacks() -> None:
    got = best_channel(_sources(), NOW, fallbacks=("email", "sms")).to_pandas()
    assert dict(zip(got["customer_id"], got["channel"], strict=True)) == {
        "k1": "sms",
        "k2": "email",
        "k3": "email",
        "k5": "email",
    }
    # fallbacks in the other order: k3 and k5 (no recent activity) go to SMS
    other = best_channel(_sources(), NOW, fallbacks=("sms", "email")).to_pandas()
    assert dict(zip(other["customer_id"], other["channel"], strict=True))["k3"] == "sms"
    assert dict(zip(other["customer_id"], other["channel"], strict=True))["k5"] == "sms"
    # only e-mail allowed: k1 gets e-mail
    only = best_channel(_sources(), NOW, fallbacks=("email",)).to_pandas()
    assert set(only["channel"]) == {"email"} and "k4" not in set(only["customer_id"])
