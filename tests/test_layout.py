"""Guards on the test tree itself: pytest's default import mode needs unique module names."""

from __future__ import annotations

import collections
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_test_module_names_are_unique() -> None:
    names = collections.Counter(
        p.name for p in TESTS.rglob("*.py") if p.name != "conftest.py" and p.name != "__init__.py"
    )
    assert not [n for n, c in names.items() if c > 1]


def test_no_test_imports_from_conftest() -> None:
    """With several conftest.py files, 'from conftest import' picks whichever loaded first."""
    offenders = [
        str(p.relative_to(TESTS))
        for p in TESTS.rglob("*.py")
        if re.search(r"^\s*(from conftest import|import conftest)", p.read_text(), re.M)
    ]
    assert not offenders
