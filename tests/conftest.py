"""Shared fixtures: a throwaway workspace per test, one Prefect harness per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from juice.settings import Settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A fresh JUICE_HOME; the settings that every `Settings()` will now read."""
    home = tmp_path / "home"
    monkeypatch.setenv("JUICE_HOME", str(home))
    monkeypatch.setenv("JUICE_SIM_ROWS", "2000")
    return Settings()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[str]:
    """A real Prefect server for the session; yields its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield str(PREFECT_API_URL.value())


CHROMIUM = Path("/usr/bin/chromium")  # Debian's; `playwright install` cannot download here


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the session (Debian's, driven by Playwright)."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()
