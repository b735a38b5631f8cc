"""Which channel reaches a customer: the one they use most, among those they consented to.

Consent is read from ``customers``: e-mail needs ``email_opt_in`` and an address, SMS needs
``sms_opt_in`` and a phone number; a webhook (the business's own tools) needs no consent.
Activity per channel is counted over the last ``window_days`` before ``as_of``: messages the
customer opened, clicked or answered (``interactions``) and events they made on the channel
(``events.channel``). The most active consented channel wins; with no activity on any of them,
the first consented channel of ``fallbacks`` does. A customer with no consented channel has
none, and is skipped with the reason ``no_consent``.

:func:`consent_now` reads the same rule for a few customers at once: the worker asks it again
before sending a message that waited (quiet hours, retries), so consent withdrawn after the
decision (a new ingest of ``customers``) stops the message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import pandas as pd

from retain.errors import InvalidParameterError
from retain.facts import DateLike, as_timestamp
from retain.features import Sources
from retain.i18n import t
from retain.warehouse import read_table, table_exists

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = [
    "ENGAGED_KINDS",
    "Consent",
    "best_channel",
    "channel_activity",
    "consent_now",
    "consented",
]

ENGAGED_KINDS = ("message_opened", "message_clicked", "message_replied", "chat", "call")
"""Interactions that show the customer is reachable on their channel."""


def consented(customers: ir.Table, channel: str) -> ir.BooleanValue:
    """Whether each customer may be sent a message on ``channel``."""
    if channel == "email":
        return (
            customers.email_opt_in.fill_null(False)
            & customers.email.notnull()
            & (customers.email.strip() != "")
        )
    if channel == "sms":
        return (
            customers.sms_opt_in.fill_null(False)
            & customers.phone.notnull()
            & (customers.phone.strip() != "")
        )
    return ibis.literal(channel == "webhook")


def channel_activity(
    sources: Sources, as_of: DateLike, *, window_days: int = 90
) -> ir.Table | None:
    """``(customer_id, channel, n)``: the customer's own activity per channel in the window."""
    run = as_timestamp(as_of)
    start = run - pd.Timedelta(days=window_days)
    parts: list[ir.Table] = []
    if sources.interactions is not None:
        it = sources.interactions
        it = it.filter(
            it.kind.isin(ENGAGED_KINDS) & (it.occurred_at <= run) & (it.occurred_at > start)
        )
        parts.append(it.select("customer_id", channel=it.channel.lower()))
    if sources.events is not None:
        ev = sources.events
        ev = ev.filter((ev.occurred_at <= run) & (ev.occurred_at > start))
        parts.append(ev.select("customer_id", channel=ev.channel.lower()))
    if not parts:
        return None
    rows = parts[0]
    for part in parts[1:]:
        rows = rows.union(part, distinct=False)
    rows = rows.filter(rows.channel.notnull())
    return rows.group_by(["customer_id", "channel"]).agg(n=rows.count())


def best_channel(
    sources: Sources,
    as_of: DateLike,
    *,
    fallbacks: Sequence[str] = ("email", "sms"),
    window_days: int = 90,
) -> ir.Table:
    """``(customer_id, channel)``: each customer's most active consented channel of ``fallbacks``.

    Ties and customers with no recent activity go to the earliest channel in ``fallbacks``.
    Customers with no consented channel among them are absent.
    """
    customers = sources.customers
    if customers is None or not fallbacks:
        raise InvalidParameterError(
            t("engage_playbooks.trigger_needs_table", kind="best channel", table="customers"),
            hint=t("engage_playbooks.trigger_needs_table_hint", table="customers"),
        )
    options: list[ir.Table] = []
    for rank, channel in enumerate(fallbacks):
        ok = customers.filter(consented(customers, channel))
        options.append(
            ok.select("customer_id", channel=ibis.literal(channel), rank=ibis.literal(rank))
        )
    allowed = options[0]
    for part in options[1:]:
        allowed = allowed.union(part, distinct=False)
    activity = channel_activity(sources, as_of, window_days=window_days)
    if activity is not None:
        joined = allowed.left_join(activity, ["customer_id", "channel"])
        allowed = joined.select("customer_id", "channel", "rank", n=joined.n.fill_null(0))
    else:
        allowed = allowed.mutate(n=ibis.literal(0))
    order = ibis.window(group_by=allowed.customer_id, order_by=[allowed.n.desc(), allowed.rank])
    ranked = allowed.mutate(_pick=ibis.row_number().over(order))
    return ranked.filter(ranked._pick == 0).select("customer_id", "channel")


@dataclass(frozen=True)
class Consent:
    """What the warehouse says now about reaching one customer."""

    email: str | None
    email_ok: bool
    phone: str | None
    sms_ok: bool
    country: str | None = None
    """The customer's country, which a national ``phone`` is read in."""


def consent_now(con: BaseBackend, customer_ids: Iterable[str]) -> dict[str, Consent] | None:
    """Each listed customer's consent as :func:`consented` reads it; absent: not a customer.

    None when the warehouse has no ``customers`` table (nothing to check against). One query.
    """
    wanted = sorted(set(customer_ids))
    if not table_exists(con, "customers"):
        return None
    if not wanted:
        return {}
    cust = read_table(con, "customers")
    country = cust.country if "country" in cust.columns else ibis.null("string")
    rows = (
        cust.filter(cust.customer_id.isin(wanted))
        .select(
            "customer_id",
            "email",
            "phone",
            email_ok=consented(cust, "email"),
            sms_ok=consented(cust, "sms"),
            country=country,
        )
        .to_pyarrow()
        .to_pylist()
    )
    return {
        str(r["customer_id"]): Consent(
            email=r["email"],
            email_ok=bool(r["email_ok"]),
            phone=r["phone"],
            sms_ok=bool(r["sms_ok"]),
            country=r["country"],
        )
        for r in rows
    }
