"""Packages that export names but import them only on first use (PEP 562).

A package whose parts pull in heavy libraries (LightGBM, numba, FastAPI) lists its public names
with the module each lives in and calls :func:`lazy_package` at its end; a name's module is then
imported the first time the name is read, so importing one light part stays cheap.

A name may equal the submodule that defines it (``retain.models.churn.backtest``, the function,
lives in the submodule ``backtest``). Importing such a submodule binds it on the package, which
would hide the function; the package ignores that binding, so the name always means the export.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Mapping
from typing import Any

__all__ = ["lazy_package"]


class _LazyPackage(types.ModuleType):
    """A package module whose exported names resolve through ``_lazy_homes``."""

    _lazy_homes: Mapping[str, str]

    def __getattr__(self, name: str) -> Any:
        home = self.__dict__.get("_lazy_homes", {}).get(name)
        if home is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        self.__dict__[name] = value
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        homes = self.__dict__.get("_lazy_homes", {})
        if isinstance(value, types.ModuleType) and homes.get(name) == value.__name__:
            return  # a submodule named like its export: the export wins
        super().__setattr__(name, value)


def lazy_package(package: str, homes: Mapping[str, str]) -> None:
    """Make ``package`` (already in ``sys.modules``) import each of ``homes`` on first use."""
    module = sys.modules[package]
    module.__dict__["_lazy_homes"] = dict(homes)
    module.__class__ = _LazyPackage
