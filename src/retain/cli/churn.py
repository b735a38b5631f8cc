"""``retain churn train | evaluate | score | list``: churn risk from the command line.

Thin commands: read settings, open the warehouse, call :mod:`retain.models.churn`, print a
translated summary. ``evaluate --format json`` prints the model's and every baseline's metrics.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from retain.cli._app import app, console, err_console, settings
from retain.i18n import format_number, format_percent, t

if TYPE_CHECKING:
    from retain.config import Settings

__all__ = ["churn_app"]

churn_app = typer.Typer(no_args_is_help=True, help="Churn risk: train, evaluate and score.")
app.add_typer(churn_app, name="churn")


class OutputFormat(StrEnum):
    """How ``evaluate`` prints."""

    table = "table"
    json = "json"


Definition = Annotated[
    str | None,
    typer.Option("--definition", "-d", help="Churn definition ([[churn]] name in retain.toml)."),
]
Version = Annotated[
    str | None, typer.Option("--version", help="Model version (default: the newest).")
]


def _connect() -> Any:
    import retain.warehouse as wh

    return wh.connect(settings=settings())


@churn_app.command("train")
def train(
    definition: Definition = None,
    test_dates: Annotated[
        int,
        typer.Option(
            "--test-dates", min=1, help="Latest reference dates held out for the backtest."
        ),
    ] = 3,
    evaluate: Annotated[
        bool, typer.Option("--evaluate/--no-evaluate", help="Backtest against the baselines first.")
    ] = True,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the model.")] = 0,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Train on this one reference date (a snapshot export, e.g. IBM Telco): "
            "evaluated by repeated cross-validation instead of by time.",
        ),
    ] = None,
    linear_base: Annotated[
        bool,
        typer.Option(
            "--linear-base/--no-linear-base",
            help="Boost the trees from a logistic regression (better on snapshots of mostly "
            "additive attributes).",
        ),
    ] = False,
) -> None:
    """Train a churn model on monthly reference dates, backtest it by time, and register it."""
    from retain.facts import as_timestamp
    from retain.models.churn import ChurnClassifier, save_model, train_model

    cfg = settings()
    chosen = cfg.churn_definition(definition)
    dates = None if as_of is None else [as_timestamp(as_of, name="--as-of")]
    con = _connect()
    with err_console.status(t("churn.cli_training")) as status:
        trained = train_model(
            con,
            definition=chosen,
            estimator=ChurnClassifier(random_state=seed, linear_base=linear_base),
            dates=dates,
            test_origins=test_dates,
            evaluate=evaluate,
            on_step=lambda msg: status.update(t("churn.cli_step", step=msg)),
        )
    path = save_model(trained.model, trained.card, models_dir=cfg.models_dir)
    card = trained.card
    console.print(
        t(
            "churn.cli_trained",
            version=card["version"],
            path=str(path),
            rows=format_number(card["n_rows"]),
            dates=len(card["reference_dates"]),
            features=len(card["features"]),
        )
    )
    if trained.backtest is not None:
        _print_champion(card.get("champion") or {})
        _print_metrics(
            trained.backtest.metrics.to_dict(orient="records"),
            cv=len(card["reference_dates"]) == 1,
        )
    for note in card["notes"]:
        console.print(t("churn.cli_note", note=note))
    _warn_unlabelled(card, cfg)


def _warn_unlabelled(card: dict[str, Any], cfg: Settings) -> None:
    """Once per training: the customer attributes the reasons would name by their bare key."""
    from retain.models.churn.reasons.labels import labels_from_settings, unlabelled

    keys = unlabelled(
        (str(a["key"]) for a in card.get("attributes", [])), labels_from_settings(cfg)
    )
    if keys:
        err_console.print(
            t("labels.unlabelled", n=len(keys), keys=", ".join(keys), first=keys[0]),
            markup=False,
        )


def _print_champion(champion: dict[str, Any]) -> None:
    """The candidates side by side (metrics with 95% intervals) and why the champion won."""
    rows = champion.get("candidates") or []
    if not rows:
        return
    metric = str(champion.get("metric", "roc_auc"))
    table = Table(title=t("churn.title_candidates"))
    table.add_column(t("churn.col_candidate"))
    table.add_column(t(f"churn.col_{metric}"), justify="right")
    table.add_column(t("churn.col_interval"), justify="right")
    for col in ("roc_auc", "pr_auc", "brier", "lift_10"):
        if col != metric:
            table.add_column(t(f"churn.col_{col}"), justify="right")
    for row in rows:
        name = str(row["candidate"])
        mark = " *" if name == champion.get("chosen") else ""
        low, high = row.get(f"{metric}_low"), row.get(f"{metric}_high")
        interval = "-" if low is None or high is None else f"{low:.3f}-{high:.3f}"
        cells = [t(f"churn.candidate_{name}") + mark, _num(row.get(metric)), interval]
        cells += [
            _num(row.get(c)) for c in ("roc_auc", "pr_auc", "brier", "lift_10") if c != metric
        ]
        table.add_row(*cells)
    console.print(table)
    chosen = str(champion.get("chosen", ""))
    console.print(
        t("churn.cli_champion", name=t(f"churn.candidate_{chosen}"), reason=champion["reason"]),
        markup=False,
    )


def _num(value: Any) -> str:
    return "-" if value is None else format_number(float(value), digits=3)


def _print_metrics(rows: list[dict[Any, Any]], *, cv: bool) -> None:
    """The model and its baselines; ``cv``: cross-validated on one snapshot, not by time."""
    table = Table(title=t("churn.title_eval_cv" if cv else "churn.title_eval"))
    table.add_column(t("churn.col_model"))
    for col in ("roc_auc", "pr_auc", "brier", "lift_10", "recall_10", "recall_20"):
        table.add_column(t(f"churn.col_{col}"), justify="right")
    for row in rows:
        cells = [t(f"churn.model_{row['model']}")]
        cells += [
            format_number(float(row[c]), digits=3)
            for c in ("roc_auc", "pr_auc", "brier", "lift_10")
        ]
        cells += [format_percent(float(row[c])) for c in ("recall_10", "recall_20")]
        table.add_row(*cells)
    console.print(table)


@churn_app.command("evaluate")
def evaluate_cmd(
    version: Version = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="table (default) or json.")
    ] = OutputFormat.table,
) -> None:
    """Show the time-split evaluation of a model next to its baselines."""
    from retain.models.registry import ChurnKind, ModelRegistry

    # The card is enough: nothing is unpickled to show what was measured at training.
    card = ModelRegistry(settings().models_dir).select(ChurnKind.name, version)
    result = card.data.get("backtest")
    if output is OutputFormat.json:
        payload = {
            "version": card.version,
            "definition": card.data.get("definition"),
            "protocol": (result or {}).get("protocol"),
            "metrics": (result or {}).get("metrics", []),
            "by_origin": (result or {}).get("by_origin", []),
            "champion": card.data.get("champion"),
            "notes": card.data.get("notes", []),
        }
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    if not result:
        console.print(t("churn.cli_no_backtest", version=card.version))
        return
    console.print(t("churn.cli_protocol", protocol=result["protocol"]))
    _print_champion(card.data.get("champion") or {})
    _print_metrics(result["metrics"], cv=len(card.data.get("reference_dates") or []) == 1)


@churn_app.command("score")
def score(
    definition: Definition = None,
    version: Version = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Reference date (default: the day after the data ends)."),
    ] = None,
    top: Annotated[
        int,
        typer.Option("--top", min=0, help="Show the N customers most at risk with their reasons."),
    ] = 10,
    reasons: Annotated[
        int, typer.Option("--reasons", min=1, max=10, help="Reasons per customer.")
    ] = 3,
    min_contribution: Annotated[
        float | None,
        typer.Option(
            "--min-contribution",
            min=0.0,
            max=10.0,
            help="Log-odds a reason must add to the score to be shown (default 0.05; 0: every "
            "risk-raising one).",
        ),
    ] = None,
) -> None:
    """Score every customer at risk, with reasons, into the churn_scores table.

    ``--definition`` scores with the newest model of that churn definition (``--version``
    picks one exactly).
    """
    from retain.models.churn import load_model, score_customers
    from retain.models.churn.scoring import REASON_FLOOR
    from retain.models.registry import ChurnKind, ModelRegistry

    cfg = settings()
    if definition is not None and version is None:
        name = cfg.churn_definition(definition).name  # an unknown name fails with the known ones
        version = ModelRegistry(cfg.models_dir).latest(ChurnKind.name, name=name).version
    registered = load_model(version, models_dir=cfg.models_dir)
    con = _connect()
    with err_console.status(t("churn.cli_scoring")):
        result = score_customers(
            con,
            registered,
            as_of=as_of,
            top=reasons,
            min_contribution=REASON_FLOOR if min_contribution is None else min_contribution,
        )
    scores = result.scores
    bands = scores["risk_band"].value_counts()
    console.print(
        t(
            "churn.cli_scored",
            n=format_number(len(scores)),
            as_of=result.as_of.date().isoformat(),
            version=result.model_version,
            high=format_number(int(bands.get("high", 0))),
            medium=format_number(int(bands.get("medium", 0))),
        )
    )
    if top and len(scores):
        _print_top(scores, top)
    shifted = result.drift[result.drift["status"] != "stable"]
    for row in shifted.head(10).itertuples():
        console.print(
            t(
                "churn.cli_drift",
                name=row.name,
                psi=format_number(float(row.psi), digits=2),  # type: ignore[arg-type]
                status=t(f"churn.drift_{row.status}"),
            )
        )


def _print_top(scores: Any, n: int) -> None:
    """The ``n`` customers most at risk, each reason on its own line (folds at 80 columns)."""
    from retain.models.churn.reasons import render_stored_reasons
    from retain.models.churn.reasons.labels import active_labels

    labels = active_labels()
    table = Table(
        title=t(
            "churn.title_top",
            n=format_number(min(n, len(scores))),
            total=format_number(len(scores)),
        ),
        title_justify="left",
        show_lines=True,
    )
    table.add_column(t("churn.col_customer"), overflow="fold", max_width=16)
    table.add_column(t("churn.col_risk"), justify="right", no_wrap=True)
    table.add_column(t("churn.col_band"), no_wrap=True)
    table.add_column(t("churn.col_reasons"), overflow="fold", ratio=1)
    for row in scores.nlargest(n, "probability").itertuples(index=False):
        shown = [r["text"] for r in render_stored_reasons(row.reasons, labels=labels)]
        table.add_row(
            str(row.customer_id),
            format_percent(float(row.probability), digits=0),
            t(f"churn.band_{row.risk_band}"),
            "\n".join(shown) or "-",
        )
    console.print(table)


@churn_app.command("list")
def list_cmd() -> None:
    """List registered churn models, newest last."""
    from retain.models.registry import ChurnKind, ModelRegistry

    cards = ModelRegistry(settings().models_dir).cards(ChurnKind.name)
    if not cards:
        console.print(t("churn.cli_none"))
        return
    for card in reversed(cards):
        auc = card.metrics.get("roc_auc")
        console.print(
            t(
                "churn.cli_list_row",
                version=card.version,
                definition=card.name,
                auc="-" if auc is None else format_number(auc, digits=3),
            )
        )
