"""The import-linter contracts of pyproject.toml hold, cover every package, and really bite.

``lint-imports`` runs in ``make test`` / ``make lint`` as well; these tests keep the suite red
when a layer is crossed, and prove on a throwaway copy of the layout that each contract catches
a deliberate violation, so the check cannot pass by checking nothing.
"""

from __future__ import annotations

import json
import os
import pkgutil
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import retain

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONFIG: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
    "importlinter"
]
CONTRACTS = {c["id"]: c for c in CONFIG["contracts"]}


def lint_imports(config: Path, cwd: Path, pythonpath: Path | None = None) -> Any:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(config)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def layer_modules(layer: str) -> list[str]:
    """``"(engage) : (voice)"`` -> ``["engage", "voice"]``."""
    return [part.strip().strip("()") for part in re.split(r"[|:]", layer)]


def test_the_layer_contracts_hold() -> None:
    out = lint_imports(ROOT / "pyproject.toml", cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_every_top_level_module_has_a_layer() -> None:
    """A new package must be placed in DESIGN.md's layers, not slip past every contract."""
    placed = {m for layer in CONTRACTS["layers"]["layers"] for m in layer_modules(layer)}
    top = {m.name for m in pkgutil.iter_modules(retain.__path__)} - {"__main__"}
    assert top <= placed, f"not in the layers contract: {sorted(top - placed)}"


# --- the contracts bite: the same config on a tiny package with one planted violation ---------

FAKE = "tinyretain"


def _renamed(value: Any) -> Any:
    if isinstance(value, str):
        return re.sub(r"\bretain\b", FAKE, value)
    if isinstance(value, list):
        return [_renamed(v) for v in value]
    return value


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _fake_layout(root: Path) -> Path:
    """A package with every module the contracts name, importing nothing; returns its config."""
    modules: set[str] = {FAKE}
    lines = ["[tool.importlinter]", f'root_package = "{FAKE}"']
    for contract in CONFIG["contracts"]:
        lines += ["", "[[tool.importlinter.contracts]]"]
        for key, value in contract.items():
            if key == "ignore_imports":
                continue  # the planted violations must not be excused
            if key not in ("id", "name", "type"):
                value = _renamed(value)
            lines.append(f"{key} = {_toml(value)}")
        for layer in contract.get("layers", []):
            modules.update(f"{FAKE}.{m}" for m in layer_modules(layer))
        for key in ("source_modules", "forbidden_modules"):
            modules.update(m for m in _renamed(contract.get(key, [])) if "*" not in m)
    modules.add(f"{FAKE}.app.internals")
    for name in modules:
        package = root.joinpath(*name.split("."))
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").write_text("")
    config = root / "contracts.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def test_the_fake_layout_is_clean(tmp_path: Path) -> None:
    config = _fake_layout(tmp_path)
    out = lint_imports(config, cwd=tmp_path, pythonpath=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(
    ("importer", "imported", "contract"),
    [
        ("models", "report", "layers"),
        ("models", "cli", "layers"),
        ("metrics", "features", "layers"),
        ("features", "models", "layers"),
        ("config", "metrics", "layers"),
        ("facts", "app", "layers"),
        ("app", "cli", "layers"),
        ("cli", "app.internals", "cli-app-door"),
        ("", "report", "front-door"),
    ],
)
def test_a_planted_violation_breaks_its_contract(
    tmp_path: Path, importer: str, imported: str, contract: str
) -> None:
    config = _fake_layout(tmp_path)
    where = tmp_path.joinpath(FAKE, *filter(None, importer.split(".")), "__init__.py")
    where.write_text(f"import {FAKE}.{imported}\n")
    out = lint_imports(config, cwd=tmp_path, pythonpath=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"{CONTRACTS[contract]['name']} BROKEN" in out.stdout
    assert "1 broken" in out.stdout


def test_the_cli_may_use_the_apps_door_and_the_library(tmp_path: Path) -> None:
    config = _fake_layout(tmp_path)
    (tmp_path / FAKE / "cli" / "__init__.py").write_text(
        f"import {FAKE}.app\nimport {FAKE}.report\nimport {FAKE}.models\n"
    )
    (tmp_path / FAKE / "app" / "__init__.py").write_text(f"import {FAKE}.app.internals\n")
    out = lint_imports(config, cwd=tmp_path, pythonpath=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
