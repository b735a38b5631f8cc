"""Lazy packages: a module loads on first use; an export named like its submodule wins."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def _package(root: Path) -> None:
    pkg = root / "lazypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        textwrap.dedent(
            """
            from retain.lazy import lazy_package

            __all__ = ["heavy", "work"]
            lazy_package(__name__, {"heavy": "lazypkg.heavy", "work": "lazypkg.tools"})
            """
        )
    )
    (pkg / "heavy.py").write_text("def heavy():\n    return 'the function'\n")
    (pkg / "tools.py").write_text("import lazypkg.heavy\n\ndef work():\n    return 42\n")


def _run(root: Path, code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_names_load_on_first_use(tmp_path: Path) -> None:
    _package(tmp_path)
    got = _run(
        tmp_path,
        """
        import sys, lazypkg
        print("lazypkg.tools" in sys.modules, lazypkg.work(), "lazypkg.tools" in sys.modules)
        """,
    )
    assert got == "False 42 True"


def test_an_export_named_like_its_submodule_is_the_export(tmp_path: Path) -> None:
    _package(tmp_path)
    got = _run(
        tmp_path,
        """
        import lazypkg.tools  # imports the submodule lazypkg.heavy first
        from lazypkg import heavy
        print(heavy())
        """,
    )
    assert got == "the function"


def test_an_unknown_name_is_an_attribute_error(tmp_path: Path) -> None:
    _package(tmp_path)
    got = _run(
        tmp_path,
        """
        import lazypkg
        try:
            lazypkg.missing
        except AttributeError as exc:
            print(exc)
        """,
    )
    assert got == "module 'lazypkg' has no attribute 'missing'"
