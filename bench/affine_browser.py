"""The affine page in headless Chromium: slider -> painted time, and the bytes one rerun sends.

``python -m bench.affine_browser [rounds]`` starts ``streamlit run app.py``, opens /affine at 1440 x 1000, and
moves the last step slider (the rotation) one degree further with the keyboard, ``rounds`` times. For each move it
times key press -> the output picture's new source decoded and no script running, and counts the websocket
frames and /media/ bodies received in that window. Not part of ``python -m bench`` (it needs Chromium and a
server); the numbers go in the issue 17 closing note.
"""

from __future__ import annotations

import statistics
import sys
import time

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, serve_app, settle

OUTPUT = '[data-testid="stImage"] img'
#: Counts what the page receives: websocket message bytes, and /media/ bodies (resource timing).
COUNTERS = """
performance.setResourceTimingBufferSize(100000);
window.__wsBytes = 0;
const NativeSocket = window.WebSocket;
window.WebSocket = class extends NativeSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', (event) => {
      const data = event.data;
      window.__wsBytes += data.byteLength ?? data.size ?? data.length;
    });
  }
};
"""
RECEIVED = """() => ({websocket: window.__wsBytes, media: performance.getEntriesByType('resource')
  .filter(e => e.name.includes('/media/')).reduce((total, e) => total + e.encodedBodySize, 0)})"""


def _output_source(tab) -> str:
    return tab.eval_on_selector_all(OUTPUT, "els => els.map(e => e.currentSrc).join('|')")


def measure(rounds: int = 15) -> dict:
    from playwright.sync_api import sync_playwright

    with serve_app("affine_bench.log") as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1440, "height": 1000})
        tab.add_init_script(COUNTERS)
        tab.goto(f"{url}/affine")
        settle(tab)
        first_bytes = tab.evaluate(RECEIVED)
        thumb = tab.locator('[data-testid="stSlider"] input[type="range"]').last
        times, sizes, media_sizes = [], [], []
        for index in range(rounds):
            before = _output_source(tab)
            already = tab.evaluate(RECEIVED)
            thumb.focus()
            started = time.perf_counter()
            tab.keyboard.press("ArrowRight")  # always a new angle: Streamlit resends no message the tab has cached
            deadline = started + 30
            while time.perf_counter() < deadline:
                if _output_source(tab) != before and tab.locator('[data-testid="stStatusWidget"]').count() == 0:
                    done = tab.eval_on_selector_all(OUTPUT, "els => els.every(e => e.complete)")
                    if done:
                        break
                time.sleep(0.01)
            times.append((time.perf_counter() - started) * 1000)
            time.sleep(1.0)  # let the rerun's late frames arrive before counting them
            now = tab.evaluate(RECEIVED)
            sizes.append(now["websocket"] - already["websocket"])
            media_sizes.append(now["media"] - already["media"])
        browser.close()
    times.sort()
    return {
        "first_load_bytes": first_bytes,
        "p50_ms": statistics.median(times),
        "p95_ms": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
        "websocket_bytes_per_rerun_median": statistics.median(sizes),
        "media_bytes_per_rerun_median": statistics.median(media_sizes),
        "times_ms": [round(t) for t in times],
    }


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    result = measure(rounds)
    for name, value in result.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
