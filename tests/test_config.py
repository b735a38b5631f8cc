"""Settings: defaults, retain.toml, RETAIN_* precedence, and readable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from retain.cli.init import template
from retain.config import Settings, get_settings
from retain.errors import ConfigError


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = get_settings()
    assert settings.warehouse_url == "duckdb:///retain.duckdb"
    assert settings.database_url == "sqlite:///retain-app.db"
    assert settings.churn_definition().horizon_days == 90


def test_the_init_template_is_valid_and_equals_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "retain.toml"
    path.write_text(template(), encoding="utf-8")
    assert get_settings(path) == Settings()


def test_file_then_environment_then_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "retain.toml"
    path.write_text('time_zone = "Asia/Tokyo"\ncurrency = "JPY"\n[clv]\nmargin = 0.25\n')
    assert get_settings(path).time_zone == "Asia/Tokyo"
    assert get_settings(path).clv.margin == 0.25
    monkeypatch.setenv("RETAIN_CURRENCY", "KRW")
    monkeypatch.setenv("RETAIN_CLV__MARGIN", "0.4")
    settings = get_settings(path)
    assert settings.currency == "KRW"
    assert settings.clv.margin == 0.4
    assert settings.time_zone == "Asia/Tokyo"
    assert get_settings(path, currency="EUR").currency == "EUR"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('time_zone = "Mars/Olympus"', "time_zone"),
        ("[clv]\nmargin = 3", "clv.margin"),
        ('[[churn]]\nkind = "sometimes"', "churn.0.kind"),
        ('[[churn]]\nattributes = "all"', "churn.0.attributes"),
        ("unknown_setting = 1", "unknown_setting"),
    ],
)
def test_bad_values_name_the_file_and_the_setting(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "retain.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        get_settings(path)
    assert str(path) in info.value.message
    assert where in info.value.message
    assert info.value.hint


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "retain.toml"
    path.write_text("warehouse_url = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        get_settings(path)
    with pytest.raises(ConfigError, match="does not exist") as info:
        get_settings(tmp_path / "nope.toml")
    assert "retain init" in (info.value.hint or "")


def test_unknown_churn_definition_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="known: default"):
        Settings().churn_definition("telecom")
