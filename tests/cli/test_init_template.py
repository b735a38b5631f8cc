"""``retain init``'s template is generated from Settings: every field, default and description."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from pydantic import BaseModel

from retain.cli._pipeline import DEMO_CHURN, demo_config_text
from retain.cli.init import _toml_value, template
from retain.config import ChurnDefinition, Settings


def _defaults() -> dict[str, Any]:
    """Each Settings field's own default (no RETAIN_* variable, no retain.toml)."""
    return {
        name: field.get_default(call_default_factory=True, validated_data={})
        for name, field in Settings.model_fields.items()
    }


def _models() -> list[type[BaseModel]]:
    """Settings and every section model under it."""
    found: list[type[BaseModel]] = [Settings]
    for default in _defaults().values():
        items = default if isinstance(default, list) else [default]
        found += [type(item) for item in items if isinstance(item, BaseModel)]
    return found


def _settings_from(text: str) -> Settings:
    # Constructor arguments: no RETAIN_* variable or retain.toml in the test's folder leaks in.
    return Settings(**tomllib.loads(text))


def test_template_parses_back_into_the_defaults() -> None:
    assert _settings_from(template()) == Settings(**_defaults())


def test_every_field_appears_with_its_description() -> None:
    text = template()
    data = tomllib.loads(text)
    assert set(data) == set(Settings.model_fields)
    for name, default in _defaults().items():
        if isinstance(default, BaseModel):
            assert set(data[name]) == set(type(default).model_fields), name
    assert set(data["churn"][0]) == set(ChurnDefinition.model_fields)
    comments = " ".join(line[2:] for line in text.splitlines() if line.startswith("# "))
    for model in _models():
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            assert " ".join(field.description.split()) in comments, f"{model.__name__}.{name}"


def test_a_new_setting_shows_up_without_touching_the_template(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The template reads the fields; it has no list of its own that could fall behind."""
    from retain.cli import init

    class Wider(Settings):
        beta_feature: bool = False

    monkeypatch.setattr(init, "Settings", Wider)
    assert "beta_feature = false" in init.template()


def test_demo_config_is_the_template_with_the_demo_lines() -> None:
    text = demo_config_text()
    settings = _settings_from(text)
    assert [d.model_dump() for d in settings.churn] == [d.model_dump() for d in DEMO_CHURN]
    assert settings.clv == _defaults()["clv"]
    assert "# The demo company has a shop" in text
    # The field comments are written once, above the first business line only.
    assert text.count("# H, in days") == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "true"),
        (3, "3"),
        (0.1, "0.1"),
        ('say "hi"\n', '"say \\"hi\\"\\n"'),
        ("東京\x7f", '"東京\\u007f"'),
        (["a", 1], '["a", 1]'),
        ({"agent": 50, "a b": 1}, '{agent = 50, "a b" = 1}'),
    ],
)
def test_values_are_toml(value: Any, expected: str) -> None:
    assert _toml_value(value) == expected
    assert tomllib.loads(f"x = {expected}")["x"] == value


def test_a_value_toml_cannot_hold_is_an_error() -> None:
    with pytest.raises(TypeError, match="cannot write a bytes setting"):
        _toml_value(b"a")


def test_init_kind_contractual_writes_a_subscription_line(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from retain.cli import app

    path = tmp_path / "retain.toml"
    result = CliRunner().invoke(app, ["init", str(path), "--kind", "contractual"])
    assert result.exit_code == 0, result.output
    text = path.read_text(encoding="utf-8")
    (line,) = _settings_from(text).churn
    assert line.kind == "contractual" and line.horizon_days == 30
    assert "retain churn train --as-of DATE" in " ".join(text.split())
    # Everything else is the plain template's.
    data = tomllib.loads(text)
    plain = tomllib.loads(template())
    assert {k: v for k, v in data.items() if k != "churn"} == {
        k: v for k, v in plain.items() if k != "churn"
    }
    assert CliRunner().invoke(app, ["init", str(tmp_path / "b.toml")]).exit_code == 0
    (default,) = _settings_from((tmp_path / "b.toml").read_text(encoding="utf-8")).churn
    assert default.kind == "non_contractual"
