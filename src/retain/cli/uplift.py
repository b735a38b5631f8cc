"""``retain uplift campaigns|evaluate|train|score``: whom a past campaign's offer actually changed.

``campaigns`` lists the campaigns with a random holdout. ``evaluate`` reads one (``--campaign``,
default the newest), fits the chosen learner on 70 % of its customers and shows, on the other
30 %, the measured effect, how well ranking by predicted uplift finds the customers the offer
changes (Qini, AUUC, uplift in the top 30 %, with intervals) next to "highest churn risk first"
and random targeting, and the observed uplift by decile. ``train`` does the same, then refits on
every customer and stores the model in the registry (``retain.models.registry``, kind
``uplift``). ``score`` writes every current customer's uplift in the offer planner's format
(``customer_id, action, uplift, uplift_honest, honest_group, honest_variance``; ``retain plan
--uplift FILE``). The library does the work (:func:`retain.models.uplift.assess.assess_campaign`).

The outcome window is ``--window`` when given; a ``playbook:<name>`` campaign otherwise counts
in its playbook's own window (as ``retain playbooks results`` does: the goal's window, else
``attribution_days``, of the playbooks that run), anything else in 60 days. Every output says
which window it used and why (``window_days``, ``window_basis``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer
from sklearn.base import clone

import retain.warehouse as wh
from retain.cli._app import app, console, settings
from retain.cli._tables import print_frame
from retain.errors import InvalidParameterError, NotFoundError
from retain.i18n import format_date, format_number, t
from retain.models.uplift import (
    campaign_dataset,
    list_campaigns,
    save_uplift_model,
)
from retain.models.uplift.assess import Assessment, assess_campaign, churn_risk, make_learner
from retain.models.uplift.evaluations import store_evaluation, with_window
from retain.models.uplift.playbooks import PLAYBOOK_PREFIX, WindowBasis, outcome_window
from retain.models.uplift.scores import score_campaign, store_uplift_scores

if TYPE_CHECKING:
    from retain.config import Settings

__all__ = ["playbook_windows", "uplift_app"]

uplift_app = typer.Typer(
    help="Uplift models from past campaigns with a random holdout: whom an offer changes.",
    no_args_is_help=True,
)
app.add_typer(uplift_app, name="uplift")


class Format(StrEnum):
    """How results are printed."""

    table = "table"
    json = "json"


class OutcomeName(StrEnum):
    """What the campaign should change."""

    retention = "retention"
    conversion = "conversion"
    revenue = "revenue"


class LearnerName(StrEnum):
    """The uplift learner."""

    t = "t"
    x = "x"
    s = "s"
    class_transformation = "class_transformation"


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table (default) or json.")]
CampaignOpt = Annotated[
    str | None,
    typer.Option("--campaign", help="The campaign_id (default: the newest with a holdout)."),
]
OutcomeOpt = Annotated[
    OutcomeName,
    typer.Option("--outcome", help="retention (any activity), conversion (an order) or revenue."),
]
WindowOpt = Annotated[
    int | None,
    typer.Option(
        "--window",
        min=1,
        help="Days after the start the outcome is counted in (default: a playbook: campaign's "
        "own window, as retain playbooks results counts it; else 60).",
    ),
]
LearnerOpt = Annotated[
    LearnerName, typer.Option("--learner", help="t, x, s or class_transformation.")
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the split and the models.")]
DefinitionOpt = Annotated[
    str | None,
    typer.Option("--definition", "-d", help="Churn definition ([[churn]] name in retain.toml)."),
]


@uplift_app.command("campaigns")
def campaigns(fmt: FormatOpt = Format.table) -> None:
    """List the campaigns with a random holdout, oldest first."""
    con = wh.connect(settings=settings())
    frame = list_campaigns(con)
    if fmt is Format.json:
        console.print_json(frame.to_json(orient="records", date_format="iso"))
        return
    print_frame(console, frame, title=t("uplift.title_campaigns", count=len(frame)))


def playbook_windows(cfg: Settings, campaigns: Iterable[str] | None = None) -> dict[str, int]:
    """Each playbook's outcome window in days, as ``retain playbooks results`` counts it.

    The playbooks that run: ``playbooks.toml`` beside the configuration (else the shipped
    ones), with the versions edited through the API laid over them (the app database, read only
    when one of ``campaigns`` is a ``playbook:`` campaign; empty otherwise).
    """
    if campaigns is not None and not any(c.startswith(PLAYBOOK_PREFIX) for c in campaigns):
        return {}
    from retain.app import open_session
    from retain.cli.playbooks import _playbooks
    from retain.engage.playbook_versions import effective_book
    from retain.engage.results import results_window

    with open_session(cfg.database_url) as session:
        book = effective_book(session, _playbooks(None))
    return {p.name: results_window(p) for p in book.playbooks}


def _window(cfg: Settings, campaign: str, window: int | None) -> tuple[int, WindowBasis]:
    """The outcome window of ``campaign``: ``--window``, else its playbook's, else 60 days."""
    known = playbook_windows(cfg, [campaign]) if window is None else {}
    return outcome_window(campaign, window_days=window, playbook_windows=known)


def _run(
    campaign: str | None,
    outcome: OutcomeName,
    window: int | None,
    learner: LearnerName,
    seed: int,
    definition: str | None,
) -> tuple[Any, Assessment, Any]:
    cfg = settings()
    con = wh.connect(settings=cfg)
    chosen = cfg.churn_definition(definition)
    campaign = campaign or _newest(con)
    days, basis = _window(cfg, campaign, window)
    data = campaign_dataset(
        con, campaign, outcome=outcome.value, window_days=days, definition=chosen
    )
    risk = churn_risk(data, cfg.models_dir)
    model = make_learner(learner.value, random_state=seed)
    assessment, _ = assess_campaign(data, model, risk=risk, random_state=seed)
    return data, with_window(assessment, days, basis), model


def _basis(found: Assessment) -> str:
    """``given``, ``playbook`` or ``default``: where the assessment's window came from."""
    return str(found.effects["window_basis"].iloc[0]) if len(found.effects) else "default"


def _window_line(campaign: str, days: int, basis: str) -> str:
    """The line saying which outcome window was used, and why."""
    if basis == "default" and campaign.startswith(PLAYBOOK_PREFIX):
        name = campaign.removeprefix(PLAYBOOK_PREFIX)
        return t("uplift_page.window_default_playbook", days=days, playbook=name)
    return t(f"uplift_page.window_{basis}", days=days)


def _show(data: Any, found: Assessment, fmt: Format, extra: dict[str, Any]) -> None:
    if fmt is Format.json:
        out = {
            "campaign_id": found.campaign_id,
            "started_at": data.started_at.isoformat(),
            "outcome": found.outcome,
            "window_days": data.window_days,
            "window_basis": _basis(found),
            "learner": found.learner,
            "n_train": found.n_train,
            "n_test": found.n_test,
            **extra,
        }
        for name in ("effects", "policies", "deciles"):
            frame: pd.DataFrame = getattr(found, name)
            out[name] = json.loads(frame.round(6).to_json(orient="records"))
        console.print_json(json.dumps(out))
        return
    title = t(
        "uplift.title_effects",
        campaign=found.campaign_id,
        date=format_date(data.started_at),
        outcome=found.outcome,
        days=data.window_days,
    )
    effects = found.effects.drop(columns=["window_days", "window_basis"], errors="ignore")
    print_frame(console, effects.round(4), title=title)
    console.print(_window_line(found.campaign_id, data.window_days, _basis(found)), highlight=False)
    title = t("uplift.title_policies", customers=format_number(found.n_test), learner=found.learner)
    print_frame(console, found.policies.round(4), title=title)
    if "churn_risk" not in set(found.policies["policy"]):
        console.print(t("uplift.no_risk"), highlight=False)
    columns = ["arm", "decile", "n_treated", "n_control", "uplift", "uplift_low", "uplift_high"]
    deciles = found.deciles[[*columns, "predicted"]]
    print_frame(console, deciles.round(4), title=t("uplift.title_deciles"))


@uplift_app.command("evaluate")
def evaluate(
    campaign: CampaignOpt = None,
    outcome: OutcomeOpt = OutcomeName.retention,
    window: WindowOpt = None,
    learner: LearnerOpt = LearnerName.t,
    seed: SeedOpt = 0,
    definition: DefinitionOpt = None,
    fmt: FormatOpt = Format.table,
    store: Annotated[
        bool,
        typer.Option(
            "--store",
            help="Store the evaluation (uplift_evaluations) for the Uplift page and the API.",
        ),
    ] = False,
) -> None:
    """Judge an uplift model of one campaign on held-out customers (stored with --store)."""
    data, found, _ = _run(campaign, outcome, window, learner, seed, definition)
    if store:
        store_evaluation(wh.connect(settings=settings()), data, found, evaluated_at=None)
    _show(data, found, fmt, {"stored": store} if store else {})


@uplift_app.command("train")
def train(
    campaign: CampaignOpt = None,
    outcome: OutcomeOpt = OutcomeName.retention,
    window: WindowOpt = None,
    learner: LearnerOpt = LearnerName.t,
    seed: SeedOpt = 0,
    definition: DefinitionOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Evaluate as ``evaluate`` does, then fit on every customer and store the model."""
    data, found, model = _run(campaign, outcome, window, learner, seed, definition)
    final = clone(model).fit(data.X, data.treatment, data.y)
    end = data.started_at + pd.Timedelta(days=data.window_days)
    card = {
        "name": f"{found.campaign_id} {found.outcome}",
        "campaign_id": found.campaign_id,
        "outcome": found.outcome,
        "window_days": data.window_days,
        "window_basis": _basis(found),
        "features": list(data.features),
        "n_customers": len(data.frame),
        "metrics": found.metrics(),
        "data_window": {"start": data.started_at.isoformat(), "end": end.isoformat()},
    }
    folder = save_uplift_model(final, card, models_dir=settings().models_dir)
    model_id = f"uplift/{folder.name}"
    _show(data, found, fmt, {"model_id": model_id})
    if fmt is Format.table:
        console.print(
            t("uplift.saved", id=model_id, customers=format_number(len(data.frame))),
            highlight=False,
        )


@uplift_app.command("score")
def score(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Also write a CSV or Parquet file (retain plan --uplift)."
        ),
    ] = None,
    action: Annotated[
        list[str] | None,
        typer.Option(
            "--action",
            help="ARM=ACTION: the planner's action an arm stands for (repeatable; default: "
            "a one-arm campaign's offer, or a bare name given here, else arm names).",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Date of the customers' features, YYYY-MM-DD (default today)."
        ),
    ] = None,
    store: Annotated[
        bool,
        typer.Option(
            "--store/--no-store",
            help="Store the uplift in the warehouse (uplift_scores), where retain plan, the "
            "plan page, the API and the report find it.",
        ),
    ] = True,
    campaign: CampaignOpt = None,
    outcome: OutcomeOpt = OutcomeName.retention,
    window: WindowOpt = None,
    learner: LearnerOpt = LearnerName.t,
    seed: SeedOpt = 0,
    definition: DefinitionOpt = None,
) -> None:
    """Score every current customer's uplift for the offer planner: one to choose, one honest.

    Two halves of the campaign train two models; each customer is chosen on one
    (``uplift``) and valued by the uplift the campaign measured for their score group on the
    half that model never saw (``uplift_honest``, with ``honest_group`` and ``honest_variance``
    for the plan's 95 % interval), without the winner's curse. The result is stored in
    ``uplift_scores`` (replacing this campaign's earlier scoring of the same action) and, with
    ``--output``, written to a file.
    """
    cfg = settings()
    con = wh.connect(settings=cfg)
    chosen = cfg.churn_definition(definition)
    campaign = campaign or _newest(con)
    day = pd.Timestamp(as_of) if as_of else pd.Timestamp.now().normalize()
    days, basis = _window(cfg, campaign, window)
    data = campaign_dataset(
        con, campaign, outcome=outcome.value, window_days=days, definition=chosen
    )
    names = _actions(data.arms, action) if action else None
    frame = score_campaign(
        con,
        campaign,
        definition=chosen,
        as_of=day,
        actions=names,
        learner=learner.value,
        outcome=outcome.value,
        window_days=days,
        seed=seed,
        data=data,
    )
    console.print(_window_line(campaign, days, basis), highlight=False)
    customers = format_number(frame["customer_id"].nunique())
    if store:
        version = store_uplift_scores(con, frame, campaign_id=campaign, as_of=day)
        actions = ", ".join(sorted(set(frame["action"])))
        console.print(
            t(
                "uplift.stored",
                customers=customers,
                actions=actions,
                campaign=campaign,
                version=version,
            ),
            highlight=False,
        )
    if output is not None:
        if output.suffix.lower() in (".parquet", ".pq"):
            frame.to_parquet(output, index=False)
        else:
            frame.to_csv(output, index=False)
        console.print(t("uplift.scored", customers=customers, path=str(output)), highlight=False)


def _newest(con: Any) -> str:
    listed = list_campaigns(con)
    if listed.empty:
        raise NotFoundError(t("uplift.no_campaigns"), hint=t("uplift_page.no_campaigns_hint"))
    return str(listed["campaign_id"].iloc[-1])


def _actions(arms: list[str], given: list[str]) -> dict[str, str]:
    """Each arm's action name from ``ARM=ACTION`` pairs (a bare name names a lone arm)."""
    names = {arm: arm for arm in arms}
    for item in given:
        arm, sep, name = item.partition("=")
        if not sep and len(arms) == 1:
            arm, name = arms[0], item
        if arm not in names or not name:
            raise InvalidParameterError(
                t("uplift.bad_action", value=item, arms=", ".join(arms)),
                hint=t("uplift.bad_action_hint"),
            )
        names[arm] = name
    return names
