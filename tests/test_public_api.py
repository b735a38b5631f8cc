"""The front door: each package's ``__all__`` lists exactly what it exports, and it all imports."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "retain",
    "retain.errors",
    "retain.config",
    "retain.schema",
    "retain.warehouse",
    "retain.i18n",
    "retain.ingest",
    "retain.demo",
    "retain.metrics",
    "retain.report",
    "retain.models.clv",
    "retain.models.churn",
    "retain.features",
    "retain.facts",
    "retain.models.registry",
    "retain.models.churn.reasons",
    "retain.targeting",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist_and_public_names_are_listed(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and getattr(v, "__module__", "").startswith(name) and callable(v)
    }
    assert public <= exported, (
        f"{name} defines public names missing from __all__: {public - exported}"
    )


def test_the_front_door() -> None:
    import retain

    for name in ("connect", "ingest", "load_recipe", "read_table", "write_table", "RetainError"):
        assert name in retain.__all__
