"""The demo business: a seeded company with a shop and a subscription line, and its known truth.

``retain.demo.generate()`` returns a :class:`DemoBusiness` whose canonical tables were generated
from a stated latent process (:class:`DemoTruth`): each customer's churn time, the four planted
churn drivers with their hazard ratios, the true buy-till-you-die parameters and the true effect
of each past campaign. ``docs/demo.md`` describes the process and how to check a model against it.
"""

from __future__ import annotations

from retain.demo._load import load_folder
from retain.demo._params import CANCEL_REASONS, DRIVERS, DemoParameters
from retain.demo.generate import (
    CHUNK_CUSTOMERS,
    LOAD_ORDER,
    DemoBusiness,
    DemoSummary,
    DemoTruth,
    generate,
    write_demo,
)

__all__ = [
    "CANCEL_REASONS",
    "CHUNK_CUSTOMERS",
    "DRIVERS",
    "LOAD_ORDER",
    "DemoBusiness",
    "DemoParameters",
    "DemoSummary",
    "DemoTruth",
    "generate",
    "load_folder",
    "write_demo",
]
