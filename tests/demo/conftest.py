"""One small demo business per run, shared by the demo tests (generation takes about a second)."""

from __future__ import annotations

import pytest

from retain.demo import DemoBusiness, generate

CUSTOMERS = 3_000
SEED = 7


@pytest.fixture(scope="session")
def demo() -> DemoBusiness:
    """3,000 customers over the default two years, seed 7."""
    return generate(customers=CUSTOMERS, seed=SEED)
