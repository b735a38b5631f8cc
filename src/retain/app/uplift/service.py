"""Reads the stored uplift evaluations (``uplift_evaluations``) for the API and the page.

Nothing is trained here: ``retain uplift evaluate --store`` and the demo pipeline compute the
evaluations; these functions only read and phrase them. An uplift is in its outcome's unit
(:func:`unit`): money per customer for revenue, a difference of shares for a rate.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from retain.errors import NotFoundError
from retain.i18n import format_number, t
from retain.models.uplift.evaluations import (
    StoredEvaluation,
    list_evaluations,
    stored_evaluation,
)
from retain.models.uplift.playbooks import PLAYBOOK_PREFIX

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = [
    "RATES",
    "campaigns",
    "evaluation",
    "records",
    "summary",
    "unit",
    "unit_note",
    "window_note",
]

RATES = ("retention", "conversion")
"""Outcomes measured as a share of customers; revenue is an amount (as in the report)."""


def campaigns(con: BaseBackend) -> pd.DataFrame:
    """The stored evaluations, newest campaign first."""
    listed = list_evaluations(con)
    return listed.iloc[::-1].reset_index(drop=True)


def evaluation(con: BaseBackend, campaign_id: str, outcome: str | None = None) -> StoredEvaluation:
    """The stored evaluation of ``campaign_id``, or a 404 naming the command that stores one."""
    found = stored_evaluation(con, campaign_id, outcome)
    if found is None:
        raise NotFoundError(
            t("uplift.page_not_stored", campaign=campaign_id), hint=t("uplift.page_hint")
        )
    return found


def unit(outcome: str) -> Literal["share", "money"]:
    """What an uplift in ``outcome`` is: ``share`` (a rate's percentage points) or ``money``."""
    return "share" if outcome in RATES else "money"


def unit_note(outcome: str, currency: str) -> str:
    """One line saying in which unit the page's uplifts of ``outcome`` are."""
    if unit(outcome) == "money":
        return t("uplift_page.unit_money", currency=currency)
    return t("uplift_page.unit_share")


def window_note(found: StoredEvaluation) -> str | None:
    """Which outcome window the evaluation used, and why (None when stored without one)."""
    days, basis = found.window_days, found.window_basis
    if days is None:
        return None
    if basis == "default" and found.campaign_id.startswith(PLAYBOOK_PREFIX):
        name = found.campaign_id.removeprefix(PLAYBOOK_PREFIX)
        return t("uplift_page.window_default_playbook", days=days, playbook=name)
    return t(f"uplift_page.window_{basis or 'given'}", days=days)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe records (NaN as null)."""
    loaded: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso"))
    return loaded


def summary(found: StoredEvaluation) -> str:
    """One line: the model's Qini with its interval against "highest churn risk" and random."""
    rows = found.policies
    parts = []
    for arm in dict.fromkeys(rows["arm"]) if "arm" in rows else []:
        by = rows[rows["arm"] == arm].set_index("policy")
        if "model" not in by.index:
            continue
        model = by.loc["model"]
        risk = (
            f"{by.loc['churn_risk', 'qini']:.3f}"
            if "churn_risk" in by.index
            else t("uplift.page_na")
        )
        parts.append(
            t(
                "uplift.page_summary",
                arm=str(arm),
                qini=f"{model['qini']:.3f}",
                low=f"{model['qini_low']:.3f}",
                high=f"{model['qini_high']:.3f}",
                risk=risk,
            )
        )
    head = t(
        "uplift.page_heading_line",
        campaign=found.campaign_id,
        outcome=found.outcome,
        customers=format_number(found.n_test),
        learner=found.learner,
    )
    return " ".join([head, *parts])
