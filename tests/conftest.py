"""Shared fixtures: a throwaway workspace per test, one Prefect harness per session."""

from __future__ import annotations

import http.server
import os
import threading
import time
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


class ExportServer(http.server.BaseHTTPRequestHandler):
    """Serves `body`; answers 503 to the first `failures` requests; `/trickle` sends a byte
    every `pause` seconds, `/endless` a megabyte at a time without end (neither says its
    length); `/announced` claims a terabyte."""

    body = b""
    failures = 0
    requests = 0
    pause = 0.1

    def do_GET(self) -> None:
        type(self).requests += 1
        if type(self).requests <= type(self).failures:
            self.send_error(503)
            return
        if self.path.endswith("/missing.csv"):
            self.send_error(404)
            return
        self.send_response(200)
        if self.path.endswith(("/trickle.csv", "/endless.csv")):
            self.end_headers()
            self._send_forever(self.path.endswith("/trickle.csv"))
            return
        length = 1 << 40 if self.path.endswith("/announced.csv") else len(self.body)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(self.body)

    def _send_forever(self, trickle: bool) -> None:
        chunk = self.body[:1] if trickle else b"0" * (1 << 20)
        try:
            for _ in range(600 if trickle else 10_000):
                self.wfile.write(chunk)
                self.wfile.flush()
                if trickle:
                    time.sleep(self.pause)
        except OSError:
            pass  # the client hung up

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def export_server(tmp_path: Path) -> Iterator[type[ExportServer]]:
    """An analytics system's HTTP server on loopback, serving a 30-row export."""
    from factories import export

    body = export(tmp_path / "src.csv", rows=30).read_bytes()
    handler = type("Handler", (ExportServer,), {"body": body})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{httpd.server_port}"
    yield handler
    httpd.shutdown()
    httpd.server_close()
