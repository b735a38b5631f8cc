"""The ``customers`` table and the per-customer ground truth of a chunk."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retain.demo._params import DAYS_PER_WEEK, DRIVERS
from retain.demo._timeline import active_at
from retain.demo._world import COUNTRIES, World

__all__ = [
    "concat",
    "customers_table",
    "pick",
    "truth_customers_table",
    "truth_spells_table",
]

CHANNELS = ("search", "social", "referral", "email", "store", "affiliate")
_CHANNEL_SHARES = {
    False: (0.30, 0.20, 0.15, 0.05, 0.20, 0.10),
    True: (0.35, 0.30, 0.20, 0.05, 0.00, 0.10),
}
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
_AGE_SHARES = (0.14, 0.26, 0.23, 0.17, 0.12, 0.08)
_US_AREA_CODES = ("212", "312", "415", "617", "646", "718", "773", "213")


def pick(values: tuple[str, ...] | list[str], index: np.ndarray) -> pa.Array:
    """``values[index[k]]`` for every ``k``, as an Arrow string array."""
    return pc.take(pa.array(list(values), type=pa.string()), pa.array(np.asarray(index, np.int64)))


def concat(*parts: pa.Array | str) -> pa.Array:
    """Element-wise string concatenation of Arrow arrays and constant strings."""
    args = [pa.scalar(p) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*args, "")


def _digits(rng: np.random.Generator, n: int, width: int) -> pa.Array:
    numbers = pc.cast(pa.array(rng.integers(0, 10**width, n)), pa.string())
    return pc.utf8_lpad(numbers, width=width, padding="0")


def _phones(rng: np.random.Generator, country: np.ndarray) -> pa.Array:
    n = country.size
    eight = _digits(rng, n, 8)
    head = pc.utf8_slice_codeunits(eight, 0, 4)
    tail = pc.utf8_slice_codeunits(eight, 4, 8)
    jp = concat("+81-90-", head, "-", tail)
    kr = concat("+82-10-", head, "-", tail)
    area = pick(_US_AREA_CODES, rng.integers(0, len(_US_AREA_CODES), n))
    us = concat("+1-", area, "-555-01", pc.utf8_slice_codeunits(eight, 0, 2))
    is_jp = pa.array(country == 0)
    is_kr = pa.array(country == 1)
    return pc.if_else(is_jp, jp, pc.if_else(is_kr, kr, us))


def customers_table(w: World) -> pa.Table:
    """One row per customer, in canonical columns (``retain.schema`` ``customers``)."""
    rng, n = w.rng, w.n
    cust = np.arange(n, dtype=np.int64)
    codes = [c for c, _, _ in COUNTRIES]
    langs = [lang for _, lang, _ in COUNTRIES]
    zones: list[str] = []
    zone_index = np.zeros(n, dtype=np.int64)
    for i, (_, _, tz) in enumerate(COUNTRIES):
        mine = w.country == i
        zone_index[mine] = len(zones) + rng.integers(0, len(tz), int(mine.sum()))
        zones.extend(tz)
    channel = np.empty(n, dtype=np.int64)
    for is_sub, shares in _CHANNEL_SHARES.items():
        mine = w.is_sub == is_sub
        channel[mine] = rng.choice(len(CHANNELS), size=int(mine.sum()), p=shares)
    number = pc.cast(pa.array(cust + w.offset + 1), pa.string())
    line = pick(["shop", "subscription"], w.is_sub.astype(np.int64))
    age = pick(AGE_BANDS, rng.choice(len(AGE_BANDS), size=n, p=_AGE_SHARES))
    attributes = concat('{"line": "', line, '", "age_band": "', age, '"}')
    return pa.table(
        {
            "customer_id": w.customer_ids(cust),
            "acquired_at": w.timestamps(w.acquired),
            "country": pick(codes, w.country),
            "language": pick(langs, w.country),
            "time_zone": pick(zones, zone_index),
            "acquisition_channel": pick(CHANNELS, channel),
            "email": concat("user", number, "@example.com"),
            "phone": _phones(rng, w.country),
            "email_opt_in": pa.array(w.email_opt_in),
            "sms_opt_in": pa.array(w.sms_opt_in),
            "attributes": attributes,
        }
    )


def _driver_names(flags: np.ndarray) -> pa.Array:
    """Comma-separated driver names from an ``(n, drivers)`` boolean matrix."""
    code = (flags * (1 << np.arange(flags.shape[1]))).sum(axis=1)
    names = [
        ",".join(name for d, (name, _) in enumerate(DRIVERS) if c >> d & 1)
        for c in range(1 << len(DRIVERS))
    ]
    return pick(names, code)


def truth_customers_table(w: World) -> pa.Table:
    """Latent truth per customer: line, churn time, state at the end, the drivers that acted."""
    n = w.n
    cust = np.arange(n, dtype=np.int64)
    ever = np.zeros((n, len(DRIVERS)), dtype=bool)
    at_death = np.zeros((n, len(DRIVERS)), dtype=bool)
    dead = np.flatnonzero(np.isfinite(w.death)).astype(np.int64)
    paid = w.is_sub & (w.paying_start < w.horizon) & (w.death >= w.paying_start)
    for d, (name, _) in enumerate(DRIVERS):
        observed = w.observed[name]
        ever[:, d] = np.bincount(observed.cust, minlength=n) > 0
        at_death[dead, d] = active_at(w.potential[name], w.horizon, dead, w.death[dead])
    return pa.table(
        {
            "customer_id": w.customer_ids(cust),
            "line": pick(["shop", "subscription"], w.is_sub.astype(np.int64)),
            "acquired_at": w.timestamps(w.acquired),
            "death_at": w.timestamps(w.death),
            "alive_at_end": pa.array(w.alive_at_end),
            "drivers": _driver_names(ever),
            "drivers_at_death": _driver_names(at_death),
            "purchase_rate": pa.array(
                np.where(w.is_sub, np.nan, w.lam * DAYS_PER_WEEK), from_pandas=True
            ),
            "dropout_rate": pa.array(w.mu * DAYS_PER_WEEK),
            "sessions_per_week": pa.array(w.engagement * DAYS_PER_WEEK),
            "discount_seeker": pa.array(w.discount_seeker),
            "reactivated_at": w.timestamps(w.reactivated),
            "reactivation_ended_at": w.timestamps(w.death2),
            "paying_started_at": w.timestamps(np.where(paid, w.paying_start, np.inf)),
            "subscription_ended_at": w.timestamps(w.left),
        }
    )


def truth_spells_table(w: World) -> pa.Table:
    """Every interval during which a planted driver multiplied a customer's hazard."""
    parts = []
    for name, ratio in DRIVERS:
        s = w.observed[name]
        parts.append(
            pa.table(
                {
                    "customer_id": w.customer_ids(s.cust),
                    "driver": pa.array([name] * s.cust.size, type=pa.string()),
                    "hazard_ratio": pa.array(np.full(s.cust.size, ratio)),
                    "started_at": w.timestamps(s.start),
                    "ended_at": w.timestamps(np.where(s.end >= w.horizon, np.inf, s.end)),
                }
            )
        )
    return pa.concat_tables(parts)
