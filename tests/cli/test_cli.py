"""The CLI frame: help, init, the error boundary's exact lines and exit codes, --debug, --lang."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

RETAIN = [sys.executable, "-m", "retain"]


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")}
    full_env.update(env or {})
    full_env["COLUMNS"] = "200"
    return subprocess.run(
        [*RETAIN, *args], cwd=cwd, capture_output=True, text=True, env=full_env, timeout=120
    )


def test_help_lists_commands_with_one_line_help(tmp_path: Path) -> None:
    out = run("--help", cwd=tmp_path)
    assert out.returncode == 0
    assert "init" in out.stdout
    assert "Write a commented retain.toml" in out.stdout


def test_init_writes_the_file_and_refuses_to_overwrite(tmp_path: Path) -> None:
    first = run("init", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "retain.toml").read_text().startswith("# retain configuration")
    second = run("init", cwd=tmp_path)
    assert second.returncode == 2
    assert second.stderr.splitlines() == [
        "Error: retain.toml already exists",
        "Hint: pass --force to overwrite it, or edit it by hand",
    ]
    assert "Traceback" not in second.stderr
    assert run("init", "--force", cwd=tmp_path).returncode == 0


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    (tmp_path / "retain.toml").write_text("x")
    out = run("--debug", "init", cwd=tmp_path)
    assert out.returncode == 2
    assert "Traceback" in out.stderr
    assert out.stderr.rstrip().splitlines()[-2] == "Error: retain.toml already exists"


@pytest.mark.parametrize(
    ("lang", "error", "hint"),
    [
        ("ja", "エラー: retain.toml は既に存在します", "ヒント:"),
        ("ko", "오류: retain.toml 파일이 이미 있습니다", "도움말:"),
    ],
)
def test_messages_follow_lang(tmp_path: Path, lang: str, error: str, hint: str) -> None:
    (tmp_path / "retain.toml").write_text("x")
    out = run("--lang", lang, "init", cwd=tmp_path)
    lines = out.stderr.splitlines()
    assert lines[0] == error
    assert lines[1].startswith(hint)


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    out = run("no-such-command", cwd=tmp_path)
    assert out.returncode == 2


def test_error_text_in_brackets_is_printed_as_is() -> None:
    """Messages and hints are plain text: ``[[churn]]`` is a retain.toml section, not markup."""
    from retain.cli._app import err_console
    from retain.cli._boundary import _print_error

    with err_console.capture() as captured:
        _print_error("bad date in [[churn]] and [red]x[/red]", "edit [[churn]] of retain.toml")
    assert captured.get().splitlines() == [
        "Error: bad date in [[churn]] and [red]x[/red]",
        "Hint: edit [[churn]] of retain.toml",
    ]
