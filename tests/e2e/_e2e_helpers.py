"""Helpers shared by the browser tests (a module with a unique name, importable from tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PASSWORD = "e2e passphrase"
USERS = {
    "admin": "admin@example.org",
    "analyst": "analyst@example.org",
    "agent": "agent@example.org",
}


def log_in(page: Any, base: str, role: str = "analyst", lang: str = "en") -> None:
    """Fill and submit the login form."""
    page.goto(f"{base}/login?lang={lang}")
    page.fill("#email", USERS[role])
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
