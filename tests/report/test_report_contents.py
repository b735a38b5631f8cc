"""The report's sections are a static, complete list, and a failing section is a named error."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

import pytest

import retain.report
import retain.warehouse as wh
from retain.config import Settings
from retain.errors import NotFoundError
from retain.report import (
    SECTIONS,
    ReportSectionError,
    Section,
    SectionProvider,
    build_report,
)

REPORT_DIR = Path(retain.report.__file__).parent


@pytest.fixture
def empty_warehouse(tmp_path: Path) -> Any:
    con = wh.connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    wh.create_tables(con)
    yield con
    con.disconnect()


def test_sections_are_a_static_tuple_of_every_area() -> None:
    assert isinstance(SECTIONS, tuple)
    assert [p.key for p in SECTIONS] == [
        "retention",
        "clv",
        "churn",
        "segments",
        "offers",
        "uplift",
        "voice",
    ]
    for provider in SECTIONS:
        module = importlib.import_module(f"retain.report.{provider.key}")
        assert provider.build is module.report_sections
    # Complete: every module of retain.report that builds sections is listed.
    builders = {
        info.name
        for info in pkgutil.iter_modules([str(REPORT_DIR)])
        if hasattr(importlib.import_module(f"retain.report.{info.name}"), "report_sections")
    }
    assert builders == {p.key for p in SECTIONS}


def test_no_section_is_found_or_dropped_by_import_tricks() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in REPORT_DIR.glob("*.py"))
    for trick in ("__import__", "except ImportError", "except (ImportError", "ModuleNotFoundError"):
        assert trick not in source


def test_a_section_that_raises_fails_the_report_naming_it(empty_warehouse: Any) -> None:
    def broken(con: Any, settings: Settings) -> list[Section]:
        raise KeyError("period_start")

    providers = (*SECTIONS[:1], SectionProvider("broken", broken))
    with pytest.raises(RuntimeError, match=r"report section 'broken' failed: KeyError") as info:
        build_report(empty_warehouse, Settings(), providers=providers)
    assert not isinstance(info.value, ReportSectionError)  # a bug stays a bug (exit 1)
    assert isinstance(info.value.__cause__, KeyError)


def test_a_user_error_in_a_section_keeps_its_hint_and_names_the_section(
    empty_warehouse: Any,
) -> None:
    def missing(con: Any, settings: Settings) -> list[Section]:
        raise NotFoundError("no model has version x", hint="see 'retain churn list'")

    with pytest.raises(ReportSectionError) as info:
        build_report(empty_warehouse, Settings(), providers=[SectionProvider("churn", missing)])
    error = info.value
    assert error.section == "churn"
    assert error.message == "report section 'churn' failed: no model has version x"
    assert error.hint == "see 'retain churn list'"


def test_the_real_sections_fail_loudly_too(
    empty_warehouse: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What used to vanish silently (a broken lifetime-value area) now stops the report."""
    from retain.models.registry import ModelRegistry

    def unreadable(self: ModelRegistry, kind: str | None = None, **_: Any) -> list[Any]:
        raise OSError("models folder unreadable")

    monkeypatch.setattr(ModelRegistry, "cards", unreadable)
    with pytest.raises(RuntimeError, match="report section 'clv' failed: OSError"):
        build_report(empty_warehouse, Settings(models_dir=tmp_path / "models"))


def test_absent_models_are_skipped_by_an_explicit_check(
    empty_warehouse: Any, tmp_path: Path
) -> None:
    sections = build_report(empty_warehouse, Settings(models_dir=tmp_path / "none"))
    assert [s.key for s in sections] == ["retention", "subscriptions"]
