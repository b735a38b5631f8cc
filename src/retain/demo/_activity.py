"""Behavioural ``events``: sessions on web and app, page views, store visits.

Each customer has a session rate (Gamma across customers, higher for subscribers; a subscriber's
falls with their latent dropout rate, see ``DemoParameters.usage_follows_dropout``). While alive
(a subscriber who decided to leave: until the subscription ends) they start sessions at the
points of a Poisson process with that rate; after the onset of usage decline (a planted churn
driver) the rate falls to ``decline_factor`` of it, which is how the driver shows in the data:
logins and app sessions per week fall by more than half. A web session
is a ``login`` followed by a few ``page_view``s; an app session is one ``app_session`` event.
Store orders leave a ``store_visit``; a few subscribers look at the cancellation page without
cancelling, so that page is a strong but imperfect signal.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retain.demo._customers import concat, pick
from retain.demo._log import Log
from retain.demo._orders import Purchases
from retain.demo._params import CATALOG, DAYS_PER_YEAR
from retain.demo._timeline import poisson_times
from retain.demo._world import World

__all__ = ["session_events"]

_PAGES = ("/", "/products", "/cart", "/account", "/help", "/products/")
_PAGE_SHARES = (0.2, 0.2, 0.1, 0.1, 0.05, 0.35)
_DEVICES = ("ios", "android")
_STORES = ("ST-TYO-01", "ST-OSA-01", "ST-SEL-01", "ST-BUS-01", "ST-NYC-01", "ST-LAX-01")
_IDLE_CANCEL_VIEWS_PER_YEAR = 0.15


def session_events(w: World, events: Log, store_orders: Purchases) -> None:
    """Add every session, page view and store visit of the chunk's customers to ``events``."""
    rng, p, h = w.rng, w.params, w.horizon
    # A subscriber who decided to leave keeps using the service, as before, until the
    # subscription ends; usage decline only starts before the decision.
    use_end = w.usage_end
    onset = np.where(w.decline_onset < w.end_first, w.decline_onset, use_end)
    second_end = np.where(np.isfinite(w.left2), w.left2, w.death2)
    starts = np.concatenate([w.acquired, onset, w.reactivated])
    ends = np.concatenate([onset, use_end, np.minimum(second_end, h)])
    rates = np.concatenate([w.engagement, w.engagement * p.decline_factor, w.engagement])
    seg_owner, time = poisson_times(
        rng, np.minimum(starts, h), np.minimum(ends, h), rates, sort=False
    )
    owner = seg_owner % w.n
    app_share = np.where(w.is_sub, 0.7, 0.45)[owner]
    in_app = rng.random(owner.size) < app_share

    a = np.flatnonzero(in_app)
    minutes = pc.cast(pa.array(rng.geometric(0.08, a.size)), pa.string())
    device = pick(_DEVICES, rng.integers(0, 2, a.size))
    props = concat('{"device": "', device, '", "minutes": ', minutes, "}")
    events.add(owner[a], time[a], name="app_session", channel="app", properties=props)

    web = np.flatnonzero(~in_app)
    method = '{"method": "password"}'
    events.add(owner[web], time[web], name="login", channel="web", properties=method)
    views = rng.poisson(p.page_views_per_web_session, web.size)
    v_owner = np.repeat(owner[web], views)
    v_time = np.repeat(time[web], views) + rng.uniform(1.0, 20.0, v_owner.size) / 1440.0
    page = rng.choice(len(_PAGES), size=v_owner.size, p=_PAGE_SHARES)
    product = rng.integers(0, len(CATALOG), v_owner.size)
    path = pick(_PAGES, page)
    detail = concat("/products/", pick([prod.product_id for prod in CATALOG], product))
    path = pc.if_else(pa.array(page == len(_PAGES) - 1), detail, path)
    keep = w.alive_at(v_owner, v_time) & (v_time < h)
    events.add(
        v_owner[keep],
        v_time[keep],
        name="page_view",
        channel="web",
        properties=concat('{"page": "', path.filter(pa.array(keep)), '"}'),
    )

    n_store = store_orders.owner.size
    store = pick(_STORES, 2 * w.country[store_orders.owner] + rng.integers(0, 2, n_store))
    events.add(
        store_orders.owner,
        store_orders.time,
        name="store_visit",
        channel="store",
        properties=concat('{"store_id": "', store, '"}'),
    )

    subs = np.flatnonzero(w.is_sub).astype(np.int64)
    i_owner, i_time = poisson_times(
        rng, w.paying_start[subs], w.end_first[subs], _IDLE_CANCEL_VIEWS_PER_YEAR / DAYS_PER_YEAR
    )
    events.add(
        subs[i_owner],
        i_time,
        name="cancel_page_view",
        channel="web",
        properties='{"page": "/account/cancel"}',
    )
