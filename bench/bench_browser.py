"""Browser: what a person waits for, widget to painted, in Debian's headless Chromium against `streamlit run`.

For each row of issue 17's table: the median and p95 over repeated runs of the time from the action to the last
change of the page's DOM (a MutationObserver; the run is over when Streamlit's running indicator is gone and
nothing changed for a second), next to the server's time for the same work (the same interaction sent by the
websocket client in ``scripts/serve_client.py``: script run plus media, no painting). The first-page rows start
a fresh server each time: once as soon as it answers ``/_stcore/health`` (the warm-up still running) and once
after the launcher (``make run``) reported it ready.

Knobs: BROWSER_ROUNDS=6 (interaction rows; page opens and Grad-CAM use fewer), BROWSER_COLD=1 (0 skips the
fresh-server rows).
"""

from __future__ import annotations

import os
import re
import statistics
import time
from collections.abc import Callable

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from scripts.serve import cluster
from scripts.serve_client import StreamlitSession
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

ROUNDS = int(os.environ.get("BROWSER_ROUNDS", "6"))
QUIET_MS = 1000
OBSERVE = """() => {
  if (!window.__painted) {
    window.__painted = {last: performance.now()};
    new MutationObserver(() => { window.__painted.last = performance.now(); })
      .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  }
  return performance.now();
}"""
STATE = """() => [performance.now(), window.__painted.last,
  document.querySelectorAll('[data-testid="stStatusWidget"], [data-testid="stSkeleton"]').length > 0]"""


def painted(tab, action: Callable[[], None], timeout_s: float = 180) -> float:
    """Seconds from ``action`` to the last DOM change it caused (after the script finished)."""
    started = tab.evaluate(OBSERVE)
    action()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now, last, running = tab.evaluate(STATE)
        if not running and now - last > QUIET_MS and (last > started or now - started > 5000):
            return max(0.0, last - started) / 1000
        time.sleep(0.05)
    raise TimeoutError("the page kept changing")


def open_page(tab, url: str) -> float:
    """A page load measured from navigation start (the observer is installed once the document exists)."""
    tab.goto(url, wait_until="commit")
    tab.wait_for_selector('[data-testid="stApp"]', timeout=180_000)
    tab.evaluate(OBSERVE)
    painted(tab, lambda: None)
    last = tab.evaluate("() => window.__painted.last")
    return last / 1000  # performance.now() counts from the navigation start


def _slider_keys(tab, label: str, key: str) -> Callable[[], None]:
    thumb = tab.locator('[data-testid="stSlider"]').filter(has_text=label).get_by_role("slider").first
    thumb.focus()
    return lambda: thumb.press(key)


def _select_option(tab, label: str, option: str) -> Callable[[], None]:
    def act() -> None:
        tab.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
        tab.get_by_role("option").filter(has_text=re.compile(option, re.IGNORECASE)).first.click()
    return act


def _stats(values: list[float]) -> str:
    if not values:
        return "—"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(values):.2f} / {p95:.2f}"


def service_times(url: str) -> dict[str, list[float]]:
    """The same work as the browser rows, sent over the websocket without painting."""
    times: dict[str, list[float]] = {}
    with StreamlitSession(url, timeout_s=300) as viewer:
        for page in ("home", "map", "knn", "gradcam", "affine"):
            times[f"open {page}"] = [viewer.load("" if page == "home" else page).seconds for _ in range(3)]
        viewer.load("knn")
        times["knn K"] = [viewer.set("K (neighbours)", 8 + i % 2).seconds for i in range(ROUNDS)]
        viewer.load("affine")
        times["affine slider"] = [viewer.set("angle (degrees)", 5.0 * (i + 1)).seconds for i in range(ROUNDS)]
        viewer.load("map")
        times["map click"] = [viewer.set("Latitude", 48.0 + i / 10).seconds for i in range(ROUNDS)]
        viewer.load("gradcam")
        samples = [o for o in viewer.widget("Sample picture").options if o][:3]
        times["gradcam picture"] = [viewer.set("Sample picture", s).seconds for s in samples[1:] + samples[:1]]
    return times


def _open_rows(tab, url: str, times: dict[str, list[float]]) -> None:
    for page in ("home", "map", "knn", "gradcam", "affine"):
        times[f"open {page}"] = [open_page(tab, f"{url}/{page}") for _ in range(3)]


def _knn_rows(tab, url: str, times: dict[str, list[float]]) -> None:
    open_page(tab, f"{url}/knn")
    times["knn K"] = [painted(tab, _slider_keys(tab, "K (neighbours)", "ArrowRight" if i % 2 else "ArrowLeft"))
                      for i in range(ROUNDS)]


def _affine_rows(tab, url: str, times: dict[str, list[float]]) -> None:
    open_page(tab, f"{url}/affine")
    times["affine slider"] = [painted(tab, _slider_keys(tab, "angle (degrees)", "ArrowRight")) for _ in range(ROUNDS)]


def _map_rows(tab, url: str, times: dict[str, list[float]]) -> None:
    open_page(tab, f"{url}/map")
    tab.locator('iframe[title="streamlit_folium.st_folium"]').scroll_into_view_if_needed(timeout=120_000)
    frame = tab.frame_locator('iframe[title="streamlit_folium.st_folium"]')
    leaflet = frame.locator("#map_div.leaflet-container")
    leaflet.wait_for(timeout=120_000)
    times["map click"] = []
    for index in range(ROUNDS):
        box = leaflet.bounding_box()
        dx = 60 if index % 2 else -60
        times["map click"].append(painted(tab, lambda box=box, dx=dx: leaflet.click(
            position={"x": box["width"] / 2 + dx, "y": box["height"] / 2 + 30})))


def _gradcam_rows(tab, url: str, times: dict[str, list[float]]) -> None:
    open_page(tab, f"{url}/gradcam")
    times["gradcam picture"] = [painted(tab, _select_option(tab, "Sample picture", name))
                                for name in ("astronaut", "coffee", "chelsea")]
    times["gradcam class"] = []
    for index in range(2):
        buttons = tab.locator('[data-testid="stButton"] button').filter(has_text="%")
        if buttons.count() > 1:
            times["gradcam class"].append(painted(tab, lambda i=index, b=buttons: b.nth(1 + i).click()))


def browser_times(browser, url: str) -> dict[str, list[float]]:
    """Every warm row; a row group that fails (a renamed widget) is reported and the others still run."""
    times: dict[str, list[float]] = {}
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    tab = context.new_page()
    for rows in (_open_rows, _knn_rows, _affine_rows, _map_rows, _gradcam_rows):
        try:
            rows(tab, url, times)
        except (PlaywrightError, TimeoutError) as error:
            print(f"({rows.__name__.strip('_')}: {type(error).__name__}: {str(error).splitlines()[0]})", flush=True)
    context.close()
    return times


def cold_rows(browser) -> dict[str, list[float]]:
    """A fresh server per sample: the first page as soon as it is healthy, and after `make run` says ready."""
    rows: dict[str, list[float]] = {"first page, server just healthy": [], "first page, after ready": []}
    for label, warm in (("first page, server just healthy", False), ("first page, after ready", True)):
        with cluster(1, warm=warm) as running:
            context = browser.new_context(viewport={"width": 1440, "height": 1000})
            rows[label].append(open_page(context.new_page(), f"{running.url}/"))
            context.close()
    return rows


def main() -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        rows: dict[str, list[float]] = {}
        if os.environ.get("BROWSER_COLD", "1") == "1":
            rows |= cold_rows(browser)
        with cluster(1) as running:
            deadline = time.monotonic() + 600
            while "warm-up finished" not in running.replicas[0].log.read_text() and time.monotonic() < deadline:
                time.sleep(1)
            rows |= browser_times(browser, running.url)
            server = service_times(running.url)
        browser.close()
    print("| what a person does | painted p50 / p95 (s) | server run p50 / p95 (s) | runs |")
    print("|---|---|---|---|")
    for name, values in rows.items():
        print(f"| {name} | {_stats(values)} | {_stats(server.get(name, []))} | {len(values)} |", flush=True)


if __name__ == "__main__":
    main()
