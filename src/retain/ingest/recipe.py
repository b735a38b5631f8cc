"""Dataset recipes: load a public dataset as it is published, with no editing.

A recipe is a TOML file shipped in ``retain/ingest/recipes/``: a description, reader options
shared by its steps, and one ``[[steps]]`` entry per canonical table, each a
:class:`~retain.ingest.mapping.Mapping` (usually with a ``query`` that reshapes the published
layout). Steps run in order (customers first), each as one :func:`retain.ingest.ingest` call, so
every step is validated, idempotent and atomic on its own. Recipes quarantine bad rows by default
so a published file's oddities (rows without a customer, bad-debt adjustments) are counted,
reported and kept in ``rejects`` rather than failing the whole load.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from retain.config import CONFIG_ENV, DEFAULT_CONFIG, Settings, get_settings
from retain.errors import NotFoundError
from retain.i18n import t
from retain.ingest.load import IngestProgress, IngestReport, ingest
from retain.ingest.mapping import Mapping

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = [
    "Recipe",
    "RecipeStep",
    "get_recipe",
    "list_recipes",
    "load_recipe",
    "loaded_recipes",
    "loaded_recipes_file",
]


@dataclass(frozen=True)
class RecipeStep:
    """One table a recipe loads."""

    table: str
    mapping: Mapping
    unknown_customers: Literal["reject", "create"] | None = None


@dataclass(frozen=True)
class Recipe:
    """A shipped recipe: its name, what it loads, and its steps."""

    name: str
    description: str
    source: str
    """Where the dataset comes from and its licence, in one line."""
    on_error: Literal["reject", "quarantine"]
    steps: tuple[RecipeStep, ...]


def _root() -> Any:
    return resources.files("retain.ingest") / "recipes"


def list_recipes() -> list[str]:
    """The names of the shipped recipes."""
    return sorted(
        e.name.removesuffix(".toml") for e in _root().iterdir() if e.name.endswith(".toml")
    )


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; a :class:`~retain.errors.NotFoundError` lists the others."""
    entry = _root() / f"{name}.toml"
    if not entry.is_file():
        raise NotFoundError(
            t("ingest.recipe_unknown", name=name),
            hint=t("ingest.recipe_unknown_hint", names=", ".join(list_recipes())),
        )
    data = tomllib.loads(entry.read_text(encoding="utf-8"))
    reader = dict(data.get("reader", {}))
    steps = []
    for raw in data["steps"]:
        step = dict(raw)
        table = step.pop("table")
        unknown = step.pop("unknown_customers", None)
        steps.append(
            RecipeStep(
                table, Mapping.from_dict({**reader, **step}, where=f"recipe {name}"), unknown
            )
        )
    return Recipe(
        name,
        data["description"],
        data.get("source", ""),
        data.get("on_error", "quarantine"),
        tuple(steps),
    )


def load_recipe(
    name: str,
    path: str | Path,
    *,
    con: BaseBackend | None = None,
    settings: Settings | None = None,
    on_error: Literal["reject", "quarantine"] | None = None,
    on_progress: Callable[[IngestProgress], None] | None = None,
) -> list[IngestReport]:
    """Load the dataset at ``path`` with recipe ``name``; one report per table loaded.

    Parameters
    ----------
    name
        A shipped recipe (see :func:`list_recipes`).
    path
        The dataset file (or folder) as published.
    con
        The warehouse (default: ``connect(settings=settings)``, the project's own, which then
        lists the recipe in :func:`loaded_recipes_file`, so its labels apply to reasons).
    settings
        Configuration (default: :func:`retain.config.get_settings`).
    on_error
        Override the recipe's policy (recipes quarantine by default).
    on_progress
        Passed to each :func:`retain.ingest.ingest` call.
    """
    from retain import warehouse as wh

    recipe = get_recipe(name)
    settings = settings or get_settings()
    own = con is None
    con = con or wh.connect(settings=settings)
    try:
        reports = [
            ingest(
                step.table,
                path,
                con=con,
                settings=settings,
                mapping=step.mapping,
                on_error=on_error or recipe.on_error,
                unknown_customers=step.unknown_customers,
                on_progress=on_progress,
            )
            for step in recipe.steps
        ]
        if own:  # the project's own warehouse: its reasons may use the recipe's labels
            _remember(name)
        return reports
    finally:
        if own:
            con.disconnect()


def loaded_recipes_file() -> Path:
    """Where a project lists the recipes that loaded its data (``.retain/recipes``).

    Beside ``retain.toml``; a recipe's labels (``recipes/labels/NAME.toml``) apply only there.
    """
    config = Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG)).resolve()
    return config.parent / ".retain" / "recipes"


def loaded_recipes() -> list[str]:
    """The recipes that loaded this project's data, one name per line of the file."""
    try:
        text = loaded_recipes_file().read_text(encoding="utf-8")
    except OSError:
        return []
    return [line.strip() for line in text.splitlines() if line.strip()]


def _remember(name: str) -> None:
    if name not in (names := loaded_recipes()):
        path = loaded_recipes_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{n}\n" for n in [*names, name]), encoding="utf-8")
