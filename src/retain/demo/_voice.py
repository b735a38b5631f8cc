"""The customer's voice in ``interactions``: support tickets, complaints and survey answers.

A complaint is logged twice at the same moment: ``complaint`` (with its ``reason``) and
``ticket_opened``; both carry the same ``properties.ticket_id``. The company resolves 60% of
complaints after a few days (``ticket_resolved`` with that ``ticket_id``); the rest stay open,
and a complaint open while the customer is alive is the strongest planted churn driver (hazard
x4 while unresolved). A resolution that would come after the customer left is never logged.
Ordinary questions open and resolve tickets too, with no effect on churn. Resolved tickets
sometimes get a CSAT answer (1-5), and customers answer NPS surveys (0-10) whose score drops
while a driver is active.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from retain.demo._complaint_text import complaint_text
from retain.demo._customers import concat, pick
from retain.demo._log import Log
from retain.demo._params import COMPLAINT_REASONS, DAYS_PER_YEAR
from retain.demo._timeline import FloatArray, IntArray, active_at, poisson_times
from retain.demo._world import World

__all__ = ["voice_interactions"]

_SUPPORT_CHANNELS = ("phone", "chat", "email", "social")
_SUPPORT_SHARES = (0.35, 0.35, 0.2, 0.1)
_QUESTION_TOPICS = ("delivery_status", "how_to", "account", "billing_question")
_CSAT_COMPLAINT = (0.25, 0.30, 0.25, 0.15, 0.05)
_CSAT_QUESTION = (0.05, 0.10, 0.20, 0.35, 0.30)
_NPS_EFFECT = {"unresolved_complaint": 3.5, "payment_failed": 1.5, "usage_decline": 1.2}


def _tickets(
    w: World,
    log: Log,
    owner: IntArray,
    opened: FloatArray,
    resolved_at: FloatArray,
    *,
    complaint: bool,
) -> None:
    rng = w.rng
    n = owner.size
    ticket = w.new_ids("T", n)
    channel = pick(_SUPPORT_CHANNELS, rng.choice(len(_SUPPORT_CHANNELS), size=n, p=_SUPPORT_SHARES))
    if complaint:
        which = rng.integers(0, len(COMPLAINT_REASONS), n)
        reason = pick(COMPLAINT_REASONS, which)
        text = complaint_text(w.country[owner], which)  # ja/ko/en words for retain.voice.themes
        props = concat(
            '{"ticket_id": "', ticket, '", "reason": "', reason, '", "text": "', text, '"}'
        )
        log.add(owner, opened, kind="complaint", channel=channel, properties=props)
        topic: pa.Array | str = "complaint"
    else:
        topic = pick(_QUESTION_TOPICS, rng.integers(0, len(_QUESTION_TOPICS), n))
    log.add(
        owner,
        opened + 1.0 / 1440.0,
        kind="ticket_opened",
        channel=channel,
        properties=concat('{"ticket_id": "', ticket, '", "topic": "', topic, '"}'),
    )
    done = np.flatnonzero(resolved_at < w.end_first[owner])
    done_ticket = ticket.take(pa.array(done))
    log.add(
        owner[done],
        resolved_at[done],
        kind="ticket_resolved",
        channel=channel.take(pa.array(done)),
        properties=concat('{"ticket_id": "', done_ticket, '"}'),
    )
    answer_at = resolved_at[done] + rng.uniform(0.1, 2.0, done.size)
    answers = (rng.random(done.size) < w.params.csat_response) & (
        answer_at < w.end_first[owner[done]]
    )
    k = np.flatnonzero(answers)
    shares = _CSAT_COMPLAINT if complaint else _CSAT_QUESTION
    score = pa.array((1 + rng.choice(5, size=k.size, p=shares)).astype(str))
    log.add(
        owner[done][k],
        answer_at[k],
        kind="survey_answer",
        channel="email",
        properties=concat(
            '{"survey": "csat", "ticket_id": "',
            done_ticket.take(pa.array(k)),
            '", "score": ',
            score,
            "}",
        ),
    )


def voice_interactions(w: World, log: Log) -> None:
    """Add every ticket, complaint and survey answer of the chunk's customers to ``log``."""
    rng, p = w.rng, w.params
    alive = w.complaint_time < w.end_first[w.complaint_owner]
    _tickets(
        w,
        log,
        w.complaint_owner[alive],
        w.complaint_time[alive],
        w.complaint_resolved_at[alive],
        complaint=True,
    )

    q_owner, q_time = poisson_times(
        rng, w.acquired, w.end_first, p.question_rate / DAYS_PER_YEAR, sort=False
    )
    q_resolved = q_time + 0.02 + rng.exponential(1.0, q_owner.size)
    _tickets(w, log, q_owner, q_time, q_resolved, complaint=False)

    s_owner, s_time = poisson_times(
        rng, w.acquired, w.end_first, p.nps_rate / DAYS_PER_YEAR, sort=False
    )
    answered = rng.random(s_owner.size) < p.nps_response
    s_owner, s_time = s_owner[answered], s_time[answered]
    mean = np.full(s_owner.size, 8.2)
    for name, drop in _NPS_EFFECT.items():
        mean -= drop * active_at(w.potential[name], w.horizon, s_owner, s_time)
    score = np.clip(np.round(rng.normal(mean, 1.6)), 0, 10).astype(np.int64)
    channel = pick(["email", "app"], (rng.random(s_owner.size) < 0.4).astype(np.int64))
    log.add(
        s_owner,
        s_time,
        kind="survey_answer",
        channel=channel,
        properties=concat('{"survey": "nps", "score": ', pa.array(score.astype(str)), "}"),
    )
