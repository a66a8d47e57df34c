"""Browser: what a person waits for, widget to painted, in Debian's headless Chromium against `streamlit run`.

``ROWS`` is the table of issue 17: one ``Row`` per thing a person does, each with a function that does it in
the browser (returning the painted seconds of each run: from the action to the last change of the page's DOM,
seen by a MutationObserver; a run is over when Streamlit's running indicator is gone and nothing changed for
a second) and, where there is one, a function that sends the same rerun over the websocket client of
``scripts/serve_client.py`` (script run plus media, no painting) right after, on the same server. Each row is
printed as soon as it is measured: painted p50 / p95, server p50 / p95, and the bytes one server rerun sent.
The peer rows are ``bench/peer/app.py``, the smallest Streamlit page with a slider, on its own server in the
same run: the floor that Streamlit and Chromium set here under every row of the app. The first-page rows start a
fresh server each time: once as soon as it answers ``/_stcore/health`` (the
warm-up still running) and once after the launcher (``make run``) reported it ready.

Knobs: BROWSER_ROUNDS=6 (interaction rows; page opens use 3), BROWSER_COLD=1 (0 skips the fresh-server rows),
BROWSER_ROWS=knn,affine (only rows whose name contains one of these words), BROWSER_PORT=0.
"""

from __future__ import annotations

import os
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from bench import map_cam_browser
from bench.common import median_p95, streamlit_run
from scripts.serve import cluster, free_port
from scripts.serve_client import RunResult, StreamlitSession
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

ROUNDS = int(os.environ.get("BROWSER_ROUNDS", "6"))
#: The warm server's port (fresh servers take the next one); 0: any free port.
PORT = int(os.environ.get("BROWSER_PORT", "0"))
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


@dataclass(frozen=True)
class Bench:
    """What a row function works with: the browser, one long-lived tab, and the warm server's URL."""

    browser: Browser
    tab: Page
    url: str


@dataclass(frozen=True)
class Row:
    """One line of the table: the browser side (painted seconds per run) and the same rerun without painting."""

    name: str
    browser: Callable[[Bench], list[float]]
    server: Callable[[StreamlitSession], list[RunResult]] | None = None
    cold: bool = False  # starts its own fresh servers


# ---------------------------------------------------------------- page opens


def _open(page: str) -> Row:
    path = "" if page == "home" else page

    def in_browser(bench: Bench) -> list[float]:
        return [open_page(bench.tab, f"{bench.url}/{path}") for _ in range(3)]

    def on_server(viewer: StreamlitSession) -> list[RunResult]:
        return [viewer.load(path) for _ in range(3)]

    return Row(f"open {page}", in_browser, on_server)


# ---------------------------------------------------------------- KNN and affine


def knn_k(bench: Bench) -> list[float]:
    open_page(bench.tab, f"{bench.url}/knn")
    return [painted(bench.tab, _slider_keys(bench.tab, "K (neighbours)", "ArrowRight" if i % 2 else "ArrowLeft"))
            for i in range(ROUNDS)]


def knn_k_server(viewer: StreamlitSession) -> list[RunResult]:
    viewer.load("knn")
    return [viewer.set("K (neighbours)", 8 + i % 2) for i in range(ROUNDS)]


def affine_slider(bench: Bench) -> list[float]:
    open_page(bench.tab, f"{bench.url}/affine")
    return [painted(bench.tab, _slider_keys(bench.tab, "angle (degrees)", "ArrowRight")) for _ in range(ROUNDS)]


def affine_slider_server(viewer: StreamlitSession) -> list[RunResult]:
    viewer.load("affine")
    return [viewer.set("angle (degrees)", 5.0 * (i + 1)) for i in range(ROUNDS)]


# ---------------------------------------------------------------- map and Grad-CAM


def map_click(bench: Bench) -> list[float]:
    tab = bench.tab
    open_page(tab, f"{bench.url}/map")
    tab.locator('iframe[title="streamlit_folium.st_folium"]').scroll_into_view_if_needed(timeout=120_000)
    leaflet = tab.frame_locator('iframe[title="streamlit_folium.st_folium"]').locator("#map_div.leaflet-container")
    leaflet.wait_for(timeout=120_000)
    times = []
    for index in range(ROUNDS):
        box = leaflet.bounding_box() or {"width": 800, "height": 600}
        spot = {"x": box["width"] / 2 + (60 if index % 2 else -60), "y": box["height"] / 2 + 30}
        times.append(painted(tab, partial(leaflet.click, position=spot)))
    return times


def map_click_server(viewer: StreamlitSession) -> list[RunResult]:
    viewer.load("map")
    return [viewer.set("Latitude", 48.0 + i / 10) for i in range(ROUNDS)]


def gradcam_picture(bench: Bench) -> list[float]:
    open_page(bench.tab, f"{bench.url}/gradcam")
    return [painted(bench.tab, _select_option(bench.tab, "Sample picture", name))
            for name in ("astronaut", "coffee", "chelsea")]


def gradcam_picture_server(viewer: StreamlitSession) -> list[RunResult]:
    viewer.load("gradcam")
    samples = [o for o in viewer.widget("Sample picture").options if o][:3]
    return [viewer.set("Sample picture", s) for s in samples[1:] + samples[:1]]


# ---------------------------------------------------------------- map and Grad-CAM, in the page and its iframes
# bench/map_cam_browser.py: painted also counts DOM changes inside component iframes (the map's Leaflet), the
# Grad-CAM rows say when the grid's first row had decoded as well as when the page settled, and the server
# side uses sample pictures the browser rows do not (explanations are shared by every session).


def _frames(bench: Bench) -> Page:
    bench.tab.context.add_init_script(map_cam_browser.INIT)  # once per document; the rows navigate first
    return bench.tab


def map_click_frames(bench: Bench) -> list[float]:
    return [s[0] for s in map_cam_browser.map_rows(_frames(bench), bench.url, ROUNDS)["map click"]]


_gradcam_runs: dict[str, dict] = {}


def _gradcam(name: str) -> Callable[[Bench], list[float]]:
    """One Grad-CAM row of ``map_cam_browser.gradcam_rows``, which measures them all in one pass per server."""
    def in_browser(bench: Bench) -> list[float]:
        if bench.url not in _gradcam_runs:
            _gradcam_runs[bench.url] = map_cam_browser.gradcam_rows(_frames(bench), bench.url, ROUNDS)
        return [s[0] for s in _gradcam_runs[bench.url][name]]
    return in_browser


# ---------------------------------------------------------------- the named peer


PEER_ROOT = Path(__file__).resolve().parent / "peer"
#: The app's launcher (no Nagle) and runner settings (.streamlit/config.toml, which a page in another folder does
#: not read): the peer pays what the app pays per rerun and nothing more.
PEER_FLAGS = ("--runner.postScriptGC", "false", "--runner.magicEnabled", "false")


def _peer(what: str) -> Callable[[Bench], list[float]]:
    """``bench/peer/app.py`` on its own server, measured once for both rows: three opens, ``ROUNDS`` slider steps."""
    def in_browser(bench: Bench) -> list[float]:
        if not _peer_runs:
            with streamlit_run(free_port(), PEER_ROOT, *PEER_FLAGS, module="scripts.preloaded_streamlit") as url:
                _peer_runs["open"] = [open_page(bench.tab, url) for _ in range(3)]
                _peer_runs["slider"] = [painted(bench.tab, _slider_keys(bench.tab, "value", "ArrowRight"))
                                        for _ in range(ROUNDS)]
        return _peer_runs[what]
    return in_browser


_peer_runs: dict[str, list[float]] = {}


# ---------------------------------------------------------------- a fresh server


def _first_page(warm: bool) -> Callable[[Bench], list[float]]:
    def in_browser(bench: Bench) -> list[float]:
        with cluster(1, warm=warm, port=PORT + 1 if PORT else None) as running:
            context = bench.browser.new_context(viewport={"width": 1440, "height": 1000})
            try:
                return [open_page(context.new_page(), f"{running.url}/")]
            finally:
                context.close()
    return in_browser


ROWS: list[Row] = [
    Row("first page, server just healthy", _first_page(warm=False), cold=True),
    Row("first page, after ready", _first_page(warm=True), cold=True),
    Row("peer: open a one-slider Streamlit app", _peer("open")),
    Row("peer: move its slider", _peer("slider")),
    *(_open(page) for page in ("home", "map", "knn", "gradcam", "affine")),
    Row("knn K", knn_k, knn_k_server),
    Row("affine slider", affine_slider, affine_slider_server),
    Row("map click", map_click, map_click_server),
    Row("gradcam picture", gradcam_picture, gradcam_picture_server),
    Row("map click, page + map iframe", map_click_frames, partial(map_cam_browser.map_click_server, rounds=ROUNDS)),
    Row("gradcam picture: grid painted", _gradcam("gradcam picture: grid painted"),
        map_cam_browser.gradcam_picture_server),
    Row("gradcam picture: page settled", _gradcam("gradcam picture")),  # server: the row above (shared results)
    Row("gradcam class: grid painted", _gradcam("gradcam class: grid painted"), map_cam_browser.gradcam_class_server),
    Row("gradcam class: page settled", _gradcam("gradcam class")),
    Row("gradcam opacity", _gradcam("gradcam opacity"),
        lambda viewer: map_cam_browser.gradcam_display_server(viewer, ROUNDS)["gradcam opacity"]),
    Row("gradcam colour map", _gradcam("gradcam colour map"),
        lambda viewer: map_cam_browser.gradcam_display_server(viewer, ROUNDS)["gradcam colour map"]),
]


def selected_rows() -> list[Row]:
    words = [w for w in os.environ.get("BROWSER_ROWS", "").split(",") if w]
    cold = os.environ.get("BROWSER_COLD", "1") == "1"
    return [row for row in ROWS if (cold or not row.cold) and (not words or any(w in row.name for w in words))]


def measure_row(row: Row, bench: Bench) -> str:
    """The row's table line; a row that fails (a renamed widget) says why and the others still run."""
    try:
        painted_s = row.browser(bench)
    except (PlaywrightError, TimeoutError) as error:
        return f"| {row.name} | {type(error).__name__}: {str(error).splitlines()[0]} | | | |"
    server: list[RunResult] = []
    if row.server is not None:
        with StreamlitSession(bench.url, timeout_s=300) as viewer:
            server = row.server(viewer)
    sent = f"{statistics.median(r.ws_bytes + r.media_bytes for r in server) / 1000:.0f}" if server else "—"
    return (f"| {row.name} | {median_p95(painted_s)} | {median_p95([r.seconds for r in server])} | {sent} | "
            f"{len(painted_s)} | {os.getloadavg()[0]:.1f} |")


def main() -> None:
    rows = selected_rows()
    print("| what a person does | painted p50 / p95 (s) | server run p50 / p95 (s) | KB sent per server run "
          "| runs | load |\n|---|---|---|---|---|---|", flush=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for row in (r for r in rows if r.cold):
            print(measure_row(row, Bench(browser, browser.new_page(), "")), flush=True)
        warm_rows = [r for r in rows if not r.cold]
        if warm_rows:
            with cluster(1, port=PORT or None) as running:
                deadline = time.monotonic() + 600
                while "warm-up finished" not in running.replicas[0].log.read_text() and time.monotonic() < deadline:
                    time.sleep(1)
                context = browser.new_context(viewport={"width": 1440, "height": 1000})
                bench = Bench(browser, context.new_page(), running.url)
                for row in warm_rows:
                    print(measure_row(row, bench), flush=True)
                context.close()
        browser.close()


if __name__ == "__main__":
    main()
