"""One run of the playbooks as of a date: who gets what, on which channel, and who does not, why.

:func:`decide` evaluates each playbook's trigger and audience in the warehouse's engine, then
applies the guardrails to the customers found, in this order (each customer-playbook pair gets
one ``status`` and, when not sent, one ``reason``):

1. ``already_messaged``: the pair's trigger occurrence was queued or held out before (the
   re-entry rule: one occurrence never messages a customer twice, however often it runs);
2. ``global_control``: the customer is in the global control group;
3. ``no_consent``: no channel the customer consented to (``channel = "best"``: none at all);
4. ``suppressed``: the address or number is on the suppression list (a number in any of its
   forms, E.164 or national: :func:`retain.engage.phone.variants`);
5. ``capped``: a frequency cap is full (priority decides who gets the last slot,
   :mod:`retain.engage.caps`; a lower-priority message still queued from an earlier run gives
   its slot up, listed in ``attrs["withdrawn"]``). Held-out customers take a slot like treated
   ones, so both arms see the same caps;
6. ``holdout``: the stable hash puts the customer in the playbook's holdout (``status =
   "holdout"``, recorded so results can compare);
7. ``quiet_hours``: it is night where the customer lives; ``status = "delayed"`` with the
   ``send_at`` moment (it waits, it is not dropped). Otherwise ``status = "send"``.

The result is a pandas frame with :data:`DECISION_COLUMNS`, which the dry run prints and
:func:`retain.engage.execute.execute` writes (outbox rows and holdout records).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from retain.engage.caps import allocate, quiet_until
from retain.engage.channels import best_channel, consented
from retain.engage.holdout import in_global_control, in_holdout, variant_of
from retain.engage.messages import load_template
from retain.engage.phone import phone_key, variants
from retain.engage.playbooks import Audience, Playbook, PlaybookSet
from retain.engage.triggers import FIRED_COLUMNS, fired
from retain.errors import InvalidParameterError
from retain.facts import DateLike, as_timestamp, json_text
from retain.features import Sources
from retain.targeting import latest_churn_scores, latest_clv_scores

__all__ = [
    "DECISION_COLUMNS",
    "REASONS",
    "Guardrails",
    "decide",
    "decision_key",
    "skipped_by",
    "summary",
]

REASONS = (
    "already_messaged",
    "global_control",
    "no_consent",
    "suppressed",
    "capped",
    "holdout",
    "quiet_hours",
)
"""Why a customer is not messaged now, in the order the checks run."""

DECISION_COLUMNS = [
    "playbook",
    "customer_id",
    "occurrence",
    "status",
    "reason",
    "channel",
    "recipient",
    "template",
    "variant",
    "language",
    "send_at",
    "category",
    "priority",
    "key",
]
"""The columns of :func:`decide`'s frame (trigger columns follow them)."""

_KEY_LIMIT = 200
_CUSTOMER_COLUMNS = (
    "email",
    "phone",
    "language",
    "time_zone",
    "country",
    "attributes",
    "acquired_at",
    "acquisition_channel",
)


@dataclass(frozen=True)
class Guardrails:
    """What earlier runs left behind: keys already used, suppressed addresses, recent messages."""

    already: frozenset[str] = frozenset()
    """Decision keys (:func:`decision_key`) already queued or held out."""
    suppressed: frozenset[str] = frozenset()
    """Lower-case addresses and numbers (as listed: E.164 or national) that get nothing."""
    history: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"customer_id": [], "category": []})
    )
    """``customer_id, category``: one row per message queued or sent in the caps' window.

    Rows with ``preemptible`` true (queued, not tried yet; with ``key``, ``priority``,
    ``expected_value``, ``playbook``) may lose their slot to a higher-priority decision.
    """


def decision_key(playbook: str, customer_id: str, occurrence: str) -> str:
    """The re-entry key of one trigger occurrence for one customer (the outbox's idempotency).

    ``playbook:customer:occurrence``, its tail hashed when longer than the outbox's 200
    characters (a long customer id), so the same occurrence always gives the same key.
    """
    key = f"{playbook}:{customer_id}:{occurrence}"
    if len(key) <= _KEY_LIMIT:
        return key
    return key[:150] + ":" + hashlib.sha256(key.encode()).hexdigest()[:40]


def _audience(
    table: ir.Table, audience: Audience, con: object | None, run: pd.Timestamp
) -> ir.Table:
    """``table`` (customer columns joined) narrowed to ``audience``."""
    for key, value in audience.attributes.items():
        table = table.filter(json_text(table.attributes.cast("string"), key) == value)
    if audience.countries:
        table = table.filter(table.country.isin(list(audience.countries)))
    if con is None:
        return table
    names = set(con.list_tables())  # type: ignore[attr-defined]
    if audience.risk_bands and "churn_scores" in names:
        scores = latest_churn_scores(con, as_of=run)  # type: ignore[arg-type]
        hit = scores.filter(scores.risk_band.isin(list(audience.risk_bands)))
        table = table.semi_join(hit.select("customer_id").distinct(), "customer_id")
    if audience.clv_tiers and "clv_scores" in names:
        clv = latest_clv_scores(con, as_of=run)  # type: ignore[arg-type]
        rank = ibis.percent_rank().over(order_by=clv.clv.desc())
        clv = clv.mutate(_top=rank)
        tier = (clv._top < 0.2).ifelse("high", (clv._top < 0.5).ifelse("medium", "low"))
        hit = clv.mutate(_tier=tier).filter(lambda c: c._tier.isin(list(audience.clv_tiers)))
        table = table.semi_join(hit.select("customer_id"), "customer_id")
    if audience.segment and "segment_memberships" in names:
        seg = con.table("segment_memberships")  # type: ignore[attr-defined]
        seg = seg.filter(seg.as_of <= run)
        if audience.scheme:
            seg = seg.filter(seg.scheme == audience.scheme)
        last = seg.group_by("scheme").agg(last_as_of=seg.as_of.max())
        newest = seg.join(last, [seg.scheme == last.scheme, seg.as_of == last.last_as_of])
        hit = newest.filter(newest.segment == audience.segment).select("customer_id").distinct()
        table = table.semi_join(hit, "customer_id")
    return table


def _best(
    sources: Sources, run: pd.Timestamp, fallbacks: tuple[str, ...], cache: dict[object, ir.Table]
) -> ir.Table:
    """:func:`best_channel` once per run and fallbacks, kept in a DuckDB temp table.

    Several playbooks pick the best channel; each would otherwise count every customer's
    interactions and events again. Other engines get the expression (they plan it anew).
    """
    key = ("best", fallbacks)
    if key not in cache:
        pick = best_channel(sources, run, fallbacks=fallbacks)
        con = sources.warehouse
        if con is not None and getattr(con, "name", "") == "duckdb":
            pick = pick.cache()
        cache[key] = pick
    return cache[key]


def _candidates(
    playbook: Playbook,
    sources: Sources,
    run: pd.Timestamp,
    churn_scores: ir.Table | None,
    cache: dict[object, ir.Table] | None = None,
) -> pd.DataFrame:
    """The playbook's fired customers in its audience, with customer fields and channel."""
    found = fired(playbook.trigger, sources, run, churn_scores=churn_scores)
    customers = sources.customers
    if customers is None:
        table = found.mutate(
            **{c: ibis.null().cast("string") for c in _CUSTOMER_COLUMNS if c != "acquired_at"}
        )
        webhook = "webhook" if playbook.channel == "webhook" else None
        bare: pd.DataFrame = table.mutate(channel=ibis.literal(webhook, type="string")).to_pandas()
        return bare
    cust = customers.select("customer_id", *_CUSTOMER_COLUMNS, "email_opt_in", "sms_opt_in")
    if playbook.channel == "best":
        pick = _best(sources, run, tuple(playbook.channels), {} if cache is None else cache)
        cust = cust.left_join(pick, "customer_id").drop("customer_id_right")
    else:
        ok = consented(cust, playbook.channel)
        cust = cust.mutate(channel=ok.ifelse(playbook.channel, ibis.null("string")))
    joined = found.join(cust, "customer_id")
    table = _audience(joined, playbook.audience, sources.warehouse, run)
    out: pd.DataFrame = table.to_pandas()
    return out


def _recipient(frame: pd.DataFrame, playbook: Playbook) -> pd.Series:
    """Each decision's address: the e-mail, the number, or the playbook's URL.

    A number is stored in E.164, a national one read in the customer's country
    (:func:`retain.engage.phone.phone_key`); one that cannot be read stays as given, and the
    worker refuses it with the reason.
    """
    url = playbook.action.url or ""
    out = pd.Series(None, index=frame.index, dtype=object)
    out[frame["channel"] == "email"] = frame["email"]
    sms = (frame["channel"] == "sms").to_numpy()
    if sms.any():
        countries = frame["country"] if "country" in frame.columns else [None] * len(frame)
        out[sms] = [
            (phone_key(p, c if isinstance(c, str) else None) or p) if isinstance(p, str) else p
            for p, c in zip(frame["phone"][sms], pd.Series(countries)[sms], strict=True)
        ]
    out[frame["channel"] == "webhook"] = url
    return out


def _sms_suppressed(frame: pd.DataFrame, suppressed: frozenset[str]) -> np.ndarray:
    """Whether each SMS decision's number is on the list, in any of its stored forms."""
    hit = np.zeros(len(frame), dtype=bool)
    if not suppressed:
        return hit
    for i in np.flatnonzero((frame["channel"] == "sms").to_numpy()):
        key = frame["recipient"].iat[int(i)]
        hit[i] = isinstance(key, str) and not variants(key).isdisjoint(suppressed)
    return hit


def _one(playbook: Playbook, frame: pd.DataFrame, playbooks: PlaybookSet) -> pd.DataFrame:
    ids = frame["customer_id"].astype(str)
    template = load_template(playbook.template, playbooks.template_dirs)
    frame = frame.assign(
        playbook=playbook.name,
        template=playbook.template,
        category=playbook.category,
        priority=playbook.priority,
        expected_value=playbook.expected_value,
        holdout_share=playbook.holdout,
        in_holdout=in_holdout(playbook.name, ids, playbook.holdout),
        variant=variant_of(playbook.name, ids, template.variants),
        language=[
            template.language_for(v if isinstance(v, str) else None) for v in frame["language"]
        ],
        recipient=_recipient(frame, playbook),
        key=[
            decision_key(playbook.name, c, o) for c, o in zip(ids, frame["occurrence"], strict=True)
        ],
    )
    return frame


def decide(
    playbooks: PlaybookSet,
    sources: Sources,
    as_of: DateLike,
    *,
    names: Sequence[str] | None = None,
    now: dt.datetime | None = None,
    guardrails: Guardrails | None = None,
    churn_scores: ir.Table | None = None,
) -> pd.DataFrame:
    """Decisions of the enabled playbooks (or ``names``) as of ``as_of``; see the module doc.

    ``now`` (naive UTC) is the moment quiet hours are judged at; it defaults to ``as_of``.
    A playbook whose trigger needs a table the business has not loaded is left out of a run of
    every playbook (``attrs["unavailable"]`` names it with the reason); named, it raises.
    """
    run = as_timestamp(as_of)
    moment = now or run.to_pydatetime()
    rails = guardrails or Guardrails()
    chosen = (
        [playbooks.get(n) for n in names]
        if names
        else [p for p in playbooks.playbooks if p.enabled]
    )
    frames = []
    unavailable: dict[str, str] = {}
    cache: dict[object, ir.Table] = {}
    for playbook in chosen:
        try:
            frame = _candidates(playbook, sources, run, churn_scores, cache)
        except InvalidParameterError as exc:
            if names:
                raise
            unavailable[playbook.name] = str(exc)  # its table is not loaded: the others run
            continue
        if not frame.empty:
            frames.append(_one(playbook, frame, playbooks))
    if not frames:
        empty = pd.DataFrame(columns=DECISION_COLUMNS + list(FIRED_COLUMNS)[2:])
        empty.attrs["unavailable"] = unavailable
        empty.attrs["withdrawn"] = []
        return empty
    with warnings.catch_warnings():  # a playbook's all-null trigger columns keep their type
        warnings.simplefilter("ignore", FutureWarning)
        frame = pd.concat(frames, ignore_index=True)
    status = pd.Series("send", index=frame.index, dtype=object)
    reason = pd.Series(None, index=frame.index, dtype=object)

    def mark(mask: np.ndarray | pd.Series, why: str, state: str = "skipped") -> None:
        hit = (
            np.asarray(mask, dtype=bool) & reason.isna().to_numpy() & (status == "send").to_numpy()
        )
        status[hit] = state
        reason[hit] = why

    mark(frame["key"].isin(rails.already), "already_messaged")
    mark(
        in_global_control(frame["customer_id"].astype(str), playbooks.caps.global_control),
        "global_control",
    )
    mark(frame["channel"].isna(), "no_consent")
    email = frame["recipient"].where(frame["channel"] == "email").fillna("").str.strip().str.lower()
    mark(email.isin(rails.suppressed) & (email != ""), "suppressed")
    mark(_sms_suppressed(frame, rails.suppressed), "suppressed")
    open_ = (status == "send").to_numpy()
    refused = np.zeros(len(frame), dtype=bool)
    refused[open_], withdrawn = allocate(frame[open_], rails.history, playbooks.caps)
    mark(refused, "capped")
    mark(frame["in_holdout"].to_numpy(), "holdout", state="holdout")
    wait = quiet_until(frame["time_zone"], moment, playbooks.caps.quiet_hours)
    mark(wait.notna().to_numpy(), "quiet_hours", state="delayed")
    frame["status"], frame["reason"] = status, reason
    frame["send_at"] = wait.where(frame["status"] == "delayed")
    frame.loc[frame["status"] == "send", "send_at"] = pd.Timestamp(moment)
    extra = [c for c in FIRED_COLUMNS if c not in ("customer_id", "occurrence")]
    keep = (
        DECISION_COLUMNS
        + extra
        + ["email", "time_zone", "attributes", "country", "acquisition_channel"]
    )
    out = frame[[c for c in keep if c in frame.columns]]
    out = out.sort_values(["playbook", "customer_id"], kind="stable", ignore_index=True)
    out.attrs["unavailable"] = unavailable
    out.attrs["withdrawn"] = withdrawn
    return out


def summary(decisions: pd.DataFrame) -> pd.DataFrame:
    """Per playbook: customers found, sent, delayed, held out and skipped by reason."""
    if decisions.empty:
        return pd.DataFrame(
            columns=["playbook", "found", "send", "delayed", "holdout", *REASONS[:5]]
        )
    rows = []
    for name, group in decisions.groupby("playbook", sort=True):
        row: dict[str, object] = {"playbook": name, "found": len(group)}
        for state in ("send", "delayed", "holdout"):
            row[state] = int((group["status"] == state).sum())
        for why in REASONS[:5]:
            row[why] = int((group["reason"] == why).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def skipped_by(decisions: pd.DataFrame, reasons: Collection[str]) -> pd.DataFrame:
    """The decisions skipped for one of ``reasons``."""
    return decisions[decisions["reason"].isin(list(reasons))]
