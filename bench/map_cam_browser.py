"""The map and Grad-CAM rows of the browser benchmark: action -> painted, in headless Chromium.

"Painted" is the last DOM change the action caused in the page *and in its component iframes* (the map's
Leaflet document is an iframe a MutationObserver on the page does not see), once Streamlit's running indicator
is gone, every picture has decoded and nothing changed for ``QUIET_MS``. Each row also records the websocket
and /media/ bytes the action brought, and, beside it, the server's time for the same rerun (the websocket client
of ``scripts/serve_client.py``: script run plus media, no painting).

``python -m bench.map_cam_browser [rounds] [launcher]`` measures a ``streamlit run app.py`` server (and, with
``launcher``, a ``python -m scripts.serve --replicas 1`` one too); ``python -m bench.map_cam_browser rounds ab
OTHER_CHECKOUT`` runs the map and Grad-CAM changes interleaved on this checkout and another one (an export of an
older commit), both through the launcher. ``bench/bench_browser.py`` uses the row functions for its table.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager

from bench.common import RECEIVED_BYTES_COUNTER, median_p95, streamlit_run
from scripts.serve_client import RunResult, StreamlitSession

QUIET_MS = 1000
MAP_FRAME = 'iframe[title="streamlit_folium.st_folium"]'
#: Installed in every frame: the epoch time of its last DOM change, and the bytes its websocket received.
INIT = """
(() => {
  if (window.__painted) return;  // installed once per document, however many times it was added
  window.__painted = {last: performance.timeOrigin + performance.now()};
  const watch = () => new MutationObserver(() => {
      window.__painted.last = performance.timeOrigin + performance.now(); })
    .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  if (document.documentElement) watch(); else document.addEventListener('DOMContentLoaded', watch);
""" + RECEIVED_BYTES_COUNTER + """
})();
"""
FRAME_STATE = """() => [window.__painted ? window.__painted.last : 0,
  Array.from(document.images).every((img) => img.complete)]"""
PAGE_STATE = """() => [performance.timeOrigin + performance.now(),
  document.querySelectorAll('[data-testid="stStatusWidget"], [data-testid="stSkeleton"]').length > 0,
  window.__wsBytes, performance.getEntriesByType('resource').filter((e) => e.name.includes('/media/'))
    .reduce((total, e) => total + e.encodedBodySize, 0)]"""


def _state(tab) -> tuple[float, float, bool, bool, int, int]:
    """(now, last change in any frame, running, pictures decoded, websocket bytes, media bytes)."""
    now, running, ws, media = tab.evaluate(PAGE_STATE)
    last, decoded = 0.0, True
    for frame in tab.frames:
        try:
            frame_last, frame_decoded = frame.evaluate(FRAME_STATE)
        except Exception as error:  # noqa: BLE001 - a frame that navigates away mid-poll: skip it this round
            if type(error).__module__.startswith("playwright"):
                continue
            raise
        last, decoded = max(last, frame_last), decoded and frame_decoded
    return now, last, running, decoded, ws, media


#: The grid's pictures (the main area's, not the sidebar's): their sources, and whether all have decoded.
GRID = """() => {
  const imgs = Array.from(document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"] img'));
  return [imgs.map((img) => img.currentSrc), imgs.every((img) => img.complete)]; }"""
#: Pictures in the default grid: 8 layers x Grad-CAM.
GRID_CELLS = 8


def painted(tab, action: Callable[[], None], timeout_s: float = 180,
            grid: list[float] | None = None) -> tuple[float, int, int]:
    """(seconds from ``action`` to the last DOM change it caused in any frame, websocket bytes, media bytes).

    With ``grid``, the seconds until the grid's first row (GRID_CELLS new pictures) had all come and decoded
    are appended to it."""
    started, _, _, _, ws0, media0 = _state(tab)
    before = set(tab.evaluate(GRID)[0]) if grid is not None else set()
    action()
    deadline = time.monotonic() + timeout_s
    grid_seen = False
    while time.monotonic() < deadline:
        now, last, running, decoded, ws, media = _state(tab)
        if grid is not None and not grid_seen:
            sources, complete = tab.evaluate(GRID)
            if len(set(sources) - before) >= GRID_CELLS and complete:
                grid.append((now - started) / 1000)
                grid_seen = True
        if not running and decoded and now - last > QUIET_MS and (last > started or now - started > 5000):
            return max(0.0, last - started) / 1000, ws - ws0, media - media0
        time.sleep(0.03)
    raise TimeoutError("the page kept changing")


def open_page(tab, url: str) -> float:
    """A warm page load: navigation start to the last DOM change in any frame."""
    tab.goto(url, wait_until="commit")
    tab.wait_for_selector('[data-testid="stApp"]', timeout=180_000)
    origin = tab.evaluate("() => performance.timeOrigin")
    painted(tab, lambda: None)
    return (_state(tab)[1] - origin) / 1000


Rows = dict[str, list[tuple[float, int, int]]]
#: New sample pictures (chelsea is the default): the browser's and the server's are different ones, since an
#: explanation is shared by every session of the server for 10 minutes.
PICTURES = ["astronaut", "coffee", "rocket", "camera"]
SERVER_PICTURES = ["hubble_deep_field", "immunohistochemistry", "coins"]


def map_rows(tab, url: str, rounds: int) -> Rows:
    """Open /map warm, then click the map ``rounds`` times, left and right of the centre."""
    rows: Rows = {"open map": [], "map click": []}
    for _ in range(2):
        rows["open map"].append((open_page(tab, f"{url}/map"), 0, 0))
    tab.locator(MAP_FRAME).scroll_into_view_if_needed(timeout=120_000)
    leaflet = tab.frame_locator(MAP_FRAME).locator("#map_div.leaflet-container")
    leaflet.wait_for(timeout=120_000)
    for index in range(rounds):
        box = leaflet.bounding_box()
        dx = 60 if index % 2 else -60
        rows["map click"].append(painted(tab, lambda box=box, dx=dx: leaflet.click(
            position={"x": box["width"] / 2 + dx, "y": box["height"] / 2 + 30})))
    return rows


def _select(tab, label: str, option: str) -> Callable[[], None]:
    def act() -> None:
        tab.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
        tab.get_by_role("option").filter(has_text=re.compile(option, re.IGNORECASE)).first.click()
    return act


def gradcam_rows(tab, url: str, rounds: int) -> Rows:
    """Open /gradcam warm; new sample pictures; top-5 class buttons; the opacity slider and colour map."""
    rows: Rows = {"open gradcam": [], "gradcam picture": [], "gradcam class": [], "gradcam opacity": [],
                  "gradcam colour map": []}
    grids: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(2):
        rows["open gradcam"].append((open_page(tab, f"{url}/gradcam"), 0, 0))
    for name in PICTURES:
        rows["gradcam picture"].append(painted(tab, _select(tab, "Sample picture", name),
                                               grid=grids["gradcam picture"]))
    for index in range(4):  # every top-5 button but the top-1 once: each a new target
        buttons = tab.locator('[data-testid="stButton"] button:visible').filter(has_text="%")
        rows["gradcam class"].append(painted(tab, lambda i=index, b=buttons: b.nth(1 + i).click(),
                                             grid=grids["gradcam class"]))
    thumb = tab.locator('[data-testid="stSlider"]').filter(has_text="Heatmap opacity").get_by_role("slider").first
    for index in range(rounds):
        thumb.focus()
        rows["gradcam opacity"].append(painted(tab, lambda i=index: thumb.press(
            "ArrowRight" if i % 2 else "ArrowLeft"), grid=grids["gradcam opacity"]))
    for index in range(min(rounds, 4)):
        rows["gradcam colour map"].append(painted(tab, _select(tab, "Colour map", ["viridis", "jet"][index % 2]),
                                                  grid=grids["gradcam colour map"]))
    for name, seconds in grids.items():
        if seconds:
            rows[f"{name}: grid painted"] = [(s, 0, 0) for s in seconds]
    return rows


def map_click_server(viewer: StreamlitSession, rounds: int) -> list[RunResult]:
    viewer.load("map")
    return [viewer.set("Latitude", 48.0 + i / 10) for i in range(rounds)]


def gradcam_picture_server(viewer: StreamlitSession) -> list[RunResult]:
    viewer.load("gradcam")
    labels = {o.split(" — ")[0]: o for o in viewer.widget("Sample picture").options if o}
    return [viewer.set("Sample picture", labels[name]) for name in SERVER_PICTURES]


def gradcam_class_server(viewer: StreamlitSession) -> list[RunResult]:
    """Every top-5 button but the top-1 once (each a new target), on a picture the browser rows do not use."""
    viewer.load("gradcam")
    labels = {o.split(" — ")[0]: o for o in viewer.widget("Sample picture").options if o}
    viewer.set("Sample picture", labels[SERVER_PICTURES[-1]])
    results = []
    for index in range(4):
        button = [w.label for w in viewer.widgets.values() if w.kind == "button" and "%" in w.label][1 + index]
        results.append(viewer.set(button, True))
        viewer.widget_states.pop(viewer.widget(button).id)  # a click is one trigger
    return results


def gradcam_display_server(viewer: StreamlitSession, rounds: int) -> dict[str, list[RunResult]]:
    viewer.load("gradcam")
    return {"gradcam opacity": [viewer.set("Heatmap opacity", 0.45 + 0.05 * (i % 2)) for i in range(rounds)],
            "gradcam colour map": [viewer.set("Colour map", ["viridis", "jet"][i % 2]) for i in range(min(rounds, 4))]}


def service_times(url: str, rounds: int) -> dict[str, list[float]]:
    """The same reruns over the websocket, without painting."""
    with StreamlitSession(url, timeout_s=300) as viewer:
        runs = {"open map": [viewer.load("map") for _ in range(2)], "map click": map_click_server(viewer, rounds),
                "open gradcam": [viewer.load("gradcam") for _ in range(2)],
                "gradcam picture": gradcam_picture_server(viewer), "gradcam class": gradcam_class_server(viewer),
                **gradcam_display_server(viewer, rounds)}
    return {name: [run.seconds for run in results] for name, results in runs.items()}


def measure(browser, url: str, rounds: int) -> tuple[Rows, dict[str, list[float]]]:
    """Every row in one tab at 1440 x 1000, then the server times; a row group that fails is reported."""
    from playwright.sync_api import Error as PlaywrightError

    rows: Rows = {}
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.add_init_script(INIT)
    tab = context.new_page()
    for group in (map_rows, gradcam_rows):
        try:
            rows |= group(tab, url, rounds)
        except (PlaywrightError, TimeoutError) as error:
            print(f"({group.__name__}: {type(error).__name__}: {str(error).splitlines()[0]})", flush=True)
    context.close()
    return rows, service_times(url, rounds)


def table(title: str, rows: Rows, server: dict[str, list[float]]) -> str:
    lines = [f"\n{title}", "| what a person does | painted p50 / p95 (s) | server run p50 / p95 (s) | "
             "websocket KB | media KB | runs |", "|---|---|---|---|---|---|"]
    for name, samples in rows.items():
        ws = statistics.median(s[1] for s in samples) / 1000 if samples else 0
        media = statistics.median(s[2] for s in samples) / 1000 if samples else 0
        lines.append(f"| {name} | {median_p95([s[0] for s in samples])} | {median_p95(server.get(name, []))} | "
                     f"{ws:.0f} | {media:.0f} | {len(samples)} |")
    return "\n".join(lines)


@contextmanager
def launcher(root: str, port: int):
    """``python -m scripts.serve --replicas 1`` of the checkout at ``root`` on ``port``, once its warm-up finished."""
    import subprocess
    from pathlib import Path

    log = Path(root) / ".serve" / "replica-0.log"
    log.unlink(missing_ok=True)  # a finished warm-up of an earlier run is not this one's
    proc = subprocess.Popen([sys.executable, "-m", "scripts.serve", "--replicas", "1", "--port", str(port)], cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not (log.exists() and "warm-up finished" in log.read_text()):
            time.sleep(1)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=60)


def interleaved(browser, urls: dict[str, str], rounds: int) -> dict[str, Rows]:
    """The map click and the Grad-CAM changes on several servers, each action on every server in turn, so a busy
    machine slows them alike (the ratios are what to compare)."""
    tabs = {}
    for name, url in urls.items():
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        context.add_init_script(INIT)
        tabs[name] = context.new_page()
        open_page(tabs[name], f"{url}/map")
    rows: dict[str, Rows] = {name: {"map click": [], "gradcam picture: grid painted": [], "gradcam picture": [],
                                    "gradcam class: grid painted": [], "gradcam class": [], "gradcam opacity": []}
                             for name in urls}
    leaflets = {name: tab.frame_locator(MAP_FRAME).locator("#map_div.leaflet-container") for name, tab in tabs.items()}
    for leaflet in leaflets.values():
        leaflet.wait_for(timeout=120_000)
    for index in range(rounds):
        for name, tab in tabs.items():
            box = leaflets[name].bounding_box()
            spot = {"x": box["width"] / 2 + (60 if index % 2 else -60), "y": box["height"] / 2 + 30}
            rows[name]["map click"].append(painted(tab, lambda lf=leaflets[name], spot=spot: lf.click(position=spot)))
    for name, tab in tabs.items():
        open_page(tab, f"{urls[name]}/gradcam")
    for picture in PICTURES:
        for name, tab in tabs.items():
            grid: list[float] = []
            rows[name]["gradcam picture"].append(painted(tab, _select(tab, "Sample picture", picture), grid=grid))
            rows[name]["gradcam picture: grid painted"] += [(g, 0, 0) for g in grid]
    for index in range(4):
        for name, tab in tabs.items():
            grid = []
            buttons = tab.locator('[data-testid="stButton"] button:visible').filter(has_text="%")
            rows[name]["gradcam class"].append(painted(tab, lambda b=buttons, i=index: b.nth(1 + i).click(), grid=grid))
            rows[name]["gradcam class: grid painted"] += [(g, 0, 0) for g in grid]
    for index in range(rounds):
        for name, tab in tabs.items():
            thumb = tab.locator('[data-testid="stSlider"]').filter(has_text="Heatmap opacity").get_by_role("slider")
            thumb.first.focus()
            rows[name]["gradcam opacity"].append(painted(tab, lambda t=thumb.first, i=index: t.press(
                "ArrowRight" if i % 2 else "ArrowLeft")))
    return rows


def main() -> None:
    from playwright.sync_api import sync_playwright

    from scripts.serve import cluster
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    port = int(os.environ.get("BENCH_PORT", "8640"))
    print(f"load average before: {open('/proc/loadavg').read().strip()}", flush=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        if len(sys.argv) > 3 and sys.argv[2] == "ab":  # ab OTHER_CHECKOUT: interleaved, both via the launcher
            from pathlib import Path

            with launcher(str(Path(__file__).resolve().parent.parent), port) as this, \
                    launcher(sys.argv[3], port + 1) as other:
                report = interleaved(browser, {"this checkout": this, sys.argv[3]: other}, rounds)
            for name, rows in report.items():
                print(table(f"{name} (interleaved, launcher)", rows, {}), flush=True)
            print(f"load average after: {open('/proc/loadavg').read().strip()}", flush=True)
            return
        with streamlit_run(port) as url:
            print(table("streamlit run app.py", *measure(browser, url, rounds)), flush=True)
        if "launcher" in sys.argv[2:]:
            with cluster(1, port=port + 1) as running:
                deadline = time.monotonic() + 600
                while "warm-up finished" not in running.replicas[0].log.read_text() and time.monotonic() < deadline:
                    time.sleep(1)
                print(table("python -m scripts.serve --replicas 1", *measure(browser, running.url, rounds)),
                      flush=True)
        browser.close()
    print(f"load average after: {open('/proc/loadavg').read().strip()}", flush=True)


if __name__ == "__main__":
    main()
