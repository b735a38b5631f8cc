"""A synthetic business of any size, written to Parquet chunk by chunk with bounded memory.

The analytics benchmark's in-memory generator peaked at 13.7 GB for 200,000 customers, so the
issue-5 size (1M customers, 50M orders, 100M events) could not run. This one builds
``chunk_customers`` customers at a time with numpy, writes each canonical table's share of them
as one Parquet file (``<folder>/<table>/part-NNNNN.parquet``) and drops it: peak memory is one
chunk's worth whatever the number of customers. Each chunk has its own random stream
(``seed``, chunk number), so a chunk's rows do not depend on how many chunks follow.

The business, over two years from 2024-01-01:

- customers join uniformly and stay for an exponential lifetime (mean 8 months); those whose
  lifetime ends inside the window have churned (their subscription ends then, they stop buying
  and stop using the product);
- order counts are skewed: 1 + Poisson(rate x days active), the rate Gamma(0.6) per customer and
  scaled so that the mean is ``orders_per_customer``; the first order is at joining; 3 % are
  returns; basket sizes vary by customer;
- events (page views, logins, app sessions, a few payment failures and cancel-page views) and
  interactions (messages, tickets, complaints, survey answers) fall while the customer is active;
- 30 % of customers hold one subscription (monthly or annual).

Columns and types are those of ``retain.schema`` (``retain ingest`` accepts the folders as they
are; ``tests/benchmarks/test_large_business.py`` checks it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

START_US = int(np.datetime64("2024-01-01T00:00:00", "us").astype("int64"))
SPAN_S = 731 * 86_400  # 2024-01-01 .. 2026-01-01
MEAN_LIFE_S = SPAN_S / 3
ORDER_SHAPE = 0.6  # Gamma shape of the per-customer order rate: small = heavy skew
EVENT_SHAPE = 1.0
# E[days active] for a uniform join time and an exponential lifetime cut at the window's end:
# E[min(L, S - J)] = m - m^2 / S * (1 - exp(-S / m)) with m the mean lifetime.
MEAN_ACTIVE_DAYS = (
    MEAN_LIFE_S - MEAN_LIFE_S**2 / SPAN_S * (1 - math.exp(-SPAN_S / MEAN_LIFE_S))
) / 86_400
TABLES = ("customers", "orders", "order_lines", "events", "subscriptions", "interactions")

_MARKETS = (  # country, language, time zone: consistent per customer
    ("JP", "ja", "Asia/Tokyo"),
    ("KR", "ko", "Asia/Seoul"),
    ("US", "en", "America/New_York"),
    ("DE", "de", "Europe/Berlin"),
    ("BR", "pt-BR", "America/Sao_Paulo"),
)
_MARKET_P = (0.35, 0.2, 0.25, 0.1, 0.1)
_EVENT_NAMES = ("page_view", "login", "app_session", "payment_failed", "cancel_page_view")
_EVENT_P = (0.5, 0.25, 0.2, 0.03, 0.02)
_KINDS = (
    "message_sent",
    "message_opened",
    "ticket_opened",
    "ticket_resolved",
    "complaint",
    "survey_answer",
)
_KIND_P = (0.5, 0.2, 0.08, 0.07, 0.05, 0.1)


@dataclass
class Written:
    """What :func:`write_business` wrote: rows per table, chunks, and the folder."""

    folder: Path
    chunks: int = 0
    rows: dict[str, int] = field(default_factory=dict)


def _ids(prefix: str, start: int, count: int) -> pa.Array:
    """``prefix`` + the integers ``start .. start + count - 1`` as strings (Arrow, no Python)."""
    numbers = pa.array(np.arange(start, start + count, dtype=np.int64)).cast(pa.string())
    return pc.binary_join_element_wise(prefix, numbers, "")


def _stamps(seconds: np.ndarray) -> pa.Array:
    """Seconds after 2024-01-01 as naive UTC timestamps (microseconds, whole seconds)."""
    us = START_US + seconds.astype(np.int64) * 1_000_000
    return pa.array(us, type=pa.timestamp("us"))


def _money(values: np.ndarray) -> pa.Array:
    """Amounts rounded to cents, as the canonical decimal(18, 4)."""
    return pa.array(np.round(values, 2)).cast(pa.decimal128(18, 4))


def _pick(
    rng: np.random.Generator, options: tuple[str, ...], p: tuple[float, ...], n: int
) -> pa.Array:
    """``n`` draws from ``options`` as a dictionary-encoded-free string array."""
    codes = rng.choice(len(options), n, p=p)
    return pa.array(np.asarray(options, dtype=object)[codes], type=pa.string())


def _times_within(
    rng: np.random.Generator, owner: np.ndarray, join: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """For each row's customer ``owner``, a time uniform in that customer's active span."""
    times: np.ndarray = join[owner] + rng.random(owner.size) * (end[owner] - join[owner])
    return times


def _chunk(
    chunk_no: int,
    first: int,
    n: int,
    *,
    seed: int,
    orders_per: float,
    events_per: float,
    interactions_per: float,
    order_lines: bool,
    next_order: int,
    next_event: int,
    next_interaction: int,
) -> dict[str, pa.Table]:
    """The rows of customers ``first .. first + n - 1``, one Arrow table per canonical table."""
    rng = np.random.default_rng([seed, chunk_no])
    ids = _ids("c", first, n)
    join = rng.random(n) * SPAN_S
    life = rng.exponential(MEAN_LIFE_S, n)
    end = np.minimum(join + life, SPAN_S - 1)
    churned = join + life < SPAN_S
    days = (end - join) / 86_400
    market = rng.choice(len(_MARKETS), n, p=_MARKET_P)
    out: dict[str, pa.Table] = {}
    out["customers"] = pa.table(
        {
            "customer_id": ids,
            "acquired_at": _stamps(join),
            "country": pa.array([_MARKETS[m][0] for m in range(5)]).take(market),
            "language": pa.array([_MARKETS[m][1] for m in range(5)]).take(market),
            "time_zone": pa.array([_MARKETS[m][2] for m in range(5)]).take(market),
            "acquisition_channel": _pick(
                rng, ("search", "referral", "social", "store"), (0.4, 0.2, 0.25, 0.15), n
            ),
            "email_opt_in": pa.array(rng.random(n) < 0.6),
            "sms_opt_in": pa.array(rng.random(n) < 0.25),
        }
    )

    # Orders: 1 + Poisson(rate x days active), rate ~ Gamma(ORDER_SHAPE) with mean
    # (orders_per - 1) / E[days active]; the first order on the day the customer joins.
    rate = rng.gamma(ORDER_SHAPE, (orders_per - 1) / (ORDER_SHAPE * MEAN_ACTIVE_DAYS), n)
    counts = 1 + rng.poisson(rate * days)
    owner = np.repeat(np.arange(n), counts)
    at = _times_within(rng, owner, join, end)
    at[np.r_[0, np.cumsum(counts)[:-1]]] = join
    basket = rng.gamma(4.0, 0.25, n)  # per-customer scale of the basket, mean 1
    amount = rng.gamma(2.0, 30.0, owner.size) * basket[owner]
    discount = np.where(rng.random(owner.size) < 0.15, amount * 0.1, 0.0)
    order_ids = _ids("o", next_order, owner.size)
    out["orders"] = pa.table(
        {
            "order_id": order_ids,
            "customer_id": ids.take(pa.array(owner)),
            "ordered_at": _stamps(at),
            "amount": _money(amount),
            "status": _pick(rng, ("completed", "returned"), (0.97, 0.03), owner.size),
            "channel": _pick(rng, ("web", "app", "store"), (0.55, 0.35, 0.1), owner.size),
            "discount_amount": _money(discount),
        }
    )
    if order_lines:
        per_order = rng.integers(1, 4, owner.size)
        line_of = np.repeat(np.arange(owner.size), per_order)
        starts = np.r_[0, np.cumsum(per_order)[:-1]]
        line_no = np.arange(line_of.size) - np.repeat(starts, per_order) + 1
        product = np.minimum(rng.zipf(1.3, line_of.size), 5_000)
        out["order_lines"] = pa.table(
            {
                "order_id": order_ids.take(pa.array(line_of)),
                "line_no": pa.array(line_no, type=pa.int64()),
                "product_id": _ids("p", 0, 5_001).take(pa.array(product)),
                "quantity": pa.array(np.ones(line_of.size, dtype=np.int64)),
                "unit_price": _money(amount[line_of] / per_order[line_of]),
                "category": _pick(
                    rng, ("apparel", "home", "beauty", "food"), (0.4, 0.25, 0.2, 0.15), line_of.size
                ),
            }
        )

    # Events while active, Poisson(rate x days active) with a Gamma(EVENT_SHAPE) rate.
    e_rate = rng.gamma(EVENT_SHAPE, events_per / (EVENT_SHAPE * MEAN_ACTIVE_DAYS), n)
    e_owner = np.repeat(np.arange(n), rng.poisson(e_rate * days))
    out["events"] = pa.table(
        {
            "event_id": _ids("e", next_event, e_owner.size),
            "customer_id": ids.take(pa.array(e_owner)),
            "occurred_at": _stamps(_times_within(rng, e_owner, join, end)),
            "name": _pick(rng, _EVENT_NAMES, _EVENT_P, e_owner.size),
            "channel": _pick(rng, ("web", "app"), (0.6, 0.4), e_owner.size),
        }
    )

    # One subscription for 30 % of customers, ended when the customer churned.
    subs = np.flatnonzero(rng.random(n) < 0.3)
    k = subs.size
    yearly = rng.random(k) < 0.15
    terms = np.floor(days[subs] / 365) + 1
    trial = rng.random(k) < 0.1
    pro = rng.random(k) < 0.35
    ended = churned[subs]
    out["subscriptions"] = pa.table(
        {
            "subscription_id": _ids("s", first, n).take(pa.array(subs)),
            "customer_id": ids.take(pa.array(subs)),
            "plan": pa.array(np.where(pro, "pro", "basic").astype(object), type=pa.string()),
            "started_at": _stamps(join[subs]),
            "ended_at": pa.array(
                START_US + end[subs].astype(np.int64) * 1_000_000,
                type=pa.timestamp("us"),
                mask=~ended,
            ),
            "billing_period": pa.array(
                np.where(yearly, "year", "month").astype(object), type=pa.string()
            ),
            "amount": _money(np.where(pro, 29.99, 9.99) * np.where(yearly, 10, 1)),
            "cancel_reason": pa.array(
                np.asarray(("price", "not_using", "switched", "other"), dtype=object)[
                    rng.integers(0, 4, k)
                ],
                type=pa.string(),
                mask=~ended,
            ),
            "trial_ends_at": pa.array(
                START_US + (join[subs] + 14 * 86_400).astype(np.int64) * 1_000_000,
                type=pa.timestamp("us"),
                mask=~trial,
            ),
            "contract_ends_at": pa.array(
                START_US + (join[subs] + terms * 365 * 86_400).astype(np.int64) * 1_000_000,
                type=pa.timestamp("us"),
                mask=~yearly,
            ),
        }
    )

    # Interactions: messages, tickets (opened, resolved, complaints) and survey answers.
    i_owner = np.repeat(np.arange(n), rng.poisson(interactions_per, n))
    m = i_owner.size
    kind_code = rng.choice(len(_KINDS), m, p=_KIND_P)
    kind = pa.array(np.asarray(_KINDS, dtype=object)[kind_code], type=pa.string())
    # Four tickets per customer at most, so an opened and a resolved row can share one.
    ticket_no = pa.array((first + i_owner) * 4 + rng.integers(0, 4, m)).cast(pa.string())
    ticket = pc.binary_join_element_wise('{"ticket_id": "T', ticket_no, '"}', "")
    score_no = pa.array(rng.integers(0, 11, m)).cast(pa.string())
    score = pc.binary_join_element_wise('{"score": ', score_no, "}", "")
    is_message = kind_code <= 1
    no_text = pa.nulls(m, pa.string())
    properties = pc.if_else(
        pa.array(np.isin(kind_code, (2, 3, 4))),
        ticket,
        pc.if_else(pa.array(kind_code == 5), score, no_text),
    )
    campaign = _ids("camp", 1, 20).take(pa.array(rng.integers(0, 20, m)))
    out["interactions"] = pa.table(
        {
            "interaction_id": _ids("i", next_interaction, m),
            "customer_id": ids.take(pa.array(i_owner)),
            "occurred_at": _stamps(_times_within(rng, i_owner, join, end)),
            "kind": kind,
            "channel": pa.array(
                np.where(is_message, "email", "chat").astype(object), type=pa.string()
            ),
            "campaign_id": pc.if_else(pa.array(is_message), campaign, no_text),
            "properties": properties,
        }
    )
    return out


def write_business(
    folder: Path,
    customers: int,
    *,
    orders_per_customer: float = 50,
    events_per_customer: float = 100,
    interactions_per_customer: float = 4,
    order_lines: bool = False,
    chunk_customers: int = 50_000,
    seed: int = 7,
    on_chunk: Callable[[Written], None] | None = None,
) -> Written:
    """Write a business of ``customers`` customers under ``folder``, one chunk at a time.

    Each canonical table goes to ``folder/<table>/part-NNNNN.parquet``, one file per chunk
    (``order_lines`` only when asked: at 50 orders per customer it is the largest table and the
    analytics do not read it). ``on_chunk`` is called after each chunk with the running totals.
    Peak memory grows with ``chunk_customers`` (about 1 GB per 50,000 customers at the
    default rates), not with ``customers``.
    """
    if orders_per_customer < 1:
        raise ValueError("orders_per_customer must be at least 1 (every customer orders once)")
    written = Written(folder=folder, rows=dict.fromkeys(TABLES, 0))
    tables = [t for t in TABLES if order_lines or t != "order_lines"]
    for table in tables:
        (folder / table).mkdir(parents=True, exist_ok=True)
    for chunk_no, first in enumerate(range(0, customers, chunk_customers)):
        n = min(chunk_customers, customers - first)
        parts = _chunk(
            chunk_no,
            first,
            n,
            seed=seed,
            orders_per=orders_per_customer,
            events_per=events_per_customer,
            interactions_per=interactions_per_customer,
            order_lines=order_lines,
            next_order=written.rows["orders"],
            next_event=written.rows["events"],
            next_interaction=written.rows["interactions"],
        )
        for table, rows in parts.items():
            pq.write_table(rows, folder / table / f"part-{chunk_no:05d}.parquet")
            written.rows[table] += rows.num_rows
        del parts
        written.chunks = chunk_no + 1
        if on_chunk is not None:
            on_chunk(written)
    if not order_lines:
        del written.rows["order_lines"]
    return written
