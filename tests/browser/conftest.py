"""Browser harness: one `streamlit run app.py` per test session, headless Debian Chromium via Playwright.

Without Chromium the browser tests fail (never skip): `make test` installs it (scripts/system_packages.sh).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from scripts.serve import ServeError, wait_healthy
from tests.conftest import ROOT

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    browser_items = [item for item in items if Path(str(item.fspath)).is_relative_to(here)]
    for item in browser_items:
        item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_app(log_name: str = "streamlit.log"):
    """Run `streamlit run app.py` on a free localhost port until the block ends; yields its URL."""
    port = _free_port()
    with open(_artifacts_dir().parent / log_name, "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", "app.py",
                "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
                "--server.fileWatcherType", "none",
            ],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(proc, url, log_name)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_healthy(proc: subprocess.Popen, url: str, log_name: str) -> None:
    try:
        wait_healthy(url, proc, timeout_s=90)
    except ServeError as error:
        pytest.fail(f"streamlit did not start ({error}); see test-artifacts/{log_name}")


@pytest.fixture(scope="session")
def app_url():
    """The real app, shared by the browser tests of one session."""
    with serve_app() as url:
        yield url


def _artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: `make test` installs it (or apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    tab = context.new_page()
    yield tab
    context.close()


#: Counts full Plotly draws per chart: each one writes the x-axis title afresh (``Titles.draw``), so the text
#: put into an ``.xtitle`` node is logged against the chart's x-axis title. An init script for a context.
PLOTLY_DRAWS = """
window.__draws = [];
for (const name of ['appendChild', 'insertBefore']) {
  const original = Node.prototype[name];
  Node.prototype[name] = function (...args) {
    if (this.classList && this.classList.contains('xtitle')) {
      const chart = this.closest('.js-plotly-plot');
      window.__draws.push(chart && chart.layout ? String(chart.layout.xaxis.title.text) : '?');
    }
    return original.apply(this, args);
  };
}
"""


def plotly_draws(tab) -> list[str]:
    """The x-axis titles of the charts drawn since the last call (``PLOTLY_DRAWS`` must be installed)."""
    return tab.evaluate("() => window.__draws.splice(0)")


def settle(tab, timeout_s: float = 120) -> None:
    """Wait until the script has finished running and the page stopped changing."""
    tab.wait_for_selector('[data-testid="stApp"]', timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    quiet_since = None
    while time.monotonic() < deadline:
        running = tab.locator('[data-testid="stStatusWidget"]').count() > 0
        skeleton = tab.locator('[data-testid="stSkeleton"]').count() > 0
        if running or skeleton:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 1.5:
            return
        time.sleep(0.25)
    raise AssertionError("the app did not settle in time")


def assert_clean(tab) -> None:
    """No exception box and no traceback text anywhere on the page."""
    exceptions = tab.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, exceptions.first.inner_text()
    body = tab.inner_text("body")
    assert "Traceback" not in body, body[:2000]
    assert "Page not found" not in body, "Streamlit did not recognise the URL"


def screenshot(tab, name: str) -> Path:
    path = _artifacts_dir() / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    return path
