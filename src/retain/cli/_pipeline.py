"""The whole pipeline on a loaded warehouse: lifetime value, churn risk, the report, a login.

``retain demo --run-pipeline`` (and so ``make demo``) calls :func:`run_demo_pipeline` after the demo
business is loaded. Each step is the same library call its own command makes (``retain clv fit``,
``retain churn train``...), so what the demo shows is what a user gets on their own data. It is
orchestration, so it lives at the edge (DESIGN.md "Layers"), next to the command that runs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from retain.config import ChurnDefinition, Settings
from retain.i18n import format_number, get_language, t

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = [
    "DEMO_ADMIN",
    "DEMO_CHURN",
    "DEMO_LOGIN",
    "PipelineResult",
    "demo_config_text",
    "run_demo_pipeline",
]

DEMO_CHURN = (
    ChurnDefinition(name="shop", kind="non_contractual", horizon_days=90, activity="orders"),
    ChurnDefinition(name="subscription", kind="contractual", horizon_days=60),
)
"""The demo company's two business lines: a shop (silent churn) and subscriptions (cancellation)."""

DEMO_LOGIN = ("demo@example.com", "retain-demo-2024")
"""The dashboard account ``make demo`` creates for everyday work (an analyst; local demo only)."""
DEMO_ADMIN = ("admin@example.com", "retain-admin-2024")
"""The dashboard account ``make demo`` creates (an analyst; local demo only)."""


@dataclass
class PipelineResult:
    """What the pipeline produced, for the summary and for tests."""

    report: Path | None = None
    clv_version: str | None = None
    clv_customers: int = 0
    churn_versions: dict[str, str] = field(default_factory=dict)
    churn_scored: dict[str, int] = field(default_factory=dict)
    churn_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    login: tuple[str, str] | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    uplift: list[dict[str, Any]] = field(default_factory=list)
    """Per planner action stored: ``action, campaign_id, model_version, customers``."""


def demo_config_text() -> str:
    """``retain init``'s template, generated with the demo's two churn definitions."""
    from retain.cli.init import template

    return template(
        DEMO_CHURN,
        churn_note="The demo company has a shop (silent churn) and a subscription line "
        "(cancellations).",
    )


def _timed(result: PipelineResult, name: str, step: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    value = step()
    result.seconds[name] = time.perf_counter() - started
    return value


def _clv(con: BaseBackend, settings: Settings, result: PipelineResult) -> None:
    from retain.models.clv import fit_clv, score_clv

    stored = fit_clv(con, settings=settings, model="bgnbd")
    scores = score_clv(con, settings=settings, version=stored.version)
    result.clv_version = stored.version
    result.clv_customers = len(scores)


def _churn(
    con: BaseBackend,
    settings: Settings,
    definitions: tuple[ChurnDefinition, ...],
    result: PipelineResult,
) -> None:
    from retain.models.churn import (
        ChurnClassifier,
        load_model,
        save_model,
        score_customers,
        train_model,
    )

    for definition in definitions:
        trained = train_model(con, definition=definition, estimator=ChurnClassifier(random_state=0))
        save_model(trained.model, trained.card, models_dir=settings.models_dir)
        version = str(trained.card["version"])
        registered = load_model(version, models_dir=settings.models_dir)
        scored = score_customers(con, registered, write=True)
        result.churn_versions[definition.name] = version
        result.churn_scored[definition.name] = len(scored.scores)
        if trained.backtest is not None:
            metrics = trained.backtest.metrics
            model_row = metrics[metrics["model"] == "model"]
            if len(model_row):
                row = model_row.iloc[0]
                result.churn_metrics[definition.name] = {
                    k: float(row[k]) for k in ("roc_auc", "pr_auc", "brier") if k in row
                }


def _uplift(
    con: BaseBackend,
    settings: Settings,
    definitions: tuple[ChurnDefinition, ...],
    result: PipelineResult,
) -> None:
    """Uplift of each planner action from the newest randomized campaign that offered it.

    Every randomized campaign is evaluated on held-out customers against random and "highest
    churn risk first" (``retain uplift evaluate --store``, for the Uplift page and API); each
    action is scored from its newest campaign (``retain uplift score``, ``uplift_scores``) on
    the planner's business line as of its churn scores, so the plan, its page, the API and the
    report answer from campaign history.
    """
    from retain.cli.uplift import playbook_windows
    from retain.models.uplift import list_campaigns
    from retain.models.uplift.evaluations import evaluate_campaign, store_evaluation
    from retain.models.uplift.scores import store_campaign_uplift
    from retain.targeting.scores import latest_churn_scores

    planned = settings.churn_definition(None).name
    line = next((d for d in definitions if d.name == planned), definitions[0])
    day = latest_churn_scores(con, line.name).as_of.max().execute()
    if day is None:
        return
    risk = _risk(con, settings, result.churn_versions.get(line.name))
    datasets = {}
    campaigns = [str(c) for c in list_campaigns(con)["campaign_id"]]
    windows = playbook_windows(settings, campaigns)  # a playbook counts in its own window
    for campaign_id in campaigns:
        data, found = evaluate_campaign(
            con, campaign_id, definition=line, risk=risk, playbook_windows=windows
        )
        store_evaluation(con, data, found, evaluated_at=None)
        datasets[data.campaign_id] = data
    actions = [a.name for a in settings.offers.candidate_actions()]
    stored = store_campaign_uplift(
        con, definition=line, as_of=day, actions=actions, datasets=datasets
    )
    result.uplift = [{str(k): v for k, v in row.items()} for row in stored.to_dict("records")]


def _risk(con: BaseBackend, settings: Settings, version: str | None) -> Any:
    """Churn risk at each campaign's start by the line's model (for "highest risk first")."""
    if version is None:
        return None
    from retain.models.churn import load_model
    from retain.models.uplift.evaluations import churn_risk_at_start

    return churn_risk_at_start(con, load_model(version, models_dir=settings.models_dir))


def _segments(con: BaseBackend, settings: Settings) -> None:
    """RFM segments a month apart (so the movement matrix has movement) and the value x risk grid.

    The same library calls as ``retain segments rfm`` and ``retain segments value-risk``.
    """
    import pandas as pd

    import retain.warehouse as wh
    from retain.targeting.segments import (
        default_as_of,
        rfm_scores,
        store_memberships,
        value_risk_grid,
    )

    end = default_as_of(con, settings.currency)
    if end is None:  # nobody bought: a subscription-only business has no RFM
        return
    for day in (end - pd.DateOffset(months=1), end):
        store_memberships(con, "rfm", day, rfm_scores(wh.read_table(con, "orders"), day))
    store_memberships(con, "value_risk", end, value_risk_grid(con, end))


def _report(con: BaseBackend, settings: Settings, path: Path) -> Path:
    from retain.report import build_report, render_report

    sections = build_report(con, settings)
    text = render_report(sections, title=t("pipeline.report_title"), lang=get_language())
    path.write_text(text, encoding="utf-8")
    return path


def _login(settings: Settings) -> tuple[str, str]:
    """Create the demo logins (an analyst and an admin), or reset them if an earlier run did."""
    from retain.app import Caller, ensure_user, open_session

    accounts = ((DEMO_LOGIN, "analyst", "Demo"), (DEMO_ADMIN, "admin", "Demo admin"))
    with open_session(settings.database_url) as session:
        for (email, password), role, name in accounts:
            ensure_user(
                session,
                email=email,
                role=role,
                password=password,
                name=name,
                exist_ok=True,
                actor=Caller("retain demo", "cli"),
            )
        session.commit()
    return DEMO_LOGIN


def run_demo_pipeline(
    con: BaseBackend,
    settings: Settings,
    console: Console,
    *,
    report_path: Path = Path("report.html"),
) -> PipelineResult:
    """Fit CLV, score churn per line, store uplift and segments, write the report, log in.

    The churn definitions come from ``settings.churn``; when it is the single default, the demo's
    two lines (:data:`DEMO_CHURN`) are used.
    """
    result = PipelineResult()
    definitions = tuple(settings.churn)
    if [d.model_dump() for d in definitions] == [Settings().churn[0].model_dump()]:
        definitions = DEMO_CHURN
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("clv", lambda: _clv(con, settings, result)),
        ("churn", lambda: _churn(con, settings, definitions, result)),
        ("uplift", lambda: _uplift(con, settings, definitions, result)),
        ("segments", lambda: _segments(con, settings)),
        ("report", lambda: setattr(result, "report", _report(con, settings, report_path))),
        ("login", lambda: setattr(result, "login", _login(settings))),
    ]
    for name, step in steps:
        with console.status(_step_label(name)):
            _timed(result, name, step)
        console.print(
            t(
                "pipeline.done",
                step=_step_label(name),
                seconds=f"{result.seconds[name]:.1f}",
            )
        )
    _summary(console, settings, result)
    return result


def _step_label(name: str) -> str:
    """A step's progress line (the uplift step's lives in the uplift catalog)."""
    return t("uplift.pipeline_step") if name == "uplift" else t(f"pipeline.step_{name}")


def _summary(console: Console, settings: Settings, result: PipelineResult) -> None:
    table = Table(title=t("pipeline.summary_title"), show_header=True)
    table.add_column(t("pipeline.col_what"))
    table.add_column(t("pipeline.col_result"))
    table.add_row(
        t("pipeline.row_clv"),
        t(
            "pipeline.clv_result",
            customers=format_number(result.clv_customers),
            version=result.clv_version or "-",
        ),
    )
    for name, n in result.churn_scored.items():
        auc = result.churn_metrics.get(name, {}).get("roc_auc")
        table.add_row(
            t("pipeline.row_churn", line=name),
            t(
                "pipeline.churn_result",
                customers=format_number(n),
                auc="-" if auc is None else f"{auc:.3f}",
                version=result.churn_versions[name],
            ),
        )
    for row in result.uplift:
        table.add_row(
            t("uplift.pipeline_row", action=row["action"]),
            t(
                "uplift.pipeline_result",
                customers=format_number(row["customers"]),
                campaign=row["campaign_id"],
                version=row["model_version"],
            ),
        )
    if not result.uplift:
        table.add_row(t("uplift.pipeline_row_none"), t("uplift.pipeline_none"))
    console.print(table)
    host, port = settings.service.host, settings.service.port
    email, password = result.login or DEMO_LOGIN
    console.print(t("pipeline.next_report", path=str(result.report)))
    console.print(
        t("pipeline.next_serve", url=f"http://{host}:{port}/", email=email, password=password)
    )
    admin, admin_password = DEMO_ADMIN
    console.print(t("pipeline.next_admin", email=admin, password=admin_password))
    console.print(t("pipeline.next_cli"))
