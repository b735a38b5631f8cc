"""Stored uplift evaluations: a campaign's held-out judgement, computed once, read by the pages.

:func:`retain.models.uplift.assess.assess_campaign` trains a model, so the dashboard and the
API must not run it at page load. :func:`evaluate_campaign` runs it and
:func:`store_evaluation` writes the result to the warehouse table ``uplift_evaluations``
(``retain.schema``; one row per campaign and outcome, re-running replaces it): the measured
effect per arm, Qini / AUUC / uplift at 30 % per arm and policy (the model, "highest churn risk
first" when a churn model can score the campaign, random) with bootstrap intervals, uplift by
decile and the Qini curve points. :func:`list_evaluations` and :func:`stored_evaluation` read
them back. The outcome window (a ``playbook:`` campaign's own, unless one is given:
:func:`retain.models.uplift.playbooks.outcome_window`) rides in each effect row
(``window_days``, ``window_basis``), so the page and the API say which window was used.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

import retain.warehouse as wh
from retain.config import ChurnDefinition
from retain.models.uplift.assess import Assessment, assess_campaign, make_learner
from retain.models.uplift.campaigns import CampaignData, Outcome, campaign_dataset
from retain.models.uplift.playbooks import WindowBasis, outcome_window, snapshot_groups

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = [
    "UPLIFT_EVALUATIONS",
    "StoredEvaluation",
    "churn_risk_at_start",
    "evaluate_campaign",
    "list_evaluations",
    "store_evaluation",
    "stored_evaluation",
    "with_window",
]

UPLIFT_EVALUATIONS = "uplift_evaluations"
"""The warehouse table of stored evaluations (``retain.schema.UPLIFT_EVALUATIONS``)."""

_SCOPE = ("campaign_id", "outcome")
_FRAMES = ("effects", "policies", "deciles", "curves")


def evaluate_campaign(
    con: BaseBackend,
    campaign_id: str,
    *,
    definition: ChurnDefinition,
    outcome: Outcome = "retention",
    learner: str = "t",
    risk: Any = None,
    n_boot: int = 100,
    seed: int = 0,
    window_days: int | None = None,
    playbook_windows: Mapping[str, int] | None = None,
) -> tuple[CampaignData, Assessment]:
    """The campaign's data and its held-out assessment (70/30, ``n_boot`` bootstrap draws).

    ``risk`` is a callable from the campaign's :class:`CampaignData` to each row's churn
    probability (or None), for the "highest churn risk first" policy. The outcome window is
    ``window_days``, else a playbook's own from ``playbook_windows`` (name to days), else 60
    days (:func:`~retain.models.uplift.playbooks.outcome_window`); the assessment's effects
    carry it (``window_days``, ``window_basis``).
    """
    days, basis = outcome_window(
        campaign_id, window_days=window_days, playbook_windows=playbook_windows
    )
    data = campaign_dataset(
        con, campaign_id, outcome=outcome, window_days=days, definition=definition
    )
    probabilities = risk(data) if risk is not None else None
    found, _ = assess_campaign(
        data,
        make_learner(learner, random_state=seed),
        risk=probabilities,
        n_boot=n_boot,
        random_state=seed,
    )
    return data, with_window(found, days, basis)


def with_window(found: Assessment, days: int, basis: WindowBasis) -> Assessment:
    """``found`` with its outcome window in each effect row (``window_days``, ``window_basis``)."""
    effects = found.effects.assign(window_days=days, window_basis=basis)
    return dataclasses.replace(found, effects=effects)


def churn_risk_at_start(con: BaseBackend, registered: Any) -> Callable[[CampaignData], Any]:
    """A ``risk`` for :func:`evaluate_campaign`: the churn model's probability at the start.

    Each campaign's customers are scored by ``registered`` (a churn model of the registry) on
    their features as of the campaign's start (a playbook's customers as of their run:
    :func:`retain.models.uplift.playbooks.snapshot_groups`), built as scoring builds them (its
    attributes included), so "highest churn risk first" is what a team would have targeted then.
    """
    from retain.features.attributes import AttributeFeature
    from retain.features.sources import Sources
    from retain.models.churn import score_frame
    from retain.models.churn.scoring import scoring_frame

    card = registered.card
    definition = ChurnDefinition(**card["definition"])
    attributes = [AttributeFeature.from_dict(a) for a in card.get("attributes", [])]
    p_alive = "p_alive" in [f["name"] for f in card["features"]]

    def risk(data: CampaignData) -> Any:
        customers = data.frame[["customer_id"]].astype(str).reset_index(drop=True)
        if "assigned_at" in data.frame:
            moments = pd.to_datetime(data.frame["assigned_at"]).reset_index(drop=True)
        else:
            moments = pd.Series(data.started_at, index=customers.index)
        out = np.full(len(customers), np.nan)
        for as_of, index in snapshot_groups(moments):
            frame = scoring_frame(
                Sources.of(con),
                as_of=as_of,
                definition=definition,
                attributes=attributes,
                p_alive=p_alive,
            )
            frame["customer_id"] = frame["customer_id"].astype(str)
            rows = customers.loc[index].merge(frame, on="customer_id", how="left")
            scored = score_frame(registered, rows, top=0, workers=1)
            out[np.asarray(index)] = scored["probability"].to_numpy(dtype=np.float64)
        return out

    return risk


def _records(frame: pd.DataFrame) -> str:
    clean = frame.replace([np.inf, -np.inf], np.nan)
    return str(clean.to_json(orient="records", double_precision=6))


def store_evaluation(
    con: BaseBackend, data: CampaignData, found: Assessment, *, evaluated_at: pd.Timestamp | None
) -> None:
    """Write ``found`` as the stored evaluation of its campaign and outcome (replacing one)."""
    now = evaluated_at if evaluated_at is not None else pd.Timestamp.now(tz="UTC")
    row = pd.DataFrame(
        [
            {
                "campaign_id": found.campaign_id,
                "outcome": found.outcome,
                "learner": found.learner,
                "started_at": data.started_at,
                "n_train": found.n_train,
                "n_test": found.n_test,
                **{name: _records(getattr(found, name)) for name in _FRAMES},
                "evaluated_at": now.tz_localize(None) if now.tzinfo else now,
            }
        ]
    )
    wh.replace_scope(con, UPLIFT_EVALUATIONS, row, scope=_SCOPE)


@dataclass(frozen=True)
class StoredEvaluation:
    """One stored evaluation: what :class:`Assessment` holds, plus its dates."""

    campaign_id: str
    outcome: str
    learner: str
    started_at: pd.Timestamp | None
    evaluated_at: pd.Timestamp
    n_train: int
    n_test: int
    effects: pd.DataFrame
    policies: pd.DataFrame
    deciles: pd.DataFrame
    curves: pd.DataFrame

    @property
    def window_days(self) -> int | None:
        """Days the outcome was counted in (None: stored before windows were recorded)."""
        if "window_days" not in self.effects or self.effects.empty:
            return None
        value = self.effects["window_days"].iloc[0]
        return None if pd.isna(value) else int(value)

    @property
    def window_basis(self) -> str | None:
        """Where the window came from: ``given``, ``playbook`` or ``default`` (None: unknown)."""
        if "window_basis" not in self.effects or self.effects.empty:
            return None
        value = self.effects["window_basis"].iloc[0]
        return None if pd.isna(value) else str(value)


def list_evaluations(con: BaseBackend) -> pd.DataFrame:
    """``campaign_id, outcome, learner, started_at, n_test, evaluated_at``, newest campaign last.

    Empty when nothing was stored.
    """
    columns = ["campaign_id", "outcome", "learner", "started_at", "n_test", "evaluated_at"]
    if not wh.table_exists(con, UPLIFT_EVALUATIONS):
        return pd.DataFrame(columns=columns)
    frame = wh.read_table(con, UPLIFT_EVALUATIONS).select(*columns).to_pandas()
    ordered: pd.DataFrame = frame.sort_values(["started_at", "campaign_id", "outcome"])
    return ordered.reset_index(drop=True)


def _frame(value: object) -> pd.DataFrame:
    if value is None:
        return pd.DataFrame()
    text = value if isinstance(value, str) else json.dumps(value)
    frame: pd.DataFrame = pd.read_json(io.StringIO(text), orient="records")
    return frame


def stored_evaluation(
    con: BaseBackend, campaign_id: str, outcome: str | None = None
) -> StoredEvaluation | None:
    """The stored evaluation of ``campaign_id``, or None.

    ``outcome`` picks one; without it, retention when stored, else any.
    """
    if not wh.table_exists(con, UPLIFT_EVALUATIONS):
        return None
    table = wh.read_table(con, UPLIFT_EVALUATIONS)
    rows = table.filter(table.campaign_id == campaign_id).to_pandas()
    if outcome is not None:
        rows = rows[rows["outcome"] == outcome]
    if rows.empty:
        return None
    rows = rows.assign(_first=rows["outcome"] != "retention").sort_values("_first")
    row = rows.iloc[0]
    started = row["started_at"]
    return StoredEvaluation(
        campaign_id=str(row["campaign_id"]),
        outcome=str(row["outcome"]),
        learner=str(row["learner"]),
        started_at=None if pd.isna(started) else pd.Timestamp(started),
        evaluated_at=pd.Timestamp(row["evaluated_at"]),
        n_train=int(row["n_train"]),
        n_test=int(row["n_test"]),
        **{name: _frame(row[name]) for name in _FRAMES},
    )
