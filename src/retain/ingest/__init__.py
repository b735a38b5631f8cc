"""Load data into the warehouse: validated, idempotent, all or nothing.

>>> from retain.ingest import ingest
>>> report = ingest("orders", "orders.csv")  # doctest: +SKIP
>>> print(report.summary())  # doctest: +SKIP

:func:`ingest` loads one canonical table from files or a frame; :func:`load_recipe` loads a
public dataset as it is published (``cdnow``, ``telco``, ``hillstrom``, ``airline-tweets``,
``online-retail-ii``). See ``docs/ingestion.md``.
"""

from __future__ import annotations

from retain.ingest.load import IngestProgress, IngestReport, ingest
from retain.ingest.mapping import Mapping, read_mapping
from retain.ingest.quarantine import Quarantine, read_rejects
from retain.ingest.recipe import Recipe, get_recipe, list_recipes, load_recipe

__all__ = [
    "IngestProgress",
    "IngestReport",
    "Mapping",
    "Quarantine",
    "Recipe",
    "get_recipe",
    "ingest",
    "list_recipes",
    "load_recipe",
    "read_mapping",
    "read_rejects",
]
